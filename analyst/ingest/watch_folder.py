"""Continuous intake: new or changed files in the watched folder are imported by the ordinary services.

Celery beat runs ``watch_folder_scan`` every SEISTRIAGE_WATCH_SECONDS when SEISTRIAGE_WATCH_DIR is set.
Each file's kind is found by sniffing, then trying readers in order: a file a safe ObsPy waveform
reader recognises (MiniSEED, SAC, ... gzip included) is waveforms; otherwise the event importer is
tried (QuakeML, SC3ML, IMS1.0, Nordic, ComCat CSV, ...), then the station importer (StationXML,
dataless SEED, RESP, ...). Every file is recorded in IntakeFile with its size and mtime: imported or
failed with every reader's reason. A recorded file is not read again until its size or mtime changes,
so a bad file is reported once, not retried every scan. Files modified in the last SETTLE_SECONDS are
left for the next scan (they may still be being written). Imported events are scored on commit, like
every import; new waveforms send the unreviewed events they cover back to be measured and scored.
"""

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from analyst.ingest.services import events_ingest_file, rescoring_collected, stations_ingest_file, waveforms_ingest_file
from analyst.models import IntakeFile
from fileimport.errors import ImportFileError
from waveforms.importing.paths import import_paths_expand
from waveforms.importing.reading import detect_waveform_format

logger = logging.getLogger(__name__)

SETTLE_SECONDS = 1.0


@dataclass
class IntakeReport:
    imported: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"imported": len(self.imported), "failed": len(self.failed), "unchanged": self.unchanged}


def intake_file_import(*, path: Path) -> tuple[str, str]:
    """Import one file as whatever it is; returns (kind, error), error empty on success."""
    try:
        is_waveform = detect_waveform_format(path) is not None
    except ImportFileError as error:
        return IntakeFile.Kind.WAVEFORMS, str(error)
    if is_waveform:
        try:
            waveforms_ingest_file(path=path)
        except ImportFileError as error:
            return IntakeFile.Kind.WAVEFORMS, str(error)
        return IntakeFile.Kind.WAVEFORMS, ""
    reasons: list[str] = []
    try:
        events_ingest_file(path=path)
        return IntakeFile.Kind.EVENTS, ""
    except ImportFileError as error:
        reasons.append(f"as events: {error.reason}")
    try:
        stations_ingest_file(path=path)
        return IntakeFile.Kind.STATIONS, ""
    except ImportFileError as error:
        reasons.append(f"as station metadata: {error.reason}")
    reasons.append("as waveforms: not a waveform format ObsPy reads")
    return IntakeFile.Kind.UNKNOWN, f"{path}: " + "; ".join(reasons)


def watch_folder_scan(*, folder: Path | None = None) -> IntakeReport:
    """Import the files of the watched folder that are new or changed since they were last recorded."""
    configured = settings.SEISTRIAGE_WATCH_DIR
    root = folder if folder is not None else (Path(configured) if configured else None)
    report = IntakeReport()
    if root is None or not root.is_dir():
        if root is not None:
            logger.warning("the watched folder %s does not exist", root)
        return report
    known = {row.path: row for row in IntakeFile.objects.filter(path__startswith=str(root.absolute()))}
    with rescoring_collected():  # the events new waveforms cover are rescored once, at the end
        for path in import_paths_expand(paths=[root.absolute()]):
            try:
                stat = path.stat()
            except OSError:
                continue  # removed between listing and reading
            if time.time() - stat.st_mtime < SETTLE_SECONDS:
                continue
            row = known.get(str(path))
            if row is not None and row.size_bytes == stat.st_size and row.modified_ns == stat.st_mtime_ns:
                report.unchanged += 1
                continue
            kind, error = intake_file_import(path=path)
            IntakeFile.objects.update_or_create(
                path=str(path),
                defaults={
                    "size_bytes": stat.st_size,
                    "modified_ns": stat.st_mtime_ns,
                    "kind": kind,
                    "status": IntakeFile.Status.FAILED if error else IntakeFile.Status.IMPORTED,
                    "error": error,
                    "imported_at": dt.datetime.now(dt.UTC),
                },
            )
            (report.failed if error else report.imported).append(str(path))
            if error:
                logger.warning("intake: %s", error)
    return report
