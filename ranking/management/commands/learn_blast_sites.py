import datetime as dt
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ranking.blast_sites import blast_sites_learn
from ranking.management.commands.train import utc_date
from ranking.models import BlastSite


class Command(BaseCommand):
    help = (
        "Learn blast sites from the reviewed explosions (density clustering of their epicentres); with --split, "
        "measure instead on the PNSN catalogue: sites from the explosions before the date, the share of the next "
        "year's explosions and earthquakes inside one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--until", type=utc_date, help="learn from the explosions before this UTC date")
        parser.add_argument("--split", type=utc_date, help="measure on the PNSN catalogue with this split date")
        parser.add_argument("--data", type=Path, help="the shared data folder (default SEISTRIAGE_SHARED_DATA)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["split"] is not None:
            self._measure(options["split"], options["data"] or Path(settings.SHARED_DATA_DIR))
            return
        count = blast_sites_learn(until=options["until"])
        self.stdout.write(f"{count} blast sites learned")
        for site in BlastSite.objects.order_by("number")[:20]:
            hours = site.hour_counts
            self.stdout.write(
                f"  site {site.number}{f' ({site.name})' if site.name else ''}: {site.blast_count} blasts, "
                f"{site.latitude:.4f} {site.longitude:.4f}, spread {site.spread_km:.2f} km, radius "
                f"{site.radius_km:.2f} km, busiest UTC hour {max(range(24), key=lambda h: hours[h])}, last "
                f"{site.last_blast:%Y-%m-%d}"
            )

    def _measure(self, split: dt.datetime, folder: Path) -> None:
        from ranking.ml.sites_measure import pnsn_sites_time_split

        try:
            result = pnsn_sites_time_split(folder, split=split)
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"PNSN catalogue: {result['sites']} sites learned from {result['learned_from_explosions']} explosions "
            f"before {split:%Y-%m-%d}; in the year after: {result['explosions_inside']:.1%} of "
            f"{result['test_explosions']} explosions and {result['earthquakes_inside']:.1%} of "
            f"{result['test_earthquakes']} earthquakes lie inside a site (targets >= 90 % and < 5 %)"
        )
