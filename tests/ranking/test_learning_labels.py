"""Labels with provenance, disagreement and agreement, the active-learning views, and retraining after N labels,
on real PNSN labels: a ranker trained on the first 400 catalogue rows scores the next 100 as unreviewed events."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from analyst.ingest.services import events_ingest_file
from events.models import Event, EventLabel
from ranking.ml.classes import DECISION_CLASSES
from ranking.models import EventScore, ModelVersion, TrainingRun
from ranking.scoring import events_score
from ranking.selectors import event_label_decisions, events_likely_mislabelled, label_agreement
from ranking.training import labelled_events, ranker_train
from tests.support.workbench_data import PNSN, pnsn_head

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing", "empty_broker")]


@pytest.fixture
def scored_pnsn(shared_data: Path, tmp_path: Path) -> ModelVersion:
    """A ranker trained on 400 real PNSN labels scores the next 100 catalogue rows, imported as unreviewed."""
    events_ingest_file(path=pnsn_head(shared_data, tmp_path, rows=400), reviewed=True)
    version = ranker_train(created_by="first", promote=True)
    lines = (shared_data / PNSN).read_text().splitlines()
    following = tmp_path / "pnsn_next.csv"
    following.write_text("\n".join([lines[0], *lines[401:501]]) + "\n")
    report = events_ingest_file(path=following)
    assert len(events_score(event_ids=report.event_ids).scored) == 100
    return version


def api_for(user: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def decide(user: User, event_id: int, **body: Any) -> Any:
    event = Event.objects.get(pk=event_id)
    answer = api_for(user).post(f"/api/events/{event_id}/review/", {"version": event.version, **body}, format="json")
    assert answer.status_code == 200, answer.content
    return answer


def _unreviewed_scored() -> list[Event]:
    return list(Event.objects.filter(scores__isnull=False).order_by("-predicted_probability", "pk"))


def test_a_decision_becomes_a_label_with_the_analyst_time_decision_and_what_the_models_predicted(
    scored_pnsn: ModelVersion, analyst: User
) -> None:
    event = _unreviewed_scored()[0]
    score = EventScore.objects.get(event=event)
    decide(analyst, event.pk, decision="accept", event_type="earthquake", certainty="suspected")
    label = EventLabel.objects.get(event=event)
    assert (label.source, label.analyst, label.event_type, label.event_type_certainty, label.review_state) == (
        "analyst",
        analyst,
        "earthquake",
        "suspected",
        "accepted",
    )
    assert label.created_at is not None
    assert label.predicted["ranker_version"] == scored_pnsn.version
    assert label.predicted["model_versions"] == {"ranker": scored_pnsn.version}
    assert label.predicted["class_probabilities"] == score.class_probabilities
    assert label.predicted["importance"] == pytest.approx(score.importance)
    imported = EventLabel.objects.exclude(event=event)
    assert imported.count() == 400 and set(imported.values_list("source", flat=True)) == {"imported_review"}


def test_analysts_who_disagree_are_counted_and_the_latest_decision_is_the_label(
    scored_pnsn: ModelVersion, analyst: User, senior_analyst: User
) -> None:
    first, second = _unreviewed_scored()[:2]
    decide(analyst, first.pk, decision="accept", event_type="earthquake")
    decide(senior_analyst, first.pk, decision="reject")  # the senior analyst overrules: a false event
    decide(analyst, second.pk, decision="accept", event_type="earthquake")
    decide(senior_analyst, second.pk, decision="set_type", event_type="earthquake", certainty="known")
    catalogue_event = Event.objects.filter(labels__source="imported_review", event_type="explosion").first()
    assert catalogue_event is not None
    decide(analyst, catalogue_event.pk, decision="set_type", event_type="earthquake")

    history = {row["event_id"]: row for row in event_label_decisions()}
    assert history[first.pk]["disagree"] is True and history[second.pk]["disagree"] is False
    assert [d["analyst"] for d in history[first.pk]["decisions"]] == ["ana", "sen"]
    assert history[first.pk]["label"]["decision_class"] == "not_existing"
    assert {row["event_id"] for row in event_label_decisions(disagreeing_only=True)} == {catalogue_event.pk, first.pk}
    agreement = label_agreement()
    assert agreement["events_decided_more_than_once"] == 3 and agreement["events_with_disagreement"] == 2
    assert agreement["between_analysts"]["pairs"] == 2
    assert agreement["between_analysts"]["percent_agreement"] == 50.0
    assert agreement["analyst_vs_catalogue"] == {"pairs": 1, "percent_agreement": 0.0, "cohen_kappa": 0.0}
    data = labelled_events()
    position = data.event_ids.index(first.pk)
    assert DECISION_CLASSES[data.labels[position]] == "not_existing"  # training uses the latest decision
    answer = api_for(analyst).get("/api/learning/labels/?disagreeing=true").json()
    assert answer["agreement"]["events_with_disagreement"] == 2 and len(answer["events"]) == 2


def test_most_informative_first_orders_unreviewed_events_by_the_entropy_of_their_probabilities(
    scored_pnsn: ModelVersion, analyst: User
) -> None:
    rows = api_for(analyst).get("/api/learning/informative/?limit=100").json()["results"]
    assert len(rows) == 100
    entropies = []
    for row in rows:
        p = np.clip(np.array([row["probabilities"][name] for name in DECISION_CLASSES]), 1e-12, 1)
        entropies.append(-(p * np.log(p)).sum() / np.log(4))
        assert row["entropy"] == pytest.approx(entropies[-1], abs=1e-4)
    stored = [row["entropy"] for row in rows]
    assert stored == sorted(stored, reverse=True) and stored[0] > stored[-1]
    by_margin = api_for(analyst).get("/api/learning/informative/?measure=margin&limit=5").json()["results"]
    margins = [row["margin"] for row in by_margin]
    assert margins == sorted(margins) and margins[0] <= min(row["margin"] for row in rows)
    assert api_for(analyst).get("/api/learning/informative/?measure=coin").status_code == 400
    decide(analyst, rows[0]["id"], decision="reject")
    remaining = api_for(analyst).get("/api/learning/informative/?limit=100").json()["results"]
    assert rows[0]["id"] not in [row["id"] for row in remaining]  # reviewed events leave the view


def test_likely_mislabelled_lists_reviewed_events_the_model_confidently_contradicts(
    scored_pnsn: ModelVersion, senior_analyst: User
) -> None:
    confident = _unreviewed_scored()[0]
    assert confident.predicted_class != "not_existing" and confident.predicted_probability is not None
    threshold = min(0.8, confident.predicted_probability)
    decide(senior_analyst, confident.pk, decision="reject")
    agreeing = _unreviewed_scored()[1]
    same_type = {"earthquake": "earthquake", "explosion_like": "explosion"}[agreeing.predicted_class]
    decide(senior_analyst, agreeing.pk, decision="accept", event_type=same_type)
    rows = events_likely_mislabelled(confidence=threshold)
    assert [(row["event"].pk, row["label"], row["model_class"]) for row in rows] == [
        (confident.pk, "not_existing", confident.predicted_class)
    ]
    answer = api_for(senior_analyst).get(f"/api/learning/mislabelled/?confidence={threshold}").json()
    assert [row["id"] for row in answer["results"]] == [confident.pk]
    assert api_for(senior_analyst).get("/api/learning/mislabelled/?confidence=2").status_code == 400


def test_retraining_starts_after_the_configured_number_of_new_labels(
    scored_pnsn: ModelVersion, analyst: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.SEISTRIAGE_RETRAIN_AFTER_LABELS = 3
    events = _unreviewed_scored()
    for event in events[:2]:
        with django_capture_on_commit_callbacks(execute=True):
            decide(analyst, event.pk, decision="accept", event_type="earthquake")
    assert not TrainingRun.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        decide(analyst, events[2].pk, decision="reject")
    run = TrainingRun.objects.get()
    assert (run.kind, run.trigger, run.status) == ("ranker", "label_count", "queued")
    with django_capture_on_commit_callbacks(execute=True):
        decide(analyst, events[3].pk, decision="reject")
    assert TrainingRun.objects.count() == 1  # counting starts again from the run
