from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from waveforms.errors import ImportFileError
from waveforms.importing.paths import import_paths_expand
from waveforms.importing.reading import INVENTORY_FORMATS
from waveforms.importing.stations import stations_import_file


class Command(BaseCommand):
    help = "Import station metadata (StationXML, SC3ML, dataless SEED, RESP, ...), one transaction per file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="files, or folders to walk recursively")
        parser.add_argument("--format", choices=[f.lower() for f in (*INVENTORY_FORMATS, "SC3ML")], type=str.lower)

    def handle(self, *args: Any, **options: Any) -> None:
        failures: list[ImportFileError] = []
        paths = list(import_paths_expand(paths=options["paths"]))
        for number, path in enumerate(paths, start=1):
            try:
                report = stations_import_file(path=path, format=options["format"])
            except ImportFileError as error:
                failures.append(error)
                self.stderr.write(f"[{number}/{len(paths)}] FAILED {error}")
                continue
            self.stdout.write(f"[{number}/{len(paths)}] {report.summary()}")
        if failures:
            raise CommandError(f"{len(failures)} of {len(paths)} files failed; nothing was written from them")
