"""Uploads from the import page: files checked, saved under DATA_DIR/uploads, imported by a Celery worker.

An upload is a job: its files are all checked first (kind, size, type), and a bad one refuses the whole
upload before anything is written. The accepted files are saved under DATA_DIR/uploads/<job id>/ and
one background task imports them in turn with the ordinary importers (one transaction per file), writing
each file's outcome to the job record as it goes: the page polls it for the progress bar and the report.
The job record lives in the Django cache (shared by web and worker processes, no migration); it is kept
for JOB_SECONDS.
"""

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from analyst.ingest.services import events_ingest_file, stations_ingest_file, waveforms_ingest_file
from analyst.tasks import import_uploaded_files
from fileimport.errors import ImportFileError
from waveforms.importing.reading import detect_waveform_format

JOB_KEY = "seistriage:import-job:{job_id}"
JOB_SECONDS = 7 * 86400
UPLOAD_KINDS = ("events", "stations", "waveforms")
# File name endings each kind accepts (after an optional .gz); the importer then reads the content.
ALLOWED_SUFFIXES: dict[str, tuple[str, ...]] = {
    "events": (
        ".xml",
        ".quakeml",
        ".qml",
        ".sc3ml",
        ".scml",
        ".txt",
        ".isf",
        ".ims",
        ".out",
        ".nordic",
        ".hyp",
        ".csv",
        ".nll",
        ".obs",
        ".json",
    ),
    "stations": (".xml", ".stationxml", ".seed", ".dataless", ".resp", ".txt", ".sc3ml"),
    "waveforms": (
        ".mseed",
        ".miniseed",
        ".ms",
        ".sac",
        ".gse",
        ".gse2",
        ".seg2",
        ".dat",
        ".sgy",
        ".segy",
        ".wav",
        ".ah",
        ".knet",
        ".tsp",
        ".q",
        ".css",
        ".sh",
        ".rg16",
        ".bin",
    ),
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class UploadError(ValueError):
    """An upload refused before anything was written; the message names the file and the reason."""


@dataclass(frozen=True)
class UploadedPart:
    kind: str
    upload: UploadedFile


def _name(upload: UploadedFile) -> str:
    return Path(upload.name or "upload").name


def _suffix(name: str) -> str:
    lowered = name.lower().removesuffix(".gz")
    return Path(lowered).suffix


def _looks_binary(head: bytes) -> bool:
    return b"\x00" in head


def _check(part: UploadedPart) -> None:
    name = _name(part.upload)
    if part.kind not in UPLOAD_KINDS:
        raise UploadError(f"{name}: unknown kind {part.kind!r}; choose {', '.join(UPLOAD_KINDS)}")
    limit = settings.SEISTRIAGE_MAX_UPLOAD_BYTES
    if part.upload.size is None or part.upload.size == 0:
        raise UploadError(f"{name}: the file is empty")
    if part.upload.size > limit:
        raise UploadError(f"{name}: {part.upload.size:,} bytes is over the upload limit of {limit:,} bytes")
    if _suffix(name) not in ALLOWED_SUFFIXES[part.kind]:
        raise UploadError(
            f"{name}: a {part.kind} file must end in one of {', '.join(ALLOWED_SUFFIXES[part.kind])} (optionally .gz)"
        )
    part.upload.seek(0)
    head = part.upload.read(4096)
    part.upload.seek(0)
    gzipped = head[:2] == b"\x1f\x8b"
    if part.kind != "waveforms" and not gzipped and _looks_binary(head) and _suffix(name) not in (".seed", ".dataless"):
        raise UploadError(f"{name}: binary content, but {part.kind} files are text (QuakeML, StationXML, CSV, ...)")


def _save(part: UploadedPart, folder: Path, index: int) -> Path:
    name = _SAFE_NAME.sub("_", _name(part.upload)).lstrip(".") or "upload"
    path = folder / f"{index:03d}-{name}"
    with path.open("wb") as handle:
        for chunk in part.upload.chunks():
            handle.write(chunk)
    return path


def _job_key(job_id: str) -> str:
    return JOB_KEY.format(job_id=job_id)


def _job_save(job: dict[str, Any]) -> None:
    job["updated_at"] = timezone.now().isoformat()
    cache.set(_job_key(job["id"]), job, timeout=JOB_SECONDS)


def import_job_get(*, job_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = cache.get(_job_key(job_id))
    return found


def import_job_create(*, user: User, parts: list[UploadedPart], reviewed: bool = False) -> dict[str, Any]:
    """Check every file, save them, record the job and queue its import (after the request's transaction)."""
    if not parts:
        raise UploadError("no files: choose event, station or waveform files to upload")
    for part in parts:
        _check(part)
    job_id = uuid.uuid4().hex
    folder = Path(settings.DATA_DIR) / "uploads" / job_id
    folder.mkdir(parents=True, exist_ok=False)
    files = []
    for index, part in enumerate(parts, start=1):
        path = _save(part, folder, index)
        if part.kind == "waveforms":
            try:
                recognised = detect_waveform_format(path) is not None
            except ImportFileError as error:
                recognised, reason = False, error.reason
            else:
                reason = "no ObsPy waveform reader recognises it"
            if not recognised:
                for saved in folder.iterdir():
                    saved.unlink()
                folder.rmdir()
                raise UploadError(f"{_name(part.upload)}: not a waveform file ({reason})")
        files.append(
            {
                "name": _name(part.upload),
                "kind": part.kind,
                "path": str(path),
                "size": part.upload.size,
                "status": "waiting",
                "summary": "",
                "created": 0,
                "updated": 0,
                "skipped": 0,
                "error": "",
            }
        )
    job = {
        "id": job_id,
        "user": user.get_username(),
        "state": "queued",
        "reviewed": reviewed,
        "files": files,
        "done": 0,
        "total": len(files),
        "created_at": timezone.now().isoformat(),
    }
    _job_save(job)
    transaction.on_commit(lambda: import_uploaded_files.delay(job_id))
    return job


def _import_one(entry: dict[str, Any], reviewed: bool) -> None:
    path = Path(entry["path"])
    if entry["kind"] == "events":
        events = events_ingest_file(path=path, reviewed=reviewed)
        entry.update(
            created=events.events_created,
            updated=events.events_updated,
            skipped=events.events_skipped,
            summary=events.summary(),
            skipped_reasons=events.notes()[:20],
        )
    elif entry["kind"] == "stations":
        stations = stations_ingest_file(path=path)
        channels = stations.channels_created + stations.channels_updated
        entry.update(
            created=stations.stations_created,
            updated=stations.stations_updated,
            skipped=0,
            summary=stations.summary(),
            channels=channels,
        )
    else:
        waveforms = waveforms_ingest_file(path=path)
        entry.update(
            created=int(waveforms.status == "registered"),
            updated=int(waveforms.status == "re-read"),
            skipped=int(waveforms.status == "unchanged"),
            summary=waveforms.summary(),
        )


def import_job_run(*, job_id: str) -> dict[str, Any]:
    """Import a job's files in turn, recording each outcome; a bad file is reported and the next one goes on.

    Running a job again imports its files again, which updates rather than duplicates (the importers match)."""
    job = import_job_get(job_id=job_id)
    if job is None:
        return {"id": job_id, "state": "missing"}
    job["state"] = "running"
    job["done"] = 0
    _job_save(job)
    started = dt.datetime.now(dt.UTC)
    for entry in job["files"]:
        entry["status"] = "running"
        _job_save(job)
        try:
            _import_one(entry, bool(job.get("reviewed")))
            entry["status"] = "done"
        except ImportFileError as error:
            entry.update(status="failed", error=f"{entry['name']}: {error.reason}")
        except Exception as error:
            entry.update(status="failed", error=f"{entry['name']}: {type(error).__name__}: {error}")
        job["done"] += 1
        _job_save(job)
    job["state"] = "failed" if all(e["status"] == "failed" for e in job["files"]) else "done"
    job["seconds"] = round((dt.datetime.now(dt.UTC) - started).total_seconds(), 2)
    _job_save(job)
    return {"id": job_id, "state": job["state"], "done": job["done"]}
