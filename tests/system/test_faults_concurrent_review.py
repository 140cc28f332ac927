"""Two analysts deciding the same real event at the same moment, through real concurrent HTTP requests to a live
server: exactly one decision wins, the other gets 409, and only the winner's change is in the event, the audit and
the training labels; the audit trail shows both attempts (the loser's as `review_refused`, naming what was asked
and the version it saw)."""

import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from analyst.ingest.services import events_ingest_file
from analyst.models import AuditEntry
from analyst.roles import roles_ensure
from events.models import Event, EventLabel

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 6


def _analyst(name: str) -> str:
    user = User.objects.create_user(name, password=f"{name}-password-1")
    user.groups.add(roles_ensure()["analyst"])
    return str(Token.objects.create(user=user).key)


def _decide_together(url: str, bodies: list[tuple[str, dict[str, Any]]]) -> list[requests.Response]:
    """Send the requests at the same instant, one thread each, released together by a barrier."""
    barrier = threading.Barrier(len(bodies))
    answers: list[requests.Response | None] = [None] * len(bodies)

    def send(index: int, key: str, body: dict[str, Any]) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {key}"
        barrier.wait(timeout=10)
        answers[index] = session.post(url, json=body, timeout=60)

    threads = [threading.Thread(target=send, args=(i, key, body)) for i, (key, body) in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert all(answer is not None for answer in answers), "a request did not come back"
    return [answer for answer in answers if answer is not None]


def test_two_analysts_deciding_one_event_at_once_one_wins_and_one_gets_409(live_server: Any, obspy_data: Path) -> None:
    report = events_ingest_file(path=obspy_data / "io/nordic/tests/data/select.out")
    keys = {"ada": _analyst("ada"), "bob": _analyst("bob")}
    for event_id in report.event_ids[:ROUNDS]:
        event = Event.objects.get(pk=event_id)
        bodies = [
            (keys["ada"], {"version": event.version, "decision": "accept", "event_type": "earthquake"}),
            (keys["bob"], {"version": event.version, "decision": "accept", "event_type": "quarry blast"}),
        ]
        answers = _decide_together(f"{live_server.url}/api/events/{event_id}/review/", bodies)
        codes = sorted(answer.status_code for answer in answers)
        assert codes == [200, 409], [(a.status_code, a.text[:200]) for a in answers]
        winner = "ada" if answers[0].status_code == 200 else "bob"
        loser_answer = answers[1] if winner == "ada" else answers[0]
        assert "changed since you opened it" in loser_answer.json()["detail"]
        event.refresh_from_db()
        assert event.version == 2 and event.review_state == "accepted"
        assert event.event_type == ("earthquake" if winner == "ada" else "quarry blast")
        entries = list(AuditEntry.objects.filter(event=event).select_related("user").order_by("id"))
        attempts = sorted((e.user.username if e.user else None, e.action) for e in entries)
        loser = "bob" if winner == "ada" else "ada"
        assert attempts == sorted([(winner, "accept"), (loser, "review_refused")]), attempts
        refused = next(e for e in entries if e.action == "review_refused")
        assert refused.after["version_seen"] == 1 and refused.after["decision"] == "accept"
        assert refused.after["event_type"] == ("quarry blast" if winner == "ada" else "earthquake")
        assert refused.after["refused"] == "stale version" and refused.event_version == 2
        assert refused.before["event_type"] == event.event_type  # the state that refused it: the winner's
        assert EventLabel.objects.filter(event=event, source="analyst").count() == 1  # refused: nothing applied
