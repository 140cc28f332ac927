"""`manage.py scoring_status`: how many real imported events wait for scoring, for how long, and the queues."""

import json
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from analyst.ingest.services import events_ingest_file
from ranking.scoring import events_score

pytestmark = pytest.mark.django_db


def _status(*args: str) -> dict[str, object]:
    out = StringIO()
    call_command("scoring_status", "--json", *args, stdout=out)
    status: dict[str, object] = json.loads(out.getvalue())
    return status


def test_it_counts_the_waiting_events_and_the_age_of_the_oldest(obspy_data: Path) -> None:
    assert _status("--no-broker")["waiting"] == 0 and _status("--no-broker")["oldest_waiting_age_s"] is None
    report = events_ingest_file(path=obspy_data / "io/nordic/tests/data/select.out")
    time.sleep(0.2)
    status = _status("--no-broker")
    assert status["waiting"] == 50 and status["by_state"]["pending"] == 50  # type: ignore[index]
    assert 0.2 <= status["oldest_waiting_age_s"] < 60  # type: ignore[operator]
    events_score(event_ids=report.event_ids[:10])  # no active ranker: they leave the waiting states as no_model
    status = _status("--no-broker")
    assert status["waiting"] == 40 and status["by_state"]["no_model"] == 10  # type: ignore[index]


def test_it_reports_the_broker_queue_lengths() -> None:
    queues = _status()["queues"]
    assert isinstance(queues, dict) and set(queues) == {"cpu", "gpu", "training"}
    assert all(isinstance(n, int) and n >= 0 for n in queues.values()), queues


def test_it_fails_for_monitoring_when_the_oldest_waits_too_long(obspy_data: Path) -> None:
    events_ingest_file(path=obspy_data / "io/nordic/tests/data/select.out")
    call_command("scoring_status", "--no-broker", "--max-age", "3600", stdout=StringIO())
    time.sleep(0.1)
    with pytest.raises(CommandError, match="has waited"):
        call_command("scoring_status", "--no-broker", "--max-age", "0.05", stdout=StringIO())
    text = StringIO()
    call_command("scoring_status", "--no-broker", stdout=text)
    assert text.getvalue().startswith("waiting for scoring: 50 (oldest ")
