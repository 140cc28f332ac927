from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analyst.importers.errors import ImportFileError
from analyst.importers.events import events_import_file
from analyst.importers.reading import EVENT_FORMATS


class Command(BaseCommand):
    help = "Import event files (QuakeML, SC3ML, IMS1.0, Nordic, ..., ComCat/PNSN CSV), one transaction per file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--format", choices=[f.lower() for f in EVENT_FORMATS], type=str.lower)
        parser.add_argument(
            "--reviewed", action="store_true", help="record the event types in the files as analyst decisions"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        failures: list[ImportFileError] = []
        paths: list[Path] = options["paths"]
        for number, path in enumerate(paths, start=1):
            try:
                report = events_import_file(path=path, format=options["format"], reviewed=options["reviewed"])
            except ImportFileError as error:
                failures.append(error)
                self.stderr.write(f"[{number}/{len(paths)}] FAILED {error}")
                continue
            self.stdout.write(f"[{number}/{len(paths)}] {report.summary()}")
            for reason in report.skipped_reasons:
                self.stdout.write(f"    skipped {reason}")
        if failures:
            raise CommandError(f"{len(failures)} of {len(paths)} files failed; nothing was written from them")
