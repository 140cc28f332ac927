"""A Celery worker's pool process killed with SIGKILL in the middle of a scoring batch of real events: the batch
is redelivered (late acknowledgement + reject_on_worker_lost) or, where the broker loses it, the periodic sweep
requeues it; every event ends scored exactly once, none left queued or half-scored.

The session's worker process is the one whose pool process is killed: a second worker on the same broker
would take the batch instead. Its prefork parent starts a new pool process, so later tests keep a worker.
"""

import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from analyst.ingest.services import events_ingest_file
from events.models import Event
from events.vocabulary import ScoringState
from ranking.models import EventScore, TrainingRun
from ranking.registry import model_version_active
from ranking.scoring import events_scoring_sweep
from ranking.training import ranker_train
from ranking.training_runs import training_run_start, training_runs_fail_stalled
from tests.conftest import wait_for
from tests.support.worker import CeleryWorkerProcess

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
BATCH = 3000  # real PNSN rows scored in one batch: seconds of work on this machine, long enough to be caught


class WorkerSinceNow:
    """The session worker, looking only at the output it writes from now on."""

    def __init__(self, worker: CeleryWorkerProcess) -> None:
        self.worker = worker
        self.process = worker.process
        self.since = worker.mark()

    def text(self) -> str:
        return self.worker.text(self.since)

    def wait_for_text(self, text: str, *, timeout: float) -> None:
        self.worker.wait_for_text(text, timeout=timeout, since=self.since)

    def pool_children(self) -> list[int]:
        return self.worker.pool_children()


@pytest.fixture
def own_worker(celery_worker_process: CeleryWorkerProcess) -> WorkerSinceNow:
    from config.celery_app import app

    app.control.purge()
    return WorkerSinceNow(celery_worker_process)


@pytest.fixture
def pnsn_rows(shared_data: Path, tmp_path: Path) -> tuple[Path, Path]:
    """1,500 real reviewed PNSN rows to train on, and the next BATCH rows imported as automatic events."""
    lines = (shared_data / "catalogs" / "pnsn_comcat_2018-2022.csv").read_text().splitlines()
    reviewed, automatic = tmp_path / "reviewed.csv", tmp_path / "automatic.csv"
    reviewed.write_text("\n".join(lines[:1501]) + "\n")
    automatic.write_text("\n".join([lines[0], *lines[1501 : 1501 + BATCH]]) + "\n")
    return reviewed, automatic


def test_a_worker_killed_mid_batch_loses_no_event_and_scores_none_twice(
    own_worker: WorkerSinceNow, pnsn_rows: tuple[Path, Path], settings: Any
) -> None:
    reviewed, automatic = pnsn_rows
    events_ingest_file(path=reviewed, reviewed=True)
    ranker_train(created_by="test", promote=True)
    settings.SEISTRIAGE_SCORING_BATCH_SIZE = BATCH  # one batch, one message, one pool process doing it
    ids = events_ingest_file(path=automatic).event_ids
    assert len(ids) == BATCH

    own_worker.wait_for_text("ranking.tasks.score_events[", timeout=60)
    [task_id] = re.findall(r"ranking\.tasks\.score_events\[([0-9a-f-]+)\] received", own_worker.text())
    time.sleep(1.5)  # well into the batch: it takes several seconds here
    assert f"{task_id}] succeeded" not in own_worker.text(), "the batch finished before the kill: make it bigger"
    [child] = own_worker.pool_children()
    os.kill(child, signal.SIGKILL)
    scored_at_kill = Event.objects.filter(pk__in=ids, scoring_state=ScoringState.SCORED).count()
    assert scored_at_kill < BATCH
    own_worker.wait_for_text("WorkerLostError", timeout=30)

    def all_scored() -> bool:
        return Event.objects.filter(pk__in=ids, scoring_state=ScoringState.SCORED).count() == BATCH

    redelivered = True
    try:
        wait_for(all_scored, timeout=120, what="the killed batch redelivered to the new pool process")
    except AssertionError:
        # A broker that drops the rejected message: the events still say queued, and the sweep requeues them.
        redelivered = False
        assert settings.CELERY_BROKER_URL.startswith("filesystem://"), "redis/amqp must redeliver the batch"
        assert events_scoring_sweep(stalled_after_s=0) > 0
        wait_for(all_scored, timeout=120, what="the killed batch requeued by the sweep")
    assert child not in own_worker.pool_children() and own_worker.process.poll() is None

    # Each event scored exactly once: the part done before the kill was rolled back or is not written again.
    per_event = EventScore.objects.filter(event_id__in=ids).values_list("event_id", flat=True)
    assert sorted(per_event) == sorted(ids)
    assert not Event.objects.filter(pk__in=ids, importance__isnull=True).exists()
    print(f"killed with {scored_at_kill}/{BATCH} scored; redelivered by the broker: {redelivered}")


def test_a_training_run_killed_mid_way_is_run_again_or_marked_failed_never_left_open(
    own_worker: WorkerSinceNow, pnsn_rows: tuple[Path, Path], settings: Any
) -> None:
    reviewed, _ = pnsn_rows
    events_ingest_file(path=reviewed, reviewed=True)
    serving = ranker_train(created_by="test", promote=True)
    run = training_run_start(kind="ranker", trigger="command", requested_by="fault test")
    wait_for(lambda: TrainingRun.objects.get(pk=run.pk).status == "running", timeout=60, what="the run started")
    [child] = own_worker.pool_children()
    os.kill(child, signal.SIGKILL)
    assert model_version_active(kind="ranker") == serving  # the killed run changed nothing
    own_worker.wait_for_text("WorkerLostError", timeout=30)

    def receipts() -> int:
        return len(re.findall(r"train_model_run\[[0-9a-f-]+\] received", own_worker.text()))

    try:
        wait_for(lambda: receipts() == 2, timeout=60, what="the killed run redelivered")
    except AssertionError:
        # The filesystem broker never hands the message back: the run says running, beats no more, and the
        # stall check (beat, every SEISTRIAGE_TRAINING_STALL_SECONDS / 6) marks it failed; here with no wait.
        assert settings.CELERY_BROKER_URL.startswith("filesystem://"), "redis/amqp must redeliver the run"
        assert TrainingRun.objects.get(pk=run.pk).status == "running"
        assert training_runs_fail_stalled(stalled_after_s=0) == [run.pk]
        run.refresh_from_db()
        assert run.status == "failed" and run.error.startswith("no heartbeat for "), run.error
        assert model_version_active(kind="ranker") == serving
        again = training_run_start(kind="ranker", trigger="command", requested_by="fault test")  # not blocked
        wait_for(
            lambda: TrainingRun.objects.get(pk=again.pk).status in ("succeeded", "failed"),
            timeout=240,
            what="the next run to its end",
        )
        again.refresh_from_db()
        assert again.status == "succeeded", again.error
        print("killed run not redelivered (filesystem broker): failed by the stall check, the next run succeeded")
        return
    wait_for(
        lambda: TrainingRun.objects.get(pk=run.pk).status in ("succeeded", "failed"),
        timeout=240,
        what="the killed run run again to its end",
    )
    run.refresh_from_db()
    assert run.status == "succeeded", run.error  # redelivered: claimed again from running and run from the start
    assert receipts() == 2  # redelivered once
    print("killed run redelivered by the broker and run again to success")
    active = model_version_active(kind="ranker")
    assert active is not None and active.pk in (serving.pk, run.candidate_id)  # served all along, or promoted
