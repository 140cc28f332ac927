"""The whole learning loop on real PNSN data and a real Celery worker: a first ranker scores the queue, analysts
review a batch through the API (changing some labels), a senior analyst retrains through the API, the worker
runs it on the training queue, the comparison is read, the candidate promoted, and the unreviewed events are
rescored by the worker with the new version recorded on each score."""

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from analyst.ingest.services import events_ingest_file
from events.models import Event, EventLabel
from events.vocabulary import ReviewState, ScoringState
from ranking.models import EventScore, ModelPromotion, TrainingRun
from ranking.registry import model_version_active
from ranking.training import ranker_train
from tests.conftest import wait_for
from tests.support.workbench_data import PNSN, pnsn_head

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_password_hashing"),
]


def api_for(user: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def _scored_by(ids: list[int], version: str) -> bool:
    current = Event.objects.filter(pk__in=ids, scoring_state=ScoringState.SCORED).count() == len(ids)
    return current and EventScore.objects.filter(event_id__in=ids, ranker_version=version).count() == len(ids)


def test_reviews_retrain_on_a_real_worker_and_the_promoted_candidate_rescores_the_queue(
    celery_worker_process: None, shared_data: Path, tmp_path: Path, analyst: User, senior_analyst: User
) -> None:
    events_ingest_file(path=pnsn_head(shared_data, tmp_path, rows=1000), reviewed=True)
    first = ranker_train(created_by="bootstrap", promote=True)
    lines = (shared_data / PNSN).read_text().splitlines()
    following = tmp_path / "pnsn_next.csv"
    following.write_text("\n".join([lines[0], *lines[1001:1101]]) + "\n")
    queue = events_ingest_file(path=following).event_ids  # unreviewed: scored by the worker on commit
    assert len(queue) == 100
    wait_for(lambda: _scored_by(queue, first.version), timeout=180, what="the queue scored by the first ranker")

    # A batch of reviews through the API: the top of the queue, some decided against the model.
    api = api_for(analyst)
    top = list(Event.objects.filter(pk__in=queue).order_by("-importance", "pk")[:12])
    changed = 0
    for index, event in enumerate(top):
        if index % 3 == 0:
            body = {"decision": "reject"}  # a false event: the model never predicts that class here
            changed += 1
        else:
            body = {"decision": "accept", "event_type": event.event_type or "earthquake"}
        answer = api.post(f"/api/events/{event.pk}/review/", {"version": event.version, **body}, format="json")
        assert answer.status_code == 200, answer.content
    relabelled = list(Event.objects.filter(labels__source="imported_review", event_type="explosion")[:4])
    for event in relabelled:
        relabel = {"version": str(event.version), "decision": "set_type", "event_type": "earthquake"}
        assert api.post(f"/api/events/{event.pk}/review/", relabel, format="json").status_code == 200
    assert changed == 4 and EventLabel.objects.filter(source="analyst").count() == 16
    assert all(
        label.predicted["ranker_version"] == first.version
        for label in EventLabel.objects.filter(source="analyst", event_id__in=[e.pk for e in top])
    )

    # Retraining through the API, run by the real worker on the training queue.
    senior = api_for(senior_analyst)
    started = senior.post("/api/models/ranker/train/")
    assert started.status_code == 202, started.content
    run_id = started.json()["id"]
    wait_for(
        lambda: TrainingRun.objects.filter(pk=run_id, status__in=("succeeded", "failed")).exists(),
        timeout=240,
        what="the training run on the worker",
    )
    run = senior.get(f"/api/training-runs/{run_id}/").json()
    assert run["status"] == "succeeded", run["error"] + run["log"]
    assert run["progress"] == 1.0 and run["duration_s"] > 0 and run["compared_with"] == first.version
    assert run["data_summary"]["label_sources"] == {"imported_review": 1000, "analyst": 16}
    assert run["data_summary"]["events"] == 1000 + 12  # the 12 decided queue events join the labelled events
    held_out = run["data_summary"]["held_out_events"]
    assert run["candidate_metrics"]["events"] == run["active_metrics"]["events"] == held_out
    assert run["data_summary"]["held_out_labels"]["not_existing"] >= 1  # the rejections are among the newest

    # Compare on the model page, then promote the candidate.
    dashboard = senior.get("/api/models/ranker/").json()
    comparison = dashboard["comparison"]
    assert comparison["run"] == run_id and comparison["candidate"]["version"] == run["candidate"]
    effort = comparison["curves"]["candidate"]["effort"]
    assert set(effort) == {"importance", "origin time", "magnitude"}
    promoted = senior.post(f"/api/models/ranker/versions/{run['candidate']}/promote/", {"reason": "e2e"}, format="json")
    assert promoted.status_code == 200, promoted.content
    new = model_version_active(kind="ranker")
    assert new is not None and new.version == run["candidate"]
    record = ModelPromotion.objects.get(action="promote")
    assert (record.previous, record.by, record.training_run_id) == (first, "sen", run_id)

    # The worker rescores every unreviewed event with the new version, recorded on each score.
    unreviewed = list(
        Event.objects.filter(pk__in=queue, review_state__in=(ReviewState.NEW, ReviewState.SCORED)).values_list(
            "pk", flat=True
        )
    )
    assert len(unreviewed) == 100 - 12
    wait_for(lambda: _scored_by(unreviewed, new.version), timeout=180, what="the queue rescored by the candidate")
    for score in EventScore.objects.filter(event_id__in=unreviewed, ranker_version=new.version):
        assert score.model_versions == {"ranker": new.version}
    reviewed_scores = EventScore.objects.filter(event_id__in=[e.pk for e in top], ranker_version=new.version)
    assert not reviewed_scores.exists()  # decided events keep the score the analyst saw

    # A rollback to the first ranker is rescored as a promotion is: each unreviewed event's latest score is the
    # first ranker's again and the queue is ordered by it (it had older scores by that ranker, which no longer count).
    rolled = senior.post(f"/api/models/ranker/versions/{first.version}/rollback/", {"reason": "e2e"}, format="json")
    assert rolled.status_code == 200, rolled.content
    assert model_version_active(kind="ranker") == first
    wait_for(lambda: _latest_by(unreviewed, first.version), timeout=180, what="the queue rescored after the rollback")
    assert EventScore.objects.filter(event_id__in=unreviewed, ranker_version=first.version).count() == 2 * len(
        unreviewed
    )


def _latest_by(ids: list[int], version: str) -> bool:
    """Every event scored, its latest score by `version`, and the queue's columns showing that score."""
    for event in Event.objects.filter(pk__in=ids):
        latest = EventScore.objects.filter(event=event).order_by("-scored_at", "-id").first()
        if event.scoring_state != ScoringState.SCORED or latest is None or latest.ranker_version != version:
            return False
        if event.importance != latest.importance or event.predicted_class != latest.predicted_class:
            return False
    return True
