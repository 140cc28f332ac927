"""The public FDSN event service cannot be used to take the web workers down (review 2026-12, H2): answers above
SEISTRIAGE_FDSN_MAX_EVENTS are refused unless paged, anonymous clients are throttled per address, and an answer
that cannot be written is an error, never a 200 cut short."""

import io
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from obspy import read_events

from events.models import Event
from tests.support.export_data import import_bundled, review_some


@pytest.fixture
def catalogue(obspy_data: Path, analyst: User) -> int:
    import_bundled(obspy_data)
    review_some(analyst)
    Event.objects.filter(source_format="NORDIC", review_state="new").update(review_state="accepted")
    return Event.objects.filter(review_state="accepted", origin_time__isnull=False, latitude__isnull=False).count()


@pytest.fixture
def fresh_counts() -> None:
    cache.clear()  # the per-address query counts live in the cache


@pytest.mark.django_db
def test_an_unbounded_query_above_the_cap_is_refused_with_a_way_to_page(
    client: Client, catalogue: int, fresh_counts: None, settings: Any
) -> None:
    settings.SEISTRIAGE_FDSN_MAX_EVENTS = 10
    assert catalogue > 10
    response = client.get("/fdsnws/event/1/query")
    body = response.content.decode()
    assert response.status_code == 413 and "more than 10 events match" in body
    assert "limit" in body and "offset" in body and "narrow" in body
    assert client.get("/fdsnws/event/1/query?limit=11").status_code == 413

    seen: set[str] = set()
    for offset in range(1, catalogue + 1, 10):
        page = client.get(f"/fdsnws/event/1/query?limit=10&offset={offset}&orderby=time-asc")
        document = page.getvalue()
        assert page.status_code == 200 and page["Content-Length"] == str(len(document))
        seen |= {str(event.resource_id) for event in read_events(io.BytesIO(document))}
    assert len(seen) == catalogue


@pytest.mark.django_db
def test_anonymous_clients_are_throttled_per_address_and_analysts_are_not(
    client: Client, analyst: User, catalogue: int, fresh_counts: None, settings: Any
) -> None:
    settings.SEISTRIAGE_FDSN_ANONYMOUS_PER_MINUTE = 3
    url = "/fdsnws/event/1/query?limit=1&format=text"
    # Seven queries span at most two minutes of counting, so one minute holds at least four of them.
    answers = [client.get(url, REMOTE_ADDR="192.0.2.10") for _ in range(7)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    refused = [a for a in answers if a.status_code == 429]
    assert refused and int(refused[0]["Retry-After"]) >= 1
    assert "more than 3 queries a minute" in refused[0].content.decode()
    assert client.get(url, REMOTE_ADDR="192.0.2.11").status_code == 200
    client.force_login(analyst)
    assert all(client.get(url, REMOTE_ADDR="192.0.2.10").status_code == 200 for _ in range(5))


@pytest.mark.django_db(transaction=True)
def test_an_answer_the_writer_cannot_finish_is_an_error_not_a_truncated_200(
    obspy_data: Path, live_server: Any, fresh_counts: None
) -> None:
    for name in ("usgs_event.xml", "iris_events.xml", "neries_events.xml"):
        call_command("import_events", str(obspy_data / "io/quakeml/tests/data" / name), verbosity=0)
    Event.objects.update(review_state="accepted")
    # A legacy description with a vertical tab: XML 1.0 cannot carry it, so the QuakeML writer fails on it.
    Event.objects.filter(pk=Event.objects.order_by("-origin_time").values("pk")[:1]).update(description="a\x0bb")
    try:
        with urllib.request.urlopen(f"{live_server.url}/fdsnws/event/1/query?orderby=time-asc") as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    if status == 200:  # a writer that copes with the character must then send the whole document
        assert body.rstrip().endswith(b"</q:quakeml>")
    else:
        assert status == 500 and b"the answer could not be written" in body
