"""Conformal triage in the store and the queue on real events: each scored ComCat event is "confident: class" or
"needs review"; the queue API shows and filters it; automatic decisions happen only when enabled, each audited."""

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from rest_framework.test import APIClient

from analyst.auto_decisions import events_auto_decide
from analyst.models import AuditAction, AuditEntry
from events.models import Event, EventLabel
from events.vocabulary import ReviewState, Triage
from ranking.scoring import events_score
from tests.support.workbench_data import rolled_back, scored_comcat_week

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


@pytest.fixture(scope="module")
def week(django_db_setup: None, django_db_blocker: Any, shared_data: Path, tmp_path_factory: Any) -> Any:
    with rolled_back(django_db_blocker):
        yield scored_comcat_week(shared_data, tmp_path_factory.mktemp("pnsn"))


@pytest.fixture
def client(analyst: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(analyst)
    return api


def test_each_scored_event_is_confident_in_one_class_or_needs_review(week) -> None:
    rows = list(Event.objects.filter(pk__in=week).values("triage", "triage_class", "predicted_class"))
    assert {row["triage"] for row in rows} == {Triage.CONFIDENT, Triage.NEEDS_REVIEW}
    for row in rows:
        if row["triage"] == Triage.CONFIDENT:
            assert row["triage_class"] == row["predicted_class"]
        else:
            assert row["triage_class"] is None


def test_the_queue_shows_the_triage_and_filters_on_it(client: APIClient, week) -> None:
    everything = client.get("/api/events/", {"limit": 200}).json()["results"]
    assert all({"triage", "triage_class"} <= set(row) for row in everything)
    for state in (Triage.CONFIDENT, Triage.NEEDS_REVIEW):
        answer = client.get("/api/events/", {"triage": state, "limit": 200})
        assert answer.status_code == 200, answer.content
        rows = answer.json()["results"]
        assert rows and all(row["triage"] == state for row in rows)
    refused = client.get("/api/events/", {"triage": "sure"})
    assert refused.status_code == 400 and "triage" in refused.json()


def test_nothing_is_decided_automatically_unless_the_setting_says_so(week) -> None:
    confident = list(Event.objects.filter(pk__in=week, triage=Triage.CONFIDENT).values_list("pk", flat=True)[:20])
    assert events_auto_decide(event_ids=confident) == []
    assert not AuditEntry.objects.filter(action=AuditAction.AUTO_DECISION).exists()


def test_with_auto_commit_each_automatic_decision_is_audited_as_such_and_trains_nothing(
    week, django_capture_on_commit_callbacks: Any
) -> None:
    confident = list(Event.objects.filter(pk__in=week, triage=Triage.CONFIDENT).order_by("pk")[:10])
    needs_review = list(Event.objects.filter(pk__in=week, triage=Triage.NEEDS_REVIEW).order_by("pk")[:5])
    labels_before = EventLabel.objects.count()
    ids = [event.pk for event in confident + needs_review]
    with override_settings(SEISTRIAGE_TRIAGE_AUTO_COMMIT=True), django_capture_on_commit_callbacks(execute=True):
        events_score(event_ids=ids, force=True)  # the scores' commit sends events_scored; analyst decides
    decided = {entry.event_id: entry for entry in AuditEntry.objects.filter(action=AuditAction.AUTO_DECISION)}
    assert set(decided) == {event.pk for event in confident}  # the same model and inputs: the same triage
    for event in confident:
        event.refresh_from_db()
        entry = decided[event.pk]
        assert entry.user is None and "conformal triage" in entry.comment
        assert event.review_state in (ReviewState.ACCEPTED, ReviewState.REJECTED)
        assert entry.after["review_state"] == event.review_state and entry.event_version == event.version
    for event in needs_review:
        event.refresh_from_db()
        assert event.review_state == ReviewState.SCORED
    assert EventLabel.objects.count() == labels_before


def test_the_model_page_shows_the_gate_the_conformal_triage_and_the_effort_per_profile(week, analyst: User) -> None:
    from django.test import Client

    from ranking.training import ranker_evaluate

    # The first 1,000 PNSN events run to April 2018: the gate trains on January-March and tests on April.
    result = ranker_evaluate(since=dt.datetime(2018, 4, 1, tzinfo=dt.UTC), until=dt.datetime(2018, 5, 1, tzinfo=dt.UTC))
    evidence = result["metrics"]["ranking_evidence"]
    assert evidence["empty_explanations"] == 0
    assert set(evidence["profiles"]) == {"regional", "verification", "hazard"}
    gate = evidence["gate"]
    assert gate["baseline_ap"] > 0 and gate["product_ap"] > 0 and "place" in gate["ablation"]
    browser = Client()
    browser.force_login(analyst)
    page = browser.get("/models/ranker/").content.decode()
    for table in ('id="baseline-gate"', 'id="conformal-triage"', 'id="effort-curves"'):
        assert table in page
    assert f"product {gate['product_ap']}" in page and "group place" in page
    assert page.count("<td>verification</td>") == 3  # importance, origin time and magnitude orders
    assert "Ranking evidence" not in browser.get("/models/cnn/").content.decode()
