import datetime as dt
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from obspy import UTCDateTime

from analyst.bulletins.services import (
    STATUS_CHOICES,
    BulletinInputError,
    bulletin_criteria,
    bulletin_publish,
    bulletin_write,
)
from analyst.bulletins.writers import BULLETIN_FORMATS
from events.vocabulary import QUAKEML_EVENT_TYPES


def _time(value: str) -> dt.datetime:
    try:
        return UTCDateTime(value).datetime.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
    except (ValueError, TypeError):
        raise CommandError(f"not a time: {value!r} (use ISO 8601, e.g. 2024-01-01T00:00:00)") from None


class Command(BaseCommand):
    help = "Export events of a time window as a bulletin (QuakeML, SC3ML, IMS1.0, ComCat CSV, GeoJSON, KML)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--start", required=True, help="origin time from (UTC, inclusive)")
        parser.add_argument("--end", required=True, help="origin time until (UTC, inclusive)")
        parser.add_argument("--format", required=True, choices=BULLETIN_FORMATS, type=str.lower)
        parser.add_argument(
            "--status",
            choices=tuple(STATUS_CHOICES),
            default="accepted",
            help="accepted (default) or all: also unreviewed and rejected events",
        )
        parser.add_argument("--event-type", action="append", default=[], choices=QUAKEML_EVENT_TYPES)
        parser.add_argument("--min-magnitude", type=float)
        parser.add_argument("--max-magnitude", type=float)
        parser.add_argument("--box", help="min_lat,max_lat,min_lon,max_lon (degrees)")
        parser.add_argument("-o", "--output", type=Path, help="write here (no record kept)")
        parser.add_argument(
            "--publish-as",
            metavar="USERNAME",
            help="record the bulletin under DATA_DIR/bulletins as published by this user",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["output"] is None and options["publish_as"] is None:
            raise CommandError("give -o FILE, or --publish-as USERNAME to keep a recorded copy")
        filters: dict[str, Any] = {
            "event_types": tuple(options["event_type"]),
            "min_magnitude": options["min_magnitude"],
            "max_magnitude": options["max_magnitude"],
        }
        if options["box"]:
            try:
                min_lat, max_lat, min_lon, max_lon = (float(v) for v in options["box"].split(","))
            except ValueError:
                raise CommandError(
                    f"--box: four numbers min_lat,max_lat,min_lon,max_lon, got {options['box']!r}"
                ) from None
            filters.update(min_latitude=min_lat, max_latitude=max_lat, min_longitude=min_lon, max_longitude=max_lon)
        try:
            criteria = bulletin_criteria(
                start=_time(options["start"]), end=_time(options["end"]), status=options["status"], **filters
            )
            if options["publish_as"]:
                user = User.objects.filter(username=options["publish_as"]).first()
                if user is None:
                    raise CommandError(f"--publish-as: no user {options['publish_as']!r}")
                bulletin = bulletin_publish(
                    user=user, format=options["format"], criteria=criteria, status=options["status"], published=True
                )
                self.stdout.write(f"published {bulletin} sha256 {bulletin.sha256}")
                if options["output"] is None:
                    return
            output: Path = options["output"]
            partial = output.with_name(output.name + ".partial")
            with partial.open("wb") as handle:
                count = bulletin_write(
                    out=handle, format=options["format"], criteria=criteria, status=options["status"], author=""
                )
            partial.rename(output)
        except BulletinInputError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"wrote {count} events to {output} ({options['format']})")
