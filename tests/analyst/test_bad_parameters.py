"""The 17 query inputs the 2026-12 review turned into HTTP 500 (L1) answer 4xx naming the parameter, on a real
event (ObsPy's ComCat quarry blast) with a real analyst session, through the URL router and middleware."""

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from events.models import Event

pytestmark = pytest.mark.django_db

# (method, URL with {event} for an event id, the parameter the answer must name); the FDSN ones are anonymous.
CASES = [
    ("GET", "/fdsnws/event/1/query?eventid=%C2%B2", "eventid"),
    ("GET", "/fdsnws/event/1/query?offset=10000000000000000000000000", "offset"),
    ("GET", "/fdsnws/event/1/query?limit=%C2%B2", "limit"),
    ("GET", "/fdsnws/event/1/query?starttime=9999-12-31T23:59:59.9999999", "starttime"),
    ("GET", "/api/events/?limit=%C2%B2", "limit"),
    ("GET", "/api/events/?after_event=%C2%B2", "after_event"),
    ("GET", "/api/events/?after_event=10000000000000000000000000", "after_event"),
    ("GET", "/api/learning/informative/?limit=%C2%B2", "limit"),
    ("GET", "/api/learning/labels/?limit=%C2%B2", "limit"),
    ("GET", "/events/?after=%C2%B2", "after"),
    ("GET", "/events/?after=10000000000000000000000000", "after"),
    ("GET", "/api/presence/?events=%C2%B2", "events"),
    ("GET", "/api/presence/?events=1,10000000000000000000000000", "events"),
    ("GET", "/api/events/{event}/waveforms/?width=%C2%B2", "width"),
    ("GET", "/api/events/{event}/waveforms/?start=1e300", "start"),
    ("GET", "/api/events/{event}/waveforms/?start=-1e300", "start"),
    ("GET", "/api/events/{event}/waveforms/?start=inf", "start"),
    ("GET", "/api/events/{event}/waveforms/?start=-inf", "start"),
    ("GET", "/api/events/{event}/waveforms/?end=1e300", "end"),
    ("GET", "/api/events/{event}/waveforms/?fmax=5e-324", "fmax"),
    ("GET", "/api/events/{event}/waveforms/?fmin=nan", "fmin"),
    ("GET", "/api/events/{event}/waveforms/?channels=%00.%00.%00.%00", "channels"),
    ("OPTIONS", "/api/docs/", "GET"),  # 405, its Allow header naming the methods the page answers
]


@pytest.fixture
def quarry_blast(obspy_data: Path) -> Event:
    call_command("import_events", str(obspy_data / "io/quakeml/tests/data/usgs_event.xml"), verbosity=0)
    return Event.objects.get()


@pytest.mark.parametrize(("method", "url", "parameter"), CASES, ids=[f"{m} {u}" for m, u, _ in CASES])
def test_a_bad_parameter_is_a_client_error_that_names_it(
    client: Client, senior_analyst: User, quarry_blast: Event, method: str, url: str, parameter: str
) -> None:
    cache.clear()  # the FDSN service counts anonymous queries per address
    if not url.startswith("/fdsnws/"):
        client.force_login(senior_analyst)
    response = client.generic(method, url.format(event=quarry_blast.pk))
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert parameter in response.content.decode(errors="replace") or parameter in response.get("Allow", "")


def test_an_out_of_range_id_or_offset_is_refused_but_the_largest_bigint_is_not(
    client: Client, quarry_blast: Event
) -> None:
    cache.clear()
    assert client.get("/fdsnws/event/1/query?offset=9223372036854775807").status_code == 204
    assert client.get("/fdsnws/event/1/query?offset=9223372036854775808").status_code == 400
    assert client.get(f"/fdsnws/event/1/query?eventid={quarry_blast.pk}&format=text").status_code in (200, 204)


NUL_IN_THE_PATH = [
    ("GET", "/api/imports/a%00b/", 404),
    ("GET", "/api/bulletins/jobs/a%00b/", 404),
    ("POST", "/api/models/ranker/versions/a%00b/promote/", 404),
    ("POST", "/api/models/ranker/versions/a%00b/rollback/", 404),
    ("GET", "/api/models/a%00b/", 404),
    ("GET", "/models/a%00b/", 404),
    ("GET", "/api/events/{event}/waveforms/A.B%00.C.D/", 400),
    ("GET", "/api/events/{event}/waveforms/A.B%00.C.D/spectrogram/", 400),
]


@pytest.mark.parametrize(("method", "url", "code"), NUL_IN_THE_PATH, ids=[f"{m} {u}" for m, u, _ in NUL_IN_THE_PATH])
def test_a_nul_in_a_path_name_is_refused_rather_than_a_database_error(
    senior_analyst: User, quarry_blast: Event, method: str, url: str, code: int
) -> None:
    """Found after the review, same family as L1: PostgreSQL refuses NUL in a query, which was a 500 for job ids,
    model versions and a trace's SEED id."""
    client = Client(raise_request_exception=False)
    client.force_login(senior_analyst)
    response = client.generic(method, url.format(event=quarry_blast.pk), b"{}", content_type="application/json")
    assert response.status_code == code, (response.status_code, response.content[:300])
