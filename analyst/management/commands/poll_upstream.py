from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analyst.ingest.upstream import fdsn_source_poll, fdsn_sources_poll_due
from analyst.models import FdsnSource


class Command(BaseCommand):
    help = "Poll upstream FDSN event services: the named sources now, or (--due) those whose interval has elapsed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", help="FdsnSource names (default: every enabled source)")
        parser.add_argument("--due", action="store_true", help="only sources whose poll interval has elapsed")
        parser.add_argument("--add", metavar="URL", help="first create the source NAME with this service root")
        parser.add_argument("--interval", type=int, default=300, help="with --add: seconds between polls")

    def handle(self, *args: Any, **options: Any) -> None:
        names: list[str] = options["names"]
        if options["add"]:
            if len(names) != 1:
                raise CommandError("--add URL needs exactly one source name")
            FdsnSource.objects.update_or_create(
                name=names[0], defaults={"base_url": options["add"], "poll_interval_seconds": options["interval"]}
            )
        if options["due"]:
            reports = fdsn_sources_poll_due()
        else:
            sources = FdsnSource.objects.filter(enabled=True).order_by("name")
            if names:
                sources = FdsnSource.objects.filter(name__in=names).order_by("name")
                missing = set(names) - {s.name for s in sources}
                if missing:
                    raise CommandError(f"no upstream source named {', '.join(sorted(missing))}")
            reports = [fdsn_source_poll(source=source) for source in sources]
        for report in reports:
            self.stdout.write(report.summary())
        failed = [r for r in reports if r.error]
        if failed:
            raise CommandError(f"{len(failed)} of {len(reports)} sources failed")
