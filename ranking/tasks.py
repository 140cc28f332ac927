"""Celery tasks of scoring, the CNN and the learning loop. Each task takes ids, calls one service and owns only
its retries, time limits and queue (``queue=`` on the decorator: no routing table to keep in step):

- ``cpu``: waveform measurements, ranker scoring and the maintenance sweeps;
- ``gpu``: CNN inference;
- ``training``: training runs (a long run never holds up scoring).
"""

import logging
import os
from pathlib import Path
from typing import Any

from celery import shared_task
from celery.signals import worker_init, worker_process_init
from django.db import InterfaceError, OperationalError
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from ranking.cnn_runs import cnn_train, events_classify_cnn
from ranking.ml.tree_inference import threads_budget_set
from ranking.pipeline import events_rescore_after_cnn
from ranking.scoring import (
    events_measure_waveforms,
    events_rescore_unreviewed,
    events_score,
    events_scoring_sweep,
)
from ranking.training_runs import training_nightly, training_run_execute, training_runs_fail_stalled

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
    threads_budget_set(threads)  # the ranker's compiled trees and its per-batch limit keep to the same share
    logger.info("native threads per pool child: %d", threads)


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


@shared_task(**SCORING_TASK_OPTIONS, queue="cpu", soft_time_limit=240, time_limit=300)
def score_events(event_ids: list[int]) -> dict[str, object]:
    return events_score(event_ids=event_ids).as_dict()


@shared_task(**SCORING_TASK_OPTIONS, queue="cpu", soft_time_limit=540, time_limit=600)
def measure_waveforms(event_ids: list[int]) -> int:
    """Waveform features of a batch of events, before their scoring (cached per event, so idempotent)."""
    return events_measure_waveforms(event_ids=event_ids)


@shared_task(**SCORING_TASK_OPTIONS, queue="gpu", soft_time_limit=540, time_limit=600)
def classify_events_cnn(event_ids: list[int]) -> dict[str, object]:
    """A batch of events through the active CNN (windows of all of them in shared batches), then the events it
    classified go back to `cpu` for score_events, so their scores include the CNN features (stacking)."""
    outcome = events_classify_cnn(event_ids=event_ids)
    if outcome.classified:
        events_rescore_after_cnn(event_ids=event_ids)
    return outcome.as_dict()


# Each soft limit sits under its hard limit: the settings' default soft limit (1500 s) is above these hard
# ones, and Celery refuses to send (beat included) a task whose soft limit exceeds its hard limit.
@shared_task(**BEAT_TASK_OPTIONS, queue="cpu", soft_time_limit=270, time_limit=300)
def sweep_scoring() -> int:
    return events_scoring_sweep()


@shared_task(**BEAT_TASK_OPTIONS, queue="cpu", soft_time_limit=540, time_limit=600)
def rescore_unreviewed() -> int:
    return events_rescore_unreviewed()


# Training: no automatic retry. A failed run is recorded on its row for people to see; a worker that dies
# mid-run hands the message back (late acknowledgement) and the next worker runs it again from the start.
@shared_task(acks_late=True, max_retries=0, queue="training", soft_time_limit=6 * 3600 - 60, time_limit=6 * 3600)
def train_model_run(run_id: int) -> str:
    return training_run_execute(run_id=run_id).status


@shared_task(acks_late=True, max_retries=0, queue="training", soft_time_limit=270, time_limit=300)
def train_nightly() -> list[int]:
    return [run.pk for run in training_nightly()]


@shared_task(acks_late=True, queue="training", time_limit=6 * 3600)
def train_waveform_network(
    data_dir: str | None = None,
    epochs: int = 80,
    promote: bool = False,
    database_only: bool = False,
    created_by: str = "task train_waveform_network",
) -> str:
    """Train (and optionally promote) a CNN in the background; returns the new version."""
    version = cnn_train(
        created_by=created_by,
        data_dir=Path(data_dir) if data_dir else None,
        database_only=database_only,
        epochs=epochs,
        promote=promote,
    )
    return version.version


# On the `cpu` queue: it still runs while the training worker is dead or busy.
@shared_task(acks_late=True, max_retries=0, queue="cpu", soft_time_limit=50, time_limit=60)
def sweep_training_runs() -> list[int]:
    """Celery beat: runs with no heartbeat for SEISTRIAGE_TRAINING_STALL_SECONDS are marked failed."""
    return training_runs_fail_stalled()
