from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from fileimport.errors import ImportFileError
from ranking.synthetic_false import SOURCES, mis_association_build, synthetic_false_build


class Command(BaseCommand):
    help = (
        "Build false-class training events (provenance synthetic_false) from quiet intervals of real records: "
        "pre-event noise of the PNW and ESEC records, the first 27 s of the PhaseNet windows, ObsPy's BW.UH* "
        "records away from their triggers; with --mis-associations, real picks of different real earthquakes "
        "combined into one origin. Never used for evaluation (docs/false_events.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", type=Path, help="the shared data folder (default SEISTRIAGE_SHARED_DATA)")
        parser.add_argument("--source", action="append", choices=SOURCES, help="only these sources (repeatable)")
        parser.add_argument("--limit", type=int, help="at most this many false events per source")
        parser.add_argument("--skip", type=int, default=0, help="leave out the first N quiet intervals per source")
        parser.add_argument(
            "--mis-associations",
            type=int,
            default=0,
            metavar="N",
            help="also build N mis-associations: real picks of 2-3 different real earthquakes (ObsPy's Nordic "
            "bulletin) shifted into one window and located as one TauP iasp91 origin",
        )
        parser.add_argument(
            "--unlabelled",
            action="store_true",
            help="store them as new automatic events without a label (demonstrations), not as training material",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        shared = options["data"] or Path(settings.SHARED_DATA_DIR)
        if not shared.is_dir():
            raise CommandError(f"{shared}: no such folder (set SEISTRIAGE_SHARED_DATA or --data)")
        if (options["limit"] is not None and options["limit"] < 0) or options["skip"] < 0:
            raise CommandError("--limit and --skip must be >= 0")
        if options["mis_associations"] < 0:
            raise CommandError("--mis-associations must be >= 0")
        try:
            report = synthetic_false_build(
                shared=shared,
                out_dir=Path(settings.DATA_DIR) / "synthetic_false",
                sources=tuple(options["source"] or SOURCES),
                limit=options["limit"],
                skip=options["skip"],
                labelled=not options["unlabelled"],
            )
            if options["mis_associations"]:
                mixed = mis_association_build(count=options["mis_associations"], labelled=not options["unlabelled"])
                report.created.update(mixed.created)
                report.existing += mixed.existing
        except (OSError, ImportFileError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(report.summary())
