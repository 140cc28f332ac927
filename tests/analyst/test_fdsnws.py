"""The FDSN event service through ObsPy's own FDSN client against a live server: it returns exactly the
events the filters select."""

import datetime as dt
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import QuerySet
from obspy import UTCDateTime
from obspy.clients.fdsn import Client
from obspy.clients.fdsn.header import FDSNNoDataException
from obspy.geodetics import locations2degrees

from analyst.bulletins.conversion import quakeml_uri
from events.models import Event
from tests.support.export_data import import_bundled, review_some

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def catalogue(obspy_data: Path, analyst: User) -> None:
    import_bundled(obspy_data)
    review_some(analyst)
    # Accept the Nordic events too (as a senior would after review), so the service has a catalogue to serve.
    Event.objects.filter(source_format="NORDIC", review_state="new").update(review_state="accepted")


@pytest.fixture
def client(live_server: Any) -> Client:
    return Client(base_url=live_server.url, _discover_services=True)


def _ids(queryset: QuerySet[Event]) -> set[str]:
    return {quakeml_uri(p) for p in queryset.values_list("public_id", flat=True)}


def _get(client: Client, **kwargs: Any) -> set[str]:
    try:
        return {str(e.resource_id) for e in client.get_events(**kwargs)}
    except FDSNNoDataException:
        return set()


def test_obspy_client_gets_exactly_the_selected_events(catalogue: None, client: Client) -> None:
    accepted = Event.objects.filter(review_state="accepted")
    assert _get(client) == _ids(accepted)
    start, end = UTCDateTime(2013, 9, 1), UTCDateTime(2013, 9, 2)
    in_window = accepted.filter(
        origin_time__gte=start.datetime.replace(tzinfo=dt.UTC), origin_time__lte=end.datetime.replace(tzinfo=dt.UTC)
    )
    assert in_window.exists()
    assert _get(client, starttime=start, endtime=end) == _ids(in_window)
    assert _get(client, minmagnitude=1.5) == _ids(accepted.filter(magnitude__gte=1.5))
    assert _get(client, mindepth=5, maxdepth=10) == _ids(accepted.filter(depth__gte=5, depth__lte=10))
    box = accepted.filter(latitude__gte=-44, latitude__lte=-43, longitude__gte=170, longitude__lte=171)
    assert _get(client, minlatitude=-44, maxlatitude=-43, minlongitude=170, maxlongitude=171) == _ids(box)


def test_eventtype_and_updatedafter_select_on_the_server(catalogue: None, client: Client) -> None:
    accepted = Event.objects.filter(review_state="accepted")
    blasts = accepted.filter(event_type__in=["quarry blast", "mining explosion"])
    assert blasts.count() >= 2
    assert _get(client, eventtype="quarry blast,mining explosion") == _ids(blasts)
    assert _get(client, eventtype="*explosion") == _ids(accepted.filter(event_type__endswith="explosion"))
    latest = accepted.order_by("-updated_at").first()
    assert latest is not None
    cutoff = latest.updated_at - dt.timedelta(microseconds=1)
    assert _get(client, updatedafter=UTCDateTime(cutoff)) == _ids(accepted.filter(updated_at__gt=cutoff))


def test_radius_orderby_limit_and_arrivals(catalogue: None, client: Client) -> None:
    accepted = Event.objects.filter(review_state="accepted")
    events = client.get_events(
        latitude=-43.3, longitude=170.4, maxradius=0.5, orderby="magnitude", limit=5, includearrivals=True
    )
    magnitudes = [e.preferred_magnitude().mag for e in events]
    assert magnitudes == sorted(magnitudes, reverse=True) and len(events) == 5
    expected = accepted.order_by("-magnitude", "-origin_time", "-id")
    near = [e for e in expected if locations2degrees(e.latitude, e.longitude, -43.3, 170.4) <= 0.5]
    assert magnitudes == [e.magnitude for e in near[:5]]
    assert any(e.picks for e in events) and all(len(e.origins) == 1 for e in events)
    assert not any(e.picks for e in client.get_events(latitude=-43.3, longitude=170.4, maxradius=0.5, limit=3))


def test_rejected_and_unreviewed_events_are_not_served_by_default(catalogue: None, client: Client) -> None:
    hidden = Event.objects.exclude(review_state="accepted")
    assert hidden.exists()
    assert not (_get(client) & _ids(hidden))


def test_errors_follow_the_specification(catalogue: None, live_server: Any) -> None:
    def status(query: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"{live_server.url}/fdsnws/event/1/{query}") as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    code, body = status("query?minmag=abc")
    assert code == 400 and "minmagnitude: 'abc' is not a number" in body and body.startswith("Error 400")
    assert status("query?bogus=1")[0] == 400
    assert status("query?starttime=2030-01-01&nodata=404")[0] == 404
    assert status("query?starttime=2030-01-01")[0] == 204
    assert status("query?limit=100000000")[0] == 413
    assert status("version") == (200, "1.2.0")
    assert "<Catalog>SEISTRIAGE</Catalog>" in status("catalogs")[1]
    assert "<Contributor>" in status("contributors")[1]
    code, text = status("query?format=text&limit=2&orderby=time-asc")
    assert code == 200 and text.startswith("#EventID|") and len(text.strip().splitlines()) == 3
