from pathlib import Path

from celery import shared_task
from django.db import InterfaceError, OperationalError

from analyst.importers.errors import ImportFileError
from analyst.importers.events import events_import_file
from analyst.intake import watch_folder_scan
from analyst.scoring import events_measure_waveforms, events_rescore_unreviewed, events_score, events_scoring_sweep


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
@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=6,
    soft_time_limit=240,
    time_limit=300,
)
def score_events(event_ids: list[int]) -> dict[str, object]:
    return events_score(event_ids=event_ids).as_dict()


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=6,
    soft_time_limit=540,
    time_limit=600,
)
def measure_waveforms(event_ids: list[int]) -> int:
    """Waveform features of a batch of events, before their scoring (cached per event, so idempotent)."""
    return events_measure_waveforms(event_ids=event_ids)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=5, max_retries=3, time_limit=1200)
def scan_watch_folder() -> dict[str, int]:
    """Celery beat: import new or changed files from SEISTRIAGE_WATCH_DIR, then score the new events."""
    return watch_folder_scan().as_dict()


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=5, max_retries=3, time_limit=300)
def sweep_scoring() -> int:
    return events_scoring_sweep()


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=5, max_retries=3, time_limit=600)
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
