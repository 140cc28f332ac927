"""Training runs on real PNSN labels: the candidate and the active ranker on the same held-out events, failures
recorded while the active model keeps serving, one open run per kind, auto-promotion and rollback recorded."""

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from analyst.ingest.services import events_ingest_file
from events.models import EventLabel
from ranking.models import ModelPromotion, ModelVersion, TrainingRun
from ranking.registry import model_version_active
from ranking.training import ranker_train
from ranking.training_runs import (
    PromotionError,
    TrainingRunBusyError,
    model_promote,
    model_rollback,
    training_nightly,
    training_run_execute,
    training_run_start,
    training_runs_fail_stalled,
)
from tests.support.workbench_data import pnsn_head

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_broker")]


@pytest.fixture
def first_ranker(shared_data: Path, tmp_path: Path) -> ModelVersion:
    """The first 1,000 real PNSN reviewed events imported as labels, and a ranker trained on them and promoted."""
    events_ingest_file(path=pnsn_head(shared_data, tmp_path, rows=1000), reviewed=True)
    return ranker_train(created_by="first", promote=True)


def _run(**options: Any) -> TrainingRun:
    run = training_run_start(kind="ranker", trigger=TrainingRun.Trigger.UI, requested_by="sen", **options)
    return training_run_execute(run_id=run.pk)


def test_it_trains_a_candidate_and_compares_it_with_the_active_ranker_on_the_same_held_out_events(
    first_ranker: ModelVersion,
) -> None:
    run = _run()
    assert run.status == "succeeded", run.error + run.log
    assert run.progress == 1.0 and run.duration_s is not None and "registered candidate" in run.log
    summary = run.data_summary
    assert summary["events"] == 1000 and summary["label_sources"] == {"imported_review": 1000}
    assert summary["training_events"] + summary["held_out_events"] == 1000
    assert summary["training_span"][1] <= summary["held_out_span"][0]  # time-ordered: held out = the newest
    candidate, active = run.candidate_metrics, run.active_metrics
    assert candidate["events"] == active["events"] == summary["held_out_events"] == 200
    for metrics in (candidate, active):
        assert 0 <= metrics["expected_calibration_error"] <= 1
        assert metrics["per_class"]["explosion_like"]["support"] == summary["held_out_labels"]["explosion_like"]
        assert metrics["importance"]["roc_auc"] > 0.8
    # The first ranker trained on all 1,000, so it saw the held-out events: the comparison says so.
    assert active["held_out_events_in_its_training_span"] == 200
    assert run.candidate is not None and run.candidate.status == "candidate"
    assert run.compared_with == first_ranker
    assert model_version_active(kind="ranker") == first_ranker  # a run never promotes by itself unless configured
    curves = run.curves["candidate"]
    assert set(curves["precision_recall"]) >= {"earthquake", "explosion_like"}
    assert sum(map(sum, curves["confusion"])) == 200
    assert curves["effort"]["importance"]["found"][-1] == 1.0
    assert "local_solar_hour" in curves["feature_importance"]
    assert run.promotion_decision["promote"] is False and "off" in run.promotion_decision["reason"]


def test_a_failing_run_is_recorded_and_the_active_model_keeps_serving(first_ranker: ModelVersion) -> None:
    EventLabel.objects.all().delete()
    run = _run()
    assert run.status == "failed" and run.finished_at is not None
    assert run.error.startswith("TrainingDataError: 0 labelled events"), run.error
    assert "Traceback" in run.log and run.candidate is None
    assert model_version_active(kind="ranker") == first_ranker


def test_only_one_run_of_a_kind_is_open_at_a_time(db: None) -> None:
    first = training_run_start(kind="ranker", trigger=TrainingRun.Trigger.UI, requested_by="sen")
    with pytest.raises(TrainingRunBusyError) as busy:
        training_run_start(kind="ranker", trigger=TrainingRun.Trigger.UI, requested_by="other")
    assert busy.value.run == first
    assert training_nightly() == []  # nightly skips the busy ranker and there is no active CNN to retrain
    with pytest.raises(ValueError, match="kind must be one of"):
        training_run_start(kind="forest", trigger=TrainingRun.Trigger.UI, requested_by="sen")


def test_auto_promotion_promotes_a_better_candidate_and_records_why(first_ranker: ModelVersion, settings: Any) -> None:
    settings.SEISTRIAGE_AUTO_PROMOTE_METRIC = "importance.average_precision"
    settings.SEISTRIAGE_AUTO_PROMOTE_MARGIN = 1.0  # nothing beats a model by a whole AP point
    kept = _run()
    assert kept.promotion_decision["promote"] is False
    assert kept.promotion_decision["active"] == kept.active_metrics["importance"]["average_precision"]
    assert model_version_active(kind="ranker") == first_ranker

    settings.SEISTRIAGE_AUTO_PROMOTE_MARGIN = -1.0  # any candidate qualifies
    promoted = _run()
    assert promoted.promotion_decision["promote"] is True
    assert model_version_active(kind="ranker") == promoted.candidate
    record = ModelPromotion.objects.get(action="auto_promote")
    assert (record.model_version, record.previous, record.training_run) == (
        promoted.candidate,
        first_ranker,
        promoted,
    )
    assert "beats" in record.reason


def test_rollback_puts_an_earlier_ranker_back_in_one_action(first_ranker: ModelVersion) -> None:
    run = _run()
    assert run.candidate is not None
    with pytest.raises(PromotionError, match="never active"):
        model_rollback(model_version=run.candidate, by="sen")
    model_promote(model_version=run.candidate, by="sen", reason="better effort curve")
    first_ranker.refresh_from_db()
    assert first_ranker.status == "retired"
    with pytest.raises(PromotionError, match="already the active"):
        model_promote(model_version=run.candidate, by="sen")

    model_rollback(model_version=first_ranker, by="sen")
    assert model_version_active(kind="ranker") == first_ranker
    actions = list(ModelPromotion.objects.order_by("created_at", "id").values_list("action", "by", "reason"))
    assert actions == [
        ("promote", "sen", "better effort curve"),
        ("rollback", "sen", f"rolled back to {first_ranker.version}"),
    ]


def test_a_run_whose_worker_died_is_marked_failed_by_the_stall_check_and_the_next_run_can_start(
    first_ranker: ModelVersion, settings: Any
) -> None:
    settings.SEISTRIAGE_TRAINING_STALL_SECONDS = 1800
    dead = training_run_start(kind="ranker", trigger=TrainingRun.Trigger.UI, requested_by="sen")
    fresh = training_run_start(kind="cnn", trigger=TrainingRun.Trigger.UI, requested_by="sen")
    assert dead.heartbeat_at is not None and fresh.heartbeat_at is not None  # a run beats from its creation
    # What a worker killed outright leaves behind: running, its last progress line two hours old.
    last_beat = timezone.now() - dt.timedelta(hours=2)
    TrainingRun.objects.filter(pk=dead.pk).update(status="running", started_at=last_beat, heartbeat_at=last_beat)
    with pytest.raises(TrainingRunBusyError):
        training_run_start(kind="ranker", trigger=TrainingRun.Trigger.UI, requested_by="other")

    assert training_runs_fail_stalled() == [dead.pk]
    dead.refresh_from_db()
    fresh.refresh_from_db()
    assert dead.status == "failed" and dead.finished_at is not None
    assert dead.error.startswith("no heartbeat for 7200 s: the worker died"), dead.error
    assert dead.error in dead.log
    assert fresh.status == "queued" and fresh.error == ""  # beat just now: left alone
    assert model_version_active(kind="ranker") == first_ranker
    assert training_runs_fail_stalled() == []  # recorded once

    # The kind is free again; the dead run is final (a late redelivery of its message does nothing).
    assert training_run_execute(run_id=dead.pk).status == "failed"
    run = _run()
    assert run.status == "succeeded", run.error + run.log
    assert run.heartbeat_at is not None and run.started_at is not None and run.heartbeat_at >= run.started_at
