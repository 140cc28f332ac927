"""Bulletin jobs: a draft or a published bulletin written by a worker, not in the request.

A whole catalogue takes longer to write than a web request may last (the review measured 45 s for 12,800
events against a 60 s worker timeout). So the page and the API record a job (a BulletinJob row) and answer at
once; a worker (analyst.tasks.write_bulletin) writes the file under DATA_DIR/bulletins through a temporary name,
records the Bulletin and marks the job done in one transaction; the page polls the job's status URL and offers
the file when it is there. A job whose file cannot be written ends `failed` with a message for the user. The
bulletin sweep re-queues jobs whose message was lost, and removes old drafts and files left half-written by a
killed worker.
"""

import datetime as dt
import logging
import time
import uuid
from typing import Annotated, Any, TypedDict

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from analyst.bulletins.selection import EventCriteria
from analyst.bulletins.services import (
    BULLETIN_PARAMETERS,
    PARTIAL_SUFFIX,
    BulletinInputError,
    bulletin_criteria,
    bulletin_parameters,
    bulletin_publish,
    bulletins_dir,
)
from analyst.models import Bulletin, BulletinJob
from analyst.tasks import BULLETIN_TIME_LIMIT_S, TRANSIENT_ERRORS, write_bulletin
from analyst.web.disclosure import path_public, text_public

logger = logging.getLogger(__name__)


class BulletinJobData(TypedDict):
    id: str
    kind: Annotated[str, "draft (for the user who asked) or published"]
    format: str
    state: Annotated[str, "queued, running, done or failed"]
    selection: Annotated[dict[str, Any], "status, time window and filters, as asked"]
    created_at: Annotated[str, "date-time"]
    updated_at: Annotated[str, "date-time"]
    seconds: Annotated[float | None, "time the worker took, once done"]
    error: Annotated[str, "why the bulletin could not be written; empty unless failed"]
    status_url: Annotated[str, "this record, to poll until the state is done or failed"]
    bulletin_id: Annotated[int | None, "the bulletin written, once done"]
    event_count: int | None
    sha256: str | None
    size_bytes: int | None
    file_url: Annotated[str | None, "the file, once done"]


def _selection_json(criteria: EventCriteria, status: str) -> dict[str, Any]:
    parameters = bulletin_parameters(criteria)
    shown: dict[str, Any] = {"status": status}
    for name in BULLETIN_PARAMETERS:
        value = parameters[name]
        if value in (None, (), ""):
            continue
        if isinstance(value, dt.datetime):
            value = value.isoformat()
        shown[name] = list(value) if isinstance(value, tuple) else value
    return shown


def _criteria(selection: dict[str, Any]) -> tuple[EventCriteria, str]:
    filters = {k: v for k, v in selection.items() if k not in ("status", "start", "end")}
    if "event_types" in filters:
        filters["event_types"] = tuple(filters["event_types"])
    start, end = parse_datetime(selection["start"]), parse_datetime(selection["end"])
    if start is None or end is None:
        raise BulletinInputError("start: not a date and time")
    status = str(selection["status"])
    return bulletin_criteria(start=start, end=end, status=status, **filters), status


def _as_dict(job: BulletinJob) -> BulletinJobData:
    bulletin = job.bulletin
    return {
        "id": job.id,
        "kind": job.kind,
        "format": job.format,
        "state": job.state,
        "selection": job.selection,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
        "seconds": job.seconds,
        "error": job.error,
        "status_url": reverse("api-bulletin-job", args=[job.id]),
        "bulletin_id": bulletin.pk if bulletin else None,
        "event_count": bulletin.event_count if bulletin else None,
        "sha256": bulletin.sha256 if bulletin else None,
        "size_bytes": bulletin.size_bytes if bulletin else None,
        "file_url": reverse("api-bulletin-file", args=[bulletin.pk]) if bulletin else None,
    }


def bulletin_job_create(
    *, user: User, format: str, criteria: EventCriteria, status: str, published: bool
) -> BulletinJobData:
    """Record the job and queue it for a worker once the request's transaction commits."""
    job = BulletinJob.objects.create(
        id=uuid.uuid4().hex,
        user=user,
        kind=Bulletin.Kind.PUBLISHED if published else Bulletin.Kind.DRAFT,
        format=format,
        selection=_selection_json(criteria, status),
    )
    job_id = job.id
    transaction.on_commit(lambda: write_bulletin.delay(job_id))
    return _as_dict(job)


def bulletin_job_get(*, job_id: str, user: User) -> BulletinJobData | None:
    """The job, for the user who asked for it only (anyone else: None, as if there were none)."""
    if not (job_id.isascii() and job_id.isalnum()):  # ids are hex; a NUL would be a database error, not a 404
        return None
    job = BulletinJob.objects.select_related("bulletin").filter(pk=job_id, user=user).first()
    return None if job is None else _as_dict(job)


def bulletin_jobs_recent(*, user: User, limit: int = 10) -> QuerySet[BulletinJob]:
    """The user's latest jobs, newest first, for the bulletins page."""
    return BulletinJob.objects.select_related("bulletin").filter(user=user).order_by("-created_at")[:limit]


def bulletin_visible(*, bulletin: Bulletin, user: User) -> bool:
    """A published bulletin is for every analyst; a draft only for the user who asked for it."""
    return bulletin.kind == Bulletin.Kind.PUBLISHED or bulletin.created_by_id == user.pk


def _claim(job_id: str, task_id: str) -> BulletinJob | None:
    """Take the job with a conditional UPDATE: a queued one, one this task holds (a retry or redelivery), or a
    running one silent past the task's time limit (its worker is dead). A second message finds nothing."""
    now = timezone.now()
    dead = now - dt.timedelta(seconds=BULLETIN_TIME_LIMIT_S)
    takeable = (
        Q(state=BulletinJob.State.QUEUED)
        | Q(state=BulletinJob.State.RUNNING, task_id=task_id)
        | Q(state=BulletinJob.State.RUNNING, updated_at__lt=dead)
    )
    taken = BulletinJob.objects.filter(takeable, pk=job_id).update(
        state=BulletinJob.State.RUNNING, task_id=task_id, updated_at=now, attempts=F("attempts") + 1
    )
    return BulletinJob.objects.select_related("user").get(pk=job_id) if taken else None


def _finish(job: BulletinJob, state: str, *, error: str = "", started: float) -> None:
    job.state, job.error = state, error
    job.seconds = round(time.monotonic() - started, 2)
    job.updated_at = timezone.now()
    job.save(update_fields=["state", "error", "seconds", "updated_at", "bulletin"])


def bulletin_job_run(*, job_id: str, task_id: str = "") -> dict[str, Any]:
    """Write the job's bulletin (the worker's side). A database or broker outage propagates (the task retries
    with back-off; nothing was recorded, the temporary file is gone); anything else ends the job `failed` with
    a message the user can act on."""
    job = _claim(job_id, task_id)
    if job is None:
        found = BulletinJob.objects.filter(pk=job_id).values_list("state", flat=True).first()
        return {"id": job_id, "state": found or "missing", "skipped": "the job is finished or held by another task"}
    started = time.monotonic()

    def recorded(bulletin: Bulletin) -> None:
        job.bulletin = bulletin
        _finish(job, BulletinJob.State.DONE, started=started)

    try:
        criteria, status = _criteria(job.selection)
        bulletin_publish(
            user=job.user,
            format=job.format,
            criteria=criteria,
            status=status,
            published=job.kind == Bulletin.Kind.PUBLISHED,
            on_recorded=recorded,
        )
    except TRANSIENT_ERRORS:
        raise
    except BulletinInputError as error:
        _finish(job, BulletinJob.State.FAILED, error=str(error), started=started)
    except SoftTimeLimitExceeded:
        minutes = round(BULLETIN_TIME_LIMIT_S / 60)
        message = f"writing the bulletin took longer than {minutes} minutes: narrow the selection (a shorter window)"
        _finish(job, BulletinJob.State.FAILED, error=message, started=started)
    except OSError as error:  # the data folder: full, read-only, or not a folder
        logger.exception("bulletin job %s failed", job_id)
        where = f" ({path_public(str(error.filename))})" if error.filename else ""
        message = f"the bulletin file could not be written in the data folder: {error.strerror or error}{where}"
        _finish(job, BulletinJob.State.FAILED, error=message, started=started)
    except Exception as error:
        logger.exception("bulletin job %s failed", job_id)
        message = text_public(f"the bulletin could not be written: {type(error).__name__}: {error}")[:2000]
        _finish(job, BulletinJob.State.FAILED, error=message, started=started)
    return {"id": job_id, "state": job.state, "bulletin_id": job.bulletin_id}


def bulletin_jobs_sweep(*, stalled_after_s: float | None = None) -> dict[str, int]:
    """Re-queue jobs queued or running with no change for ``stalled_after_s`` (a broker that lost its message, a
    worker killed past its retries: _claim lets only one task write each job), delete drafts older than
    SEISTRIAGE_BULLETIN_DRAFT_DAYS with their files, and remove temporary files a killed worker left."""
    stall = settings.SEISTRIAGE_IMPORT_STALL_SECONDS if stalled_after_s is None else stalled_after_s
    cutoff = timezone.now() - dt.timedelta(seconds=stall)
    stalled = list(
        BulletinJob.objects.filter(
            state__in=(BulletinJob.State.QUEUED, BulletinJob.State.RUNNING), updated_at__lt=cutoff
        ).values_list("id", flat=True)
    )
    for job_id in stalled:
        write_bulletin.delay(job_id)
    expired = timezone.now() - dt.timedelta(days=settings.SEISTRIAGE_BULLETIN_DRAFT_DAYS)
    drafts = Bulletin.objects.filter(kind=Bulletin.Kind.DRAFT, created_at__lt=expired)
    removed = 0
    for bulletin in drafts:
        (bulletins_dir() / bulletin.file_path).unlink(missing_ok=True)
        bulletin.delete()
        removed += 1
    partial_cutoff = time.time() - BULLETIN_TIME_LIMIT_S
    partials = [p for p in bulletins_dir().rglob(f"*{PARTIAL_SUFFIX}") if p.stat().st_mtime < partial_cutoff]
    for path in partials:
        path.unlink(missing_ok=True)
    return {"requeued": len(stalled), "drafts_removed": removed, "partials_removed": len(partials)}
