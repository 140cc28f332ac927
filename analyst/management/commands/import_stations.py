from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analyst.ingest.each_file import files_import_each
from analyst.ingest.services import stations_ingest_file
from waveforms.importing.paths import import_paths_expand
from waveforms.importing.reading import INVENTORY_FORMATS


class Command(BaseCommand):
    help = "Import station metadata (StationXML, SC3ML, dataless SEED, RESP, ...), one transaction per file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="files, or folders to walk recursively")
        parser.add_argument("--format", choices=[f.lower() for f in (*INVENTORY_FORMATS, "SC3ML")], type=str.lower)

    def handle(self, *args: Any, **options: Any) -> None:
        paths = list(import_paths_expand(paths=options["paths"]))
        failures = files_import_each(
            paths=paths,
            import_one=lambda path: [stations_ingest_file(path=path, format=options["format"]).summary()],
            write=self.stdout.write,
            write_error=self.stderr.write,
        )
        if failures:
            raise CommandError(f"{len(failures)} of {len(paths)} files failed; nothing was written from them")
