"""Celery tasks of the learning loop. Names start with `analyst.tasks.train_` so CELERY_TASK_ROUTES sends
them to the `training` queue (config.celery_app discovers this module beside analyst.tasks)."""

from celery import shared_task

from analyst.learning import training_nightly, training_run_execute, training_runs_fail_stalled


# No automatic retry: a failed run is recorded on its row for people to see; a worker that dies mid-run
# hands the message back (late acknowledgement) and the next worker runs it again from the start.
@shared_task(
    name="analyst.tasks.train_model_run",
    acks_late=True,
    max_retries=0,
    soft_time_limit=6 * 3600 - 60,
    time_limit=6 * 3600,
)
def train_model_run(run_id: int) -> str:
    return training_run_execute(run_id=run_id).status


# The soft limit sits under the hard one (the settings' default soft limit, 1500 s, is above 300 s): Celery
# refuses to send a task whose soft limit exceeds its hard limit, beat's nightly schedule included.
@shared_task(name="analyst.tasks.train_nightly", acks_late=True, max_retries=0, soft_time_limit=270, time_limit=300)
def train_nightly() -> list[int]:
    return [run.pk for run in training_nightly()]


# Not a `train_` name: it runs on the `cpu` queue, so it still runs while the training worker is dead or busy.
@shared_task(name="analyst.tasks.sweep_training_runs", acks_late=True, max_retries=0, soft_time_limit=50, time_limit=60)
def sweep_training_runs() -> list[int]:
    """Celery beat: runs with no heartbeat for SEISTRIAGE_TRAINING_STALL_SECONDS are marked failed."""
    return training_runs_fail_stalled()
