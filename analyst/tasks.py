"""Celery tasks of ingest (uploads, the watched folder, upstream FDSN polling), all on the `cpu` queue. Scoring,
CNN and training tasks live in ranking.tasks."""

from pathlib import Path
from typing import Any

import kombu.exceptions
import redis.exceptions
from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from analyst.ingest.services import events_ingest_file
from analyst.ingest.watch_folder import watch_folder_scan
from fileimport.errors import ImportFileError
from ranking.tasks import BEAT_TASK_OPTIONS


@shared_task(acks_late=True, max_retries=0, queue="cpu")
def import_events_file(path: str, format: str | None = None, reviewed: bool = False) -> dict[str, object]:
    """Import one event file in the background (uploads, watched folder); bad files report, never retry."""
    try:
        report = events_ingest_file(path=Path(path), format=format, reviewed=reviewed)
    except ImportFileError as error:
        return {"path": path, "error": str(error)}
    return {"path": path, "summary": report.summary(), "events": len(report.event_ids)}


# Each soft limit sits under its hard limit: the settings' default soft limit (1500 s) is above these hard
# ones, and Celery refuses to send (beat included) a task whose soft limit exceeds its hard limit.
@shared_task(**BEAT_TASK_OPTIONS, queue="cpu", soft_time_limit=1140, time_limit=1200)
def scan_watch_folder(folder: str | None = None) -> dict[str, int]:
    """Celery beat: import new or changed files from SEISTRIAGE_WATCH_DIR (or ``folder``), then score the new events."""
    return watch_folder_scan(folder=Path(folder) if folder else None).as_dict()


# Import page (analyst/ingest/uploads.py): one job of uploaded files, imported in turn with progress on its row.
# A database or broker outage is not the files' fault: the task retries with back-off (the import is idempotent,
# the importers match existing events); only a file the importer refuses is marked failed.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
IMPORT_TIME_LIMIT_S = 3600
# Upload imports and bulletin writes: the job row is in the database, so a transient database or broker error
# retries with back-off (nothing was recorded), and a lost message is re-queued by the job's sweep.
JOB_TASK_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 12,
    "queue": "cpu",
}


@shared_task(
    **JOB_TASK_OPTIONS,
    soft_time_limit=IMPORT_TIME_LIMIT_S - 60,
    time_limit=IMPORT_TIME_LIMIT_S,
)
def import_uploaded_files(self: Task[Any, Any], job_id: str) -> dict[str, object]:
    from analyst.ingest.uploads import import_job_run  # uploads imports this module to queue the task

    return import_job_run(job_id=job_id, task_id=self.request.id or "")


@shared_task(**BEAT_TASK_OPTIONS, queue="cpu", soft_time_limit=50, time_limit=60)
def sweep_import_jobs() -> list[str]:
    """Celery beat: re-queue import jobs with no progress for SEISTRIAGE_IMPORT_STALL_SECONDS whose files remain."""
    from analyst.ingest.uploads import import_jobs_requeue_stalled

    return import_jobs_requeue_stalled()


# Bulletins (analyst/bulletins/jobs.py): a draft or a published bulletin is written here, not in the web request
# (a whole catalogue outlasts the web worker's timeout); JOB_TASK_OPTIONS, as imports.
BULLETIN_TIME_LIMIT_S = 1800


@shared_task(
    **JOB_TASK_OPTIONS,
    soft_time_limit=BULLETIN_TIME_LIMIT_S - 60,
    time_limit=BULLETIN_TIME_LIMIT_S,
)
def write_bulletin(self: Task[Any, Any], job_id: str) -> dict[str, object]:
    from analyst.bulletins.jobs import bulletin_job_run  # jobs imports this module to queue the task

    return bulletin_job_run(job_id=job_id, task_id=self.request.id or "")


@shared_task(**BEAT_TASK_OPTIONS, queue="cpu", soft_time_limit=50, time_limit=60)
def sweep_bulletin_jobs() -> dict[str, int]:
    """Celery beat: re-queue stalled bulletin jobs, delete expired drafts and half-written files."""
    from analyst.bulletins.jobs import bulletin_jobs_sweep

    return bulletin_jobs_sweep()


# Upstream FDSN sources (analyst/ingest/upstream.py): beat ticks every SEISTRIAGE_UPSTREAM_TICK_SECONDS; each source is
# polled when its own interval has elapsed.
@shared_task(acks_late=True, max_retries=0, queue="cpu", soft_time_limit=840, time_limit=900)
def poll_upstream_sources() -> list[dict[str, object]]:
    from analyst.ingest.upstream import fdsn_sources_poll_due

    return [report.as_dict() for report in fdsn_sources_poll_due()]
