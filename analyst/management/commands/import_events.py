from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analyst.ingest.each_file import files_import_each
from analyst.ingest.services import events_ingest_file, rescoring_collected
from events.importers.reading import EVENT_FORMATS


class Command(BaseCommand):
    help = "Import event files (QuakeML, SC3ML, IMS1.0, Nordic, ..., ComCat/PNSN CSV), one transaction per file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--format", choices=[f.lower() for f in EVENT_FORMATS], type=str.lower)
        parser.add_argument(
            "--reviewed", action="store_true", help="record the event types in the files as analyst decisions"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        paths: list[Path] = options["paths"]

        def import_one(path: Path) -> list[str]:
            report = events_ingest_file(path=path, format=options["format"], reviewed=options["reviewed"])
            return [report.summary(), *report.notes()]

        with rescoring_collected():  # many files: their events go to scoring together, in full batches
            failures = files_import_each(
                paths=paths, import_one=import_one, write=self.stdout.write, write_error=self.stderr.write
            )
        if failures:
            raise CommandError(f"{len(failures)} of {len(paths)} files failed; nothing was written from them")
