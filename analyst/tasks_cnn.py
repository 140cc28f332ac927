"""Celery tasks of the waveform CNN: inference on the `gpu` queue, training on the `training` queue.

Task names are fixed so CELERY_TASK_ROUTES sends `analyst.tasks.*_cnn*` to gpu and `*.tasks.train_*`
to training (config.celery_app discovers this module beside analyst.tasks).
"""

from pathlib import Path

from celery import shared_task
from django.db import InterfaceError, OperationalError

from analyst.cnn import cnn_train, events_classify_cnn
from analyst.scoring import events_rescore_after_cnn


@shared_task(
    name="analyst.tasks.classify_events_cnn",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    max_retries=6,
    soft_time_limit=540,
    time_limit=600,
)
def classify_events_cnn(event_ids: list[int]) -> dict[str, object]:
    """A batch of events through the active CNN (windows of all of them in shared batches), then the events it
    classified go back to `cpu` for score_events, so their scores include the CNN features (stacking)."""
    outcome = events_classify_cnn(event_ids=event_ids)
    if outcome.classified:
        events_rescore_after_cnn(event_ids=event_ids)
    return outcome.as_dict()


@shared_task(name="analyst.tasks.train_waveform_network", acks_late=True, time_limit=6 * 3600)
def train_waveform_network(data_dir: str | None = None, epochs: int = 80, promote: bool = False) -> str:
    """Train (and optionally promote) a CNN in the background; returns the new version."""
    version = cnn_train(
        created_by="task train_waveform_network", data_dir=Path(data_dir) if data_dir else None, epochs=epochs,
        promote=promote,
    )  # fmt: skip
    return version.version
