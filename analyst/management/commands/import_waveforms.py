from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analyst.ingest.each_file import files_import_each
from analyst.ingest.services import rescoring_collected, waveforms_ingest_file
from fileimport.errors import ImportFileError
from waveforms.importing.paths import import_paths_expand
from waveforms.importing.reading import WAVEFORM_FORMATS
from waveforms.importing.waveform_files import sds_archive_register


class Command(BaseCommand):
    help = (
        "Register waveform files (MiniSEED, SAC and every format ObsPy reads; folders are walked recursively) "
        "and SDS archive roots. Trace headers are stored; samples are read from the files on demand."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="*", type=Path)
        parser.add_argument("--sds", action="append", type=Path, default=[], metavar="ROOT", help="an SDS archive root")
        parser.add_argument("--format", choices=[f.lower() for f in WAVEFORM_FORMATS], type=str.lower)
        parser.add_argument("--force", action="store_true", help="re-read files even when size and mtime match")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["paths"] and not options["sds"]:
            raise CommandError("give waveform files or folders, or --sds ROOT")
        failures: list[ImportFileError] = []
        for root in options["sds"]:
            try:
                self.stdout.write(sds_archive_register(root=root).summary())
            except ImportFileError as error:
                failures.append(error)
                self.stderr.write(f"FAILED {error}")
        files = list(import_paths_expand(paths=options["paths"]))
        with rescoring_collected():
            failures += files_import_each(
                paths=files,
                import_one=lambda path: [
                    waveforms_ingest_file(path=path, format=options["format"], force=options["force"]).summary()
                ],
                write=self.stdout.write,
                write_error=self.stderr.write,
            )
        if failures:
            total = len(files) + len(options["sds"])
            raise CommandError(f"{len(failures)} of {total} sources failed; nothing was written from them")
