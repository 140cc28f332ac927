"""Claims: an analyst holds an event while reviewing it; heartbeat, expiry, release and a senior's break."""

import datetime as dt
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from analyst.ingest.services import events_ingest_file
from analyst.models import AuditEntry, EventClaim
from events.models import Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


@pytest.fixture
def events(obspy_data: Path) -> list[Event]:
    events_ingest_file(path=obspy_data / "io/iaspei/tests/data/ipe202409sel_ims.txt")
    return list(Event.objects.order_by("id"))


@pytest.fixture
def second_analyst(analyst: User) -> User:
    other = User.objects.create_user("bea", password="bea-password-1")
    other.groups.set(analyst.groups.all())
    return other


def api_for(user: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def claim_url(event: Event) -> str:
    return f"/api/events/{event.pk}/claim/"


def _lapse(event: Event) -> None:
    """Let the claim run out, as if its holder closed the laptop ten minutes ago."""
    past = timezone.now() - dt.timedelta(seconds=1)
    EventClaim.objects.filter(event=event).update(expires_at=past, heartbeat_at=past - dt.timedelta(minutes=10))


def test_an_analyst_claims_an_event_for_the_configured_time(analyst: User, events, settings) -> None:
    settings.SEISTRIAGE_CLAIM_SECONDS = 120
    answer = api_for(analyst).post(claim_url(events[0]))
    assert answer.status_code == 200
    claim = EventClaim.objects.get()
    assert claim.user == analyst and answer.json()["claimed_by"] == "ana"
    assert (claim.expires_at - claim.heartbeat_at).total_seconds() == pytest.approx(120)


def test_a_heartbeat_renews_the_claim_but_keeps_when_it_began(analyst: User, events) -> None:
    api = api_for(analyst)
    first = api.post(claim_url(events[0])).json()
    EventClaim.objects.update(expires_at=timezone.now() + dt.timedelta(seconds=5))
    second = api.post(claim_url(events[0])).json()
    assert second["claimed_at"] == first["claimed_at"]
    assert second["expires_at"] > first["heartbeat_at"] and EventClaim.objects.get().expires_at > timezone.now() + (
        dt.timedelta(seconds=60)
    )


def test_another_analyst_sees_who_holds_the_event_and_for_how_long(analyst, second_analyst, events) -> None:
    api_for(analyst).post(claim_url(events[0]))
    EventClaim.objects.update(claimed_at=timezone.now() - dt.timedelta(seconds=90))
    refused = api_for(second_analyst).post(claim_url(events[0]))
    assert refused.status_code == 409
    assert refused.json()["claim"]["claimed_by"] == "ana" and refused.json()["claim"]["age_s"] >= 90
    row = api_for(second_analyst).get("/api/events/", {"ordering": "id"}).json()["results"][0]
    assert row["claimed_by"] == "ana"
    evidence = api_for(second_analyst).get(f"/api/events/{events[0].pk}/").json()
    assert evidence["claim"]["claimed_by"] == "ana"


def test_an_expired_claim_holds_nothing(analyst: User, second_analyst: User, events) -> None:
    api_for(analyst).post(claim_url(events[0]))
    _lapse(events[0])
    assert api_for(second_analyst).get(f"/api/events/{events[0].pk}/").json()["claim"] is None
    assert api_for(second_analyst).get("/api/events/", {"claimed_by": "ana"}).json()["results"] == []
    event = Event.objects.get(pk=events[0].pk)
    decided = api_for(second_analyst).post(
        f"/api/events/{event.pk}/review/", {"decision": "reject", "version": event.version}, format="json"
    )
    assert decided.status_code == 200
    taken = api_for(second_analyst).post(claim_url(events[1]))
    assert taken.status_code == 200


def test_the_holder_releases_a_claim_and_a_decision_releases_it_too(analyst: User, events) -> None:
    api = api_for(analyst)
    api.post(claim_url(events[0]))
    assert api.delete(claim_url(events[0])).json() == {"released": True, "broken": False}
    assert not EventClaim.objects.exists()
    api.post(claim_url(events[1]))
    event = Event.objects.get(pk=events[1].pk)
    api.post(f"/api/events/{event.pk}/review/", {"decision": "reject", "version": event.version}, format="json")
    assert not EventClaim.objects.exists()


def test_an_analyst_cannot_break_anothers_claim(analyst: User, second_analyst: User, events) -> None:
    api_for(analyst).post(claim_url(events[0]))
    answer = api_for(second_analyst).delete(claim_url(events[0]))
    assert answer.status_code == 403 and "senior analyst" in answer.json()["detail"]
    assert EventClaim.objects.get().user == analyst


def test_a_senior_analyst_breaks_a_claim_and_the_break_is_audited(analyst: User, senior_analyst: User, events):
    api_for(analyst).post(claim_url(events[0]))
    answer = api_for(senior_analyst).delete(claim_url(events[0]))
    assert answer.json() == {"released": True, "broken": True}
    assert not EventClaim.objects.exists()
    entry = AuditEntry.objects.get()
    assert (entry.user, entry.action, entry.before["claimed_by"]) == (senior_analyst, "claim_break", "ana")
    assert api_for(senior_analyst).post(claim_url(events[0])).json()["claimed_by"] == "sen"


def test_claiming_an_unknown_event_gets_404(analyst: User, events) -> None:
    assert api_for(analyst).post("/api/events/999999/claim/").status_code == 404
