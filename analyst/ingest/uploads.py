"""Uploads from the import page: files checked, saved under DATA_DIR/uploads, imported by a Celery worker.

An upload is a job: its files are all checked first (kind, size, type), and a bad one refuses the whole
upload before anything is written. The accepted files are saved under DATA_DIR/uploads/<job id>/ and
one background task imports them in turn with the ordinary importers (one transaction per file), writing
each file's outcome to the job record as it goes: the page polls it for the progress bar and the report.
The job record is an ImportJob row (the database outlives a broker restart); its file paths are relative to
DATA_DIR/uploads, so no answer shows a server path.
"""

import contextlib
import datetime as dt
import logging
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NotRequired, TypedDict

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from analyst.ingest.services import events_ingest_file, rescoring_collected, stations_ingest_file, waveforms_ingest_file
from analyst.models import ImportJob
from analyst.tasks import IMPORT_TIME_LIMIT_S, TRANSIENT_ERRORS, import_uploaded_files
from fileimport.errors import ImportFileError
from waveforms.importing.reading import detect_waveform_format


class ImportFileData(TypedDict):
    name: str
    kind: Annotated[str, "events, stations or waveforms"]
    path: Annotated[str, "where the upload was saved, relative to the upload folder"]
    size: Annotated[int, "bytes"]
    status: Annotated[str, "waiting, running, done or failed"]
    summary: str
    created: int
    updated: int
    skipped: int
    error: Annotated[str, "the file and the reason when it failed; empty otherwise"]
    skipped_reasons: NotRequired[Annotated[list[str], "why events were skipped (the first 20)"]]
    channels: NotRequired[Annotated[int, "channels created or updated (station files)"]]


class ImportJobData(TypedDict):
    id: str
    user: str
    state: Annotated[str, "queued, running, done or failed"]
    reviewed: bool
    files: list[ImportFileData]
    done: Annotated[int, "files finished so far"]
    total: int
    created_at: Annotated[str, "date-time"]
    updated_at: Annotated[str, "date-time"]
    seconds: NotRequired[Annotated[float, "import time, once finished"]]


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
logger = logging.getLogger(__name__)
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


SAVED_NAME_MAX = 200  # characters (ASCII after _SAFE_NAME) of a saved file's name, under NAME_MAX with the prefix


def _save(part: UploadedPart, folder: Path, index: int) -> Path:
    name = _SAFE_NAME.sub("_", _name(part.upload)).lstrip(".") or "upload"
    if len(name) > SAVED_NAME_MAX:  # keep the ending the importers go by (".xml", ".mseed.gz")
        ending = "".join(Path(name).suffixes[-2 if name.lower().endswith(".gz") else -1 :])[-20:]
        name = name[: SAVED_NAME_MAX - len(ending)] + ending
    path = folder / f"{index:03d}-{name}"
    with path.open("wb") as handle:
        for chunk in part.upload.chunks():
            handle.write(chunk)
    return path


def _save_checked(part: UploadedPart, folder: Path, index: int) -> ImportFileData:
    try:
        path = _save(part, folder, index)
    except OSError as error:  # the caller removes the job folder: nothing of a refused upload stays behind
        raise UploadError(f"{_name(part.upload)}: could not be saved ({error.strerror or error})") from None
    if part.kind == "waveforms":
        try:
            recognised = detect_waveform_format(path) is not None
        except ImportFileError as error:
            recognised, reason = False, error.reason
        else:
            reason = "no ObsPy waveform reader recognises it"
        if not recognised:
            raise UploadError(f"{_name(part.upload)}: not a waveform file ({reason})")
    return {
        "name": _name(part.upload),
        "kind": part.kind,
        "path": str(path.relative_to(upload_folder())),
        "size": part.upload.size or 0,
        "status": "waiting",
        "summary": "",
        "created": 0,
        "updated": 0,
        "skipped": 0,
        "error": "",
    }


def upload_folder() -> Path:
    return Path(settings.DATA_DIR) / "uploads"


def _as_dict(job: ImportJob) -> ImportJobData:
    """The job as the API and the import page know it."""
    shown: ImportJobData = {
        "id": job.id,
        "user": job.username,
        "state": job.state,
        "reviewed": job.reviewed,
        "files": job.files,
        "done": job.done,
        "total": job.total,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
    }
    if job.seconds is not None:
        shown["seconds"] = job.seconds
    return shown


def _job_save(job: ImportJob, *fields: str) -> None:
    job.updated_at = timezone.now()
    job.save(update_fields=[*fields, "updated_at"])


def import_job_get(*, job_id: str) -> ImportJobData | None:
    if not (job_id.isascii() and job_id.isalnum()):  # ids are hex; a NUL would be a database error, not a 404
        return None
    job = ImportJob.objects.filter(pk=job_id).first()
    return None if job is None else _as_dict(job)


def import_job_create(*, user: User, parts: list[UploadedPart], reviewed: bool = False) -> ImportJobData:
    """Check every file, save them, record the job and queue its import (after the request's transaction)."""
    if not parts:
        raise UploadError("no files: choose event, station or waveform files to upload")
    for part in parts:
        _check(part)
    job_id = uuid.uuid4().hex
    folder = upload_folder() / job_id
    folder.mkdir(parents=True, exist_ok=False)
    try:
        files = [_save_checked(part, folder, index) for index, part in enumerate(parts, start=1)]
        job = ImportJob.objects.create(
            id=job_id, user=user, username=user.get_username(), reviewed=reviewed, files=files, total=len(files)
        )
    except BaseException:
        # A refused or failed upload leaves nothing behind: no folder without its job (the files can be gigabytes).
        shutil.rmtree(folder, ignore_errors=True)
        raise
    transaction.on_commit(lambda: import_uploaded_files.delay(job_id))
    return _as_dict(job)


def _import_one(entry: ImportFileData, reviewed: bool) -> None:
    path = upload_folder() / entry["path"]
    if entry["kind"] == "events":
        events = events_ingest_file(path=path, reviewed=reviewed)
        entry.update(
            {
                "created": events.events_created,
                "updated": events.events_updated,
                "skipped": events.events_skipped,
                "summary": events.summary(),
                "skipped_reasons": events.notes()[:20],
            }
        )
    elif entry["kind"] == "stations":
        stations = stations_ingest_file(path=path)
        channels = stations.channels_created + stations.channels_updated
        entry.update(
            {
                "created": stations.stations_created,
                "updated": stations.stations_updated,
                "skipped": 0,
                "summary": stations.summary(),
                "channels": channels,
            }
        )
    else:
        waveforms = waveforms_ingest_file(path=path)
        entry.update(
            {
                "created": int(waveforms.status == "registered"),
                "updated": int(waveforms.status == "re-read"),
                "skipped": int(waveforms.status == "unchanged"),
                "summary": waveforms.summary(),
            }
        )
    # The reports name the file by its path on the server: the job shows the uploaded name instead.
    entry["summary"] = entry["summary"].replace(str(path), entry["name"])
    if "skipped_reasons" in entry:
        entry["skipped_reasons"] = [reason.replace(str(path), entry["name"]) for reason in entry["skipped_reasons"]]


def _claim(job_id: str, task_id: str) -> ImportJob | None:
    """Take the job for this task with a conditional UPDATE: a queued job, one this task already holds (a retry
    or a redelivery keeps the task id), or a running one whose task has been silent past the task's time limit
    (it is dead). A second message for a job another task is importing finds nothing to take."""
    now = timezone.now()
    dead = now - dt.timedelta(seconds=IMPORT_TIME_LIMIT_S)
    takeable = (
        Q(state=ImportJob.State.QUEUED)
        | Q(state=ImportJob.State.RUNNING, task_id=task_id)
        | Q(state=ImportJob.State.RUNNING, updated_at__lt=dead)
    )
    taken = ImportJob.objects.filter(takeable, pk=job_id).update(
        state=ImportJob.State.RUNNING, task_id=task_id, updated_at=now, attempts=F("attempts") + 1
    )
    return ImportJob.objects.get(pk=job_id) if taken else None


def import_job_run(*, job_id: str, task_id: str = "") -> dict[str, Any]:
    """Import a job's unfinished files in turn, recording each outcome; a bad file is reported and the next one
    goes on.

    A file the importer refuses is marked failed; a database or broker error is not the file's fault: it
    propagates (the task retries with back-off) and the file stays unfinished, to be imported again. Importing
    a file again updates rather than duplicates (the importers match existing events), so resuming is safe."""
    job = _claim(job_id, task_id)
    if job is None:
        found = ImportJob.objects.filter(pk=job_id).values_list("state", flat=True).first()
        return {"id": job_id, "state": found or "missing", "skipped": "the job is finished or held by another task"}
    started = dt.datetime.now(dt.UTC)
    with rescoring_collected():  # the events new waveforms cover are rescored once, at the end
        for entry in job.files:
            if entry["status"] in ("done", "failed"):
                continue
            entry["status"] = "running"
            _job_save(job, "files")
            try:
                _import_one(entry, job.reviewed)
                entry["status"] = "done"
            except TRANSIENT_ERRORS as error:
                entry["status"] = "waiting"
                job.last_error = f"{entry['name']}: {type(error).__name__}: {error}"[:4000]
                with contextlib.suppress(*TRANSIENT_ERRORS):
                    _job_save(job, "files", "last_error")
                raise
            except ImportFileError as error:
                entry.update({"status": "failed", "error": f"{entry['name']}: {error.reason}"})
            except Exception as error:
                logger.exception("import job %s: %s failed", job_id, entry["name"])
                entry.update({"status": "failed", "error": f"{entry['name']}: {type(error).__name__}: {error}"})
            job.done = sum(1 for e in job.files if e["status"] in ("done", "failed"))
            _job_save(job, "files", "done")
    job.state = ImportJob.State.FAILED if all(e["status"] == "failed" for e in job.files) else ImportJob.State.DONE
    job.seconds = round((job.seconds or 0) + (dt.datetime.now(dt.UTC) - started).total_seconds(), 2)
    _job_save(job, "state", "seconds")
    return {"id": job_id, "state": job.state, "done": job.done}


def import_jobs_requeue_stalled(*, stalled_after_s: float | None = None) -> list[str]:
    """Re-queue the jobs left queued or running with no progress for ``stalled_after_s`` (a broker that lost its
    messages, a worker killed past its retries) whose files are all still in the upload folder; returns their ids.

    A re-queued job whose first message still turns up is imported once: the first task claims it (_claim)."""
    stall = settings.SEISTRIAGE_IMPORT_STALL_SECONDS if stalled_after_s is None else stalled_after_s
    cutoff = timezone.now() - dt.timedelta(seconds=stall)
    requeued = []
    stalled = ImportJob.objects.filter(
        state__in=(ImportJob.State.QUEUED, ImportJob.State.RUNNING), updated_at__lt=cutoff
    ).order_by("created_at")
    for job in stalled:
        unfinished = [e for e in job.files if e["status"] not in ("done", "failed")]
        if all((upload_folder() / e["path"]).is_file() for e in unfinished):
            import_uploaded_files.delay(job.id)
            requeued.append(job.id)
        else:
            logger.warning("import job %s stalled, but its files are gone from the upload folder", job.id)
    return requeued
