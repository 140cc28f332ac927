import logging
import os
from pathlib import Path
from typing import Any

from celery import shared_task
from celery.signals import worker_init, worker_process_init
from django.db import InterfaceError, OperationalError
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from analyst.importers.errors import ImportFileError
from analyst.importers.events import events_import_file
from analyst.intake import watch_folder_scan
from analyst.scoring import events_measure_waveforms, events_rescore_unreviewed, events_score, events_scoring_sweep

logger = logging.getLogger(__name__)
_worker: list[Any] = []  # the worker of this process (set before the pool forks its children)
_thread_limits: list[Any] = []  # kept: the limits hold for the life of the child


@worker_init.connect
def _remember_worker(sender: Any, **_: Any) -> None:
    _worker[:] = [sender]


@worker_process_init.connect
def _share_the_cores(**_: Any) -> None:
    """Pool children run side by side: each gets cores / concurrency native (OpenMP, BLAS) threads, at least 1.

    Left alone, scikit-learn's OpenMP threads of every child spin against each other: on 2 cores with 2
    children, one 200-event scoring batch took 5-16 s instead of 1 s (bench/bench_pipeline.py).
    """
    concurrency = getattr(_worker[0], "concurrency", None) if _worker else None
    threads = max(1, (os.cpu_count() or 1) // concurrency) if isinstance(concurrency, int) and concurrency > 0 else 1
    _thread_limits.append(threadpool_limits(limits=threads))
    logger.info("native threads per pool child: %d", threads)


@shared_task(acks_late=True, max_retries=0)
def import_events_file(path: str, format: str | None = None, reviewed: bool = False) -> dict[str, object]:
    """Import one event file in the background (uploads, watched folder); bad files report, never retry."""
    try:
        report = events_import_file(path=Path(path), format=format, reviewed=reviewed)
    except ImportFileError as error:
        return {"path": path, "error": str(error)}
    return {"path": path, "summary": report.summary(), "events": len(report.event_ids)}


# Scoring: batches of ids, late acknowledgement (a worker that dies mid-batch loses nothing), retries
# with backoff on transient database errors, and time limits so no batch stays "queued" forever.
SCORING_TASK_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 6,
}


# Maintenance tasks (beat, and the rescoring after a promotion): a database hiccup retries a few times; the next
# beat or sweep covers the rest.
BEAT_TASK_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": 5,
    "max_retries": 3,
}


@shared_task(**SCORING_TASK_OPTIONS, soft_time_limit=240, time_limit=300)
def score_events(event_ids: list[int]) -> dict[str, object]:
    return events_score(event_ids=event_ids).as_dict()


@shared_task(**SCORING_TASK_OPTIONS, soft_time_limit=540, time_limit=600)
def measure_waveforms(event_ids: list[int]) -> int:
    """Waveform features of a batch of events, before their scoring (cached per event, so idempotent)."""
    return events_measure_waveforms(event_ids=event_ids)


# Each soft limit sits under its hard limit: the settings' default soft limit (1500 s) is above these hard
# ones, and Celery refuses to send (beat included) a task whose soft limit exceeds its hard limit.
@shared_task(**BEAT_TASK_OPTIONS, soft_time_limit=1140, time_limit=1200)
def scan_watch_folder(folder: str | None = None) -> dict[str, int]:
    """Celery beat: import new or changed files from SEISTRIAGE_WATCH_DIR (or ``folder``), then score the new events."""
    return watch_folder_scan(folder=Path(folder) if folder else None).as_dict()


@shared_task(**BEAT_TASK_OPTIONS, soft_time_limit=270, time_limit=300)
def sweep_scoring() -> int:
    return events_scoring_sweep()


@shared_task(**BEAT_TASK_OPTIONS, soft_time_limit=540, time_limit=600)
def rescore_unreviewed() -> int:
    return events_rescore_unreviewed()


# Import page (analyst/uploads.py): one job of uploaded files, imported in turn with progress on its record.
@shared_task(acks_late=True, max_retries=0, time_limit=3600)
def import_uploaded_files(job_id: str) -> dict[str, object]:
    from analyst.uploads import import_job_run  # uploads imports this module to queue the task

    return import_job_run(job_id=job_id)


# Upstream FDSN sources (analyst/upstream.py): beat ticks every SEISTRIAGE_UPSTREAM_TICK_SECONDS; each source is
# polled when its own interval has elapsed.
@shared_task(acks_late=True, max_retries=0, soft_time_limit=840, time_limit=900)
def poll_upstream_sources() -> list[dict[str, object]]:
    from analyst.upstream import fdsn_sources_poll_due

    return [report.as_dict() for report in fdsn_sources_poll_due()]
