"""Review decisions through the API: what each writes, stale edits refused with 409, roles on every endpoint."""

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from analyst.ingest.services import events_ingest_file
from analyst.models import AuditEntry, EventClaim
from analyst.review import event_claim
from events.models import Event, EventLabel

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


@pytest.fixture
def blast(obspy_data: Path) -> Event:
    """The real SeisComP mining explosion in Western Australia, as an automatic event."""
    events_ingest_file(path=obspy_data / "io/seiscomp/tests/data/quakeml_1.2_quarryblast.xml")
    return Event.objects.get()


@pytest.fixture
def untyped(obspy_data: Path) -> Event:
    """A real NonLinLoc location, which carries no event type."""
    events_ingest_file(path=obspy_data / "io/nlloc/tests/data/nlloc.hyp")
    event = Event.objects.get()
    assert event.event_type == ""
    return event


def api_for(user: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def review(api: APIClient, event: Event, **body: Any) -> Any:
    return api.post(f"/api/events/{event.pk}/review/", {"version": event.version, **body}, format="json")


def test_it_accepts_an_event_and_keeps_the_decision_as_a_label_and_an_audit_entry(analyst: User, blast) -> None:
    Event.objects.filter(pk=blast.pk).update(importance=0.42, predicted_class="explosion_like")
    answer = review(api_for(analyst), blast, decision="accept", certainty="suspected", comment="clear Rg")
    assert answer.status_code == 200, answer.content
    assert answer.json()["version"] == blast.version + 1
    event = Event.objects.get()
    assert (event.review_state, event.event_type, event.event_type_certainty) == (
        "accepted",
        "mining explosion",
        "suspected",
    )
    entry = AuditEntry.objects.get()
    assert (entry.user, entry.action, entry.comment, entry.event_version) == (analyst, "accept", "clear Rg", 2)
    assert entry.before["review_state"] == "new" and entry.after["review_state"] == "accepted"
    assert (entry.importance, entry.predicted_class) == (0.42, "explosion_like")
    label = EventLabel.objects.get(source="analyst")
    assert (label.analyst, label.event_type, label.review_state) == (analyst, "mining explosion", "accepted")
    assert label.predicted["importance"] == 0.42 and label.predicted["predicted_class"] == "explosion_like"


def test_it_rejects_a_false_event_as_not_existing(analyst: User, blast) -> None:
    answer = review(api_for(analyst), blast, decision="reject")
    assert answer.status_code == 200
    event = Event.objects.get()
    assert (event.event_type, event.review_state, event.event_type_certainty) == ("not existing", "rejected", "known")
    assert EventLabel.objects.get(source="analyst").review_state == "rejected"


def test_setting_a_type_puts_the_event_in_review_without_deciding_it(analyst: User, blast) -> None:
    answer = review(api_for(analyst), blast, decision="set_type", event_type="quarry blast", certainty="suspected")
    assert answer.status_code == 200
    event = Event.objects.get()
    assert (event.event_type, event.event_type_certainty, event.review_state) == (
        "quarry blast",
        "suspected",
        "in_review",
    )


def test_a_comment_is_recorded_without_a_label(analyst: User, blast) -> None:
    assert review(api_for(analyst), blast, decision="comment", comment="check MORC").status_code == 200
    assert AuditEntry.objects.get().comment == "check MORC"
    assert not EventLabel.objects.filter(source="analyst").exists()
    assert Event.objects.get().review_state == "new"


def test_accepting_an_event_without_a_type_asks_for_one(analyst: User, untyped) -> None:
    api = api_for(analyst)
    answer = review(api, untyped, decision="accept")
    assert answer.status_code == 400 and "event_type" in answer.json()
    assert not AuditEntry.objects.exists()
    assert review(api, untyped, decision="accept", event_type="earthquake").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "approve"}, "decision"),
        ({"decision": "accept", "event_type": "meteor"}, "event_type"),
        ({"decision": "accept", "certainty": "sure"}, "certainty"),
        ({"decision": "comment", "comment": "  "}, "comment"),
        ({"decision": "accept", "version": "seen"}, "version"),
    ],
)
def test_bad_decisions_get_400_naming_the_field_and_write_nothing(analyst: User, blast, body, field) -> None:
    answer = review(api_for(analyst), blast, **body)
    assert answer.status_code == 400 and field in answer.json()
    assert Event.objects.get().version == blast.version and not AuditEntry.objects.exists()


def test_a_stale_edit_gets_409_with_the_current_state_and_never_overwrites(analyst: User, senior_analyst, blast):
    first = review(api_for(senior_analyst), blast, decision="reject")
    assert first.status_code == 200
    stale = review(api_for(analyst), blast, decision="accept")  # still carries the version ana saw
    assert stale.status_code == 409
    body = stale.json()
    assert "changed since you opened it" in body["detail"]
    assert body["event"]["version"] == blast.version + 1 and body["event"]["review_state"] == "rejected"
    event = Event.objects.get()
    assert (event.review_state, event.event_type) == ("rejected", "not existing")
    actions = sorted(AuditEntry.objects.values_list("user__username", "action"))
    assert actions == [("ana", "review_refused"), ("sen", "reject")]  # the refused attempt is recorded, not applied
    assert EventLabel.objects.filter(source="analyst").count() == 1


def test_an_unknown_event_gets_404(analyst: User, blast) -> None:
    answer = api_for(analyst).post("/api/events/999999/review/", {"version": 1, "decision": "reject"}, format="json")
    assert answer.status_code == 404


def test_a_script_can_review_with_an_api_token(analyst: User, blast) -> None:
    token = Token.objects.create(user=analyst)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/events/").json()["results"][0]["id"] == blast.pk
    assert review(api, blast, decision="reject").status_code == 200


ENDPOINTS = [
    ("get", "/api/events/", None),
    ("get", "/api/events/{id}/", None),
    ("post", "/api/events/{id}/review/", {"decision": "comment", "comment": "hello", "version": 1}),
    ("post", "/api/events/{id}/claim/", None),
    ("delete", "/api/events/{id}/claim/", None),
    ("get", "/api/filters/", None),
    ("post", "/api/filters/", {"name": "big ones", "query": "magnitude_min=4"}),
    ("get", "/api/preferences/columns/", None),
    ("put", "/api/preferences/columns/", {"columns": ["importance", "region"]}),
    ("get", "/api/events/{id}/waveforms/", None),
    ("get", "/api/events/{id}/waveforms/AU.KNA..BHZ/", None),
    ("get", "/api/events/{id}/waveforms/AU.KNA..BHZ/spectrogram/", None),
]


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_an_outsider_and_an_anonymous_visitor_get_403_everywhere(outsider: User, blast, method, url, body) -> None:
    for api in (api_for(outsider), APIClient()):
        answer = getattr(api, method)(url.format(id=blast.pk), body, format="json")
        assert answer.status_code in (401, 403), (url, answer.status_code)
    assert not AuditEntry.objects.exists() and Event.objects.get().version == 1


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_analysts_and_senior_analysts_may_use_every_endpoint(analyst, senior_analyst, blast, method, url, body):
    for user in (analyst, senior_analyst):
        Event.objects.filter(pk=blast.pk).update(version=1)
        EventClaim.objects.all().delete()  # each persona starts from an unclaimed event
        answer = getattr(api_for(user), method)(url.format(id=blast.pk), body, format="json")
        assert answer.status_code in (200, 201), (user.username, url, answer.content)


def test_saved_filters_and_column_choices_belong_to_their_user(analyst: User, senior_analyst: User, blast) -> None:
    api = api_for(analyst)
    saved = api.post("/api/filters/", {"name": "Alaska", "query": "?region=alaska&ordering=-magnitude"}).json()
    assert saved["query"] == "region=alaska&ordering=-magnitude"
    assert [f["name"] for f in api.get("/api/filters/").json()] == ["Alaska"]
    assert api_for(senior_analyst).get("/api/filters/").json() == []
    assert api_for(senior_analyst).delete(f"/api/filters/{saved['id']}/").status_code == 404
    assert api.delete(f"/api/filters/{saved['id']}/").status_code == 204
    assert api.put("/api/preferences/columns/", {"columns": ["region", "importance"]}, format="json").status_code == 200
    assert api.get("/api/preferences/columns/").json()["columns"] == ["region", "importance"]
    assert "rank" in api_for(senior_analyst).get("/api/preferences/columns/").json()["columns"]
    refused = api.put("/api/preferences/columns/", {"columns": ["colour"]}, format="json")
    assert refused.status_code == 400 and "columns" in refused.json()


def test_the_evidence_lists_origins_picks_arrivals_stations_and_history(analyst: User, obspy_data: Path) -> None:
    events_ingest_file(path=obspy_data / "io/iaspei/tests/data/ipe202409sel_ims.txt")
    blast = Event.objects.get(event_type="mining explosion")
    api = api_for(analyst)
    review(api, blast, decision="comment", comment="typical Ostrava blast")
    evidence = api.get(f"/api/events/{blast.pk}/").json()
    assert evidence["public_id"] == blast.public_id and evidence["region"] == blast.region
    assert evidence["score"] is None
    assert len(evidence["picks"]) == blast.picks.count() > 0
    morc = [a for a in evidence["arrivals"] if a["station"] == "MORC" and a["phase"] == "Sg"]
    assert morc and morc[0]["distance"] == pytest.approx(0.66)
    assert {"network": "", "station": "MORC"} in evidence["stations"] or any(
        s["station"] == "MORC" for s in evidence["stations"]
    )
    assert [h["comment"] for h in evidence["history"]] == ["typical Ostrava blast"]
    assert evidence["history"][0]["user"] == "ana"


def test_a_claim_held_by_another_analyst_blocks_their_decision(analyst: User, senior_analyst: User, blast) -> None:
    event_claim(event_id=blast.pk, user=senior_analyst)
    answer = review(api_for(analyst), blast, decision="accept")
    assert answer.status_code == 409
    assert "sen is reviewing this event" in answer.json()["detail"]
    assert answer.json()["event"]["claim"]["claimed_by"] == "sen"
    assert review(api_for(senior_analyst), blast, decision="accept").status_code == 200
