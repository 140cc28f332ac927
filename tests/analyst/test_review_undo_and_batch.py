"""Undo and batch decisions through the API, and the queue's progress line and scolv columns: each undo and each
event of a batch is an audited decision of its own."""

import datetime as dt
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from analyst.ingest.services import events_ingest_file
from analyst.models import AuditEntry
from analyst.review import event_claim
from events.models import Event, EventLabel

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


@pytest.fixture
def blast(obspy_data: Path) -> Event:
    """The real SeisComP mining explosion in Western Australia, as an automatic event."""
    events_ingest_file(path=obspy_data / "io/seiscomp/tests/data/quakeml_1.2_quarryblast.xml")
    return Event.objects.get()


@pytest.fixture
def nordic(obspy_data: Path) -> list[Event]:
    """The 50 real events of ObsPy's Seisan select.out extract, imported unreviewed."""
    events_ingest_file(path=obspy_data / "io/nordic/tests/data/select.out")
    return list(Event.objects.order_by("origin_time", "id"))


def api_for(user: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_undo_puts_the_event_back_as_it_was_and_withdraws_the_label(analyst: User, blast: Event) -> None:
    api = api_for(analyst)
    before = (blast.event_type, blast.event_type_certainty, blast.review_state)
    answer = api.post(
        f"/api/events/{blast.pk}/review/", {"version": blast.version, "decision": "reject"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert EventLabel.objects.filter(event=blast, source="analyst").count() == 1

    undone = api.post("/api/events/undo/")

    assert undone.status_code == 200, undone.content
    assert undone.json()["undone_action"] == "reject"
    event = Event.objects.get(pk=blast.pk)
    assert (event.event_type, event.event_type_certainty, event.review_state) == before
    assert event.version == blast.version + 2
    assert not EventLabel.objects.filter(event=blast, source="analyst").exists()
    entry = AuditEntry.objects.get(action="undo")
    assert entry.user == analyst and entry.event_version == event.version
    assert entry.before["review_state"] == "rejected" and entry.after["review_state"] == before[2]
    assert entry.after["undoes"] == AuditEntry.objects.get(action="reject").pk
    # Nothing else of this analyst's is left to undo.
    assert api.post("/api/events/undo/").status_code == 404


def test_a_second_undo_goes_one_decision_further_back(analyst: User, nordic: list[Event]) -> None:
    api = api_for(analyst)
    first, second = nordic[0], nordic[1]
    for event, kind in ((first, "earthquake"), (second, "quarry blast")):
        body = {"version": event.version, "decision": "accept", "event_type": kind}
        assert api.post(f"/api/events/{event.pk}/review/", body, format="json").status_code == 200

    assert api.post("/api/events/undo/").json()["event"]["id"] == second.pk
    assert api.post("/api/events/undo/").json()["event"]["id"] == first.pk
    assert set(Event.objects.filter(pk__in=[first.pk, second.pk]).values_list("review_state", flat=True)) == {
        first.review_state
    }
    assert AuditEntry.objects.filter(action="undo").count() == 2


def test_undo_never_overwrites_a_later_decision_by_someone_else(
    analyst: User, senior_analyst: User, blast: Event
) -> None:
    api_for(analyst).post(
        f"/api/events/{blast.pk}/review/",
        {"version": blast.version, "decision": "accept", "event_type": "earthquake"},
        format="json",
    )
    now = Event.objects.get(pk=blast.pk)
    api_for(senior_analyst).post(
        f"/api/events/{blast.pk}/review/",
        {"version": now.version, "decision": "accept", "event_type": "quarry blast"},
        format="json",
    )

    refused = api_for(analyst).post("/api/events/undo/")

    assert refused.status_code == 409
    assert "changed after your" in refused.json()["detail"]
    assert Event.objects.get(pk=blast.pk).event_type == "quarry blast"


def test_a_batch_applies_one_type_to_each_event_with_its_own_audit_entry(
    analyst: User, senior_analyst: User, nordic: list[Event]
) -> None:
    chosen = nordic[:5]
    event_claim(event_id=chosen[4].pk, user=senior_analyst)  # someone else holds the last one
    stale = chosen[3]
    body = {
        "decision": "accept",
        "event_type": "quarry blast",
        "events": [{"id": e.pk, "version": e.version + (1 if e is stale else 0)} for e in chosen],
    }

    answer = api_for(analyst).post("/api/events/review-batch/", body, format="json")

    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert (data["decided"], data["refused"]) == (3, 2)
    refused = {row["id"]: row["detail"] for row in data["results"] if not row["ok"]}
    assert "changed since" in refused[stale.pk] and "claimed by" in refused[chosen[4].pk]
    decided = Event.objects.filter(pk__in=[e.pk for e in chosen[:3]])
    assert set(decided.values_list("event_type", "review_state")) == {("quarry blast", "accepted")}
    assert AuditEntry.objects.filter(action="accept", user=analyst).count() == 3
    assert AuditEntry.objects.filter(action="review_refused").count() == 2


def test_a_batch_names_the_bad_field(analyst: User) -> None:
    answer = api_for(analyst).post("/api/events/review-batch/", {"decision": "accept", "events": []}, format="json")
    assert answer.status_code == 400 and "events" in answer.json()


def test_the_progress_line_counts_todays_decisions_and_what_is_left(analyst: User, nordic: list[Event]) -> None:
    api = api_for(analyst)
    for event in nordic[:2]:
        api.post(f"/api/events/{event.pk}/review/", {"version": event.version, "decision": "reject"}, format="json")
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    AuditEntry.objects.create(
        event=nordic[2], user=analyst, action="accept", created_at=yesterday, event_version=9, before={}, after={}
    )

    progress = api.get("/api/events/progress/").json()

    assert progress == {"reviewed_today": 2, "left_in_view": len(nordic) - 2, "left_is_exact": True}


def test_queue_rows_carry_scolvs_columns(analyst: User, blast: Event) -> None:
    row = api_for(analyst).get("/api/events/").json()["results"][0]
    origin = blast.preferred_origin
    assert origin is not None
    assert (row["evaluation_mode"], row["evaluation_status"]) == (origin.evaluation_mode, origin.evaluation_status)
    assert row["origin_count"] == blast.origins.count() >= 1
    assert row["author"] == blast.author


def test_a_comment_since_the_decision_does_not_block_its_undo(analyst: User, blast: Event) -> None:
    api = api_for(analyst)
    api.post(f"/api/events/{blast.pk}/review/", {"version": blast.version, "decision": "reject"}, format="json")
    now = Event.objects.get(pk=blast.pk)
    body = {"version": now.version, "decision": "comment", "comment": "Rg clear on two stations"}
    assert api.post(f"/api/events/{blast.pk}/review/", body, format="json").status_code == 200

    undone = api.post("/api/events/undo/")

    assert undone.status_code == 200, undone.content
    assert undone.json()["undone_action"] == "reject"
    assert Event.objects.get(pk=blast.pk).review_state == blast.review_state
