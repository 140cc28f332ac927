"""Celery tasks of the learning loop. Names start with `analyst.tasks.train_` so CELERY_TASK_ROUTES sends
them to the `training` queue (config.celery_app discovers this module beside analyst.tasks)."""

from celery import shared_task

from analyst.learning import training_nightly, training_run_execute


# No automatic retry: a failed run is recorded on its row for people to see; a worker that dies mid-run
# hands the message back (late acknowledgement) and the next worker runs it again from the start.
@shared_task(name="analyst.tasks.train_model_run", acks_late=True, max_retries=0, time_limit=6 * 3600)
def train_model_run(run_id: int) -> str:
    return training_run_execute(run_id=run_id).status


@shared_task(name="analyst.tasks.train_nightly", acks_late=True, max_retries=0, time_limit=300)
def train_nightly() -> list[int]:
    return [run.pk for run in training_nightly()]
