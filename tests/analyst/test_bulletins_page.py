"""The bulletins page and API: analysts stream drafts, senior analysts publish a recorded file that downloads
again byte for byte, outsiders get 403."""

import csv
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponseBase
from django.test import Client
from obspy import read_events

from analyst.bulletins.conversion import quakeml_uri
from analyst.models import Bulletin
from events.models import Event
from tests.support.export_data import catalogue_for_module

pytestmark = pytest.mark.django_db
WINDOW = {"start": "1990-01-01T00:00:00", "end": "2030-01-01T00:00:00"}


@pytest.fixture(scope="module", autouse=True)
def catalogue(django_db_setup: None, django_db_blocker: Any, obspy_data: Path) -> Iterator[None]:
    with catalogue_for_module(django_db_blocker, obspy_data):
        yield


def _body(response: HttpResponseBase) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return response.content  # type: ignore[attr-defined,no-any-return]


def _accepted_ids() -> set[str]:
    return {quakeml_uri(p) for p in Event.objects.filter(review_state="accepted").values_list("public_id", flat=True)}


def test_an_analyst_streams_a_draft_but_cannot_publish(client: Client, analyst: User) -> None:
    client.force_login(analyst)
    page = client.get("/bulletins/")
    assert page.status_code == 200 and b"Download draft" in page.content and b"Publish</button>" not in page.content
    response = client.get("/bulletins/draft/", {**WINDOW, "format": "quakeml"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="seistriage-draft-19900101-20300101.xml"'
    catalog = read_events(io.BytesIO(_body(response)), format="QUAKEML")
    assert {str(e.resource_id) for e in catalog} == _accepted_ids()
    assert client.post("/bulletins/", {**WINDOW, "format": "quakeml"}).status_code == 403
    assert not Bulletin.objects.exists()


def test_a_senior_publishes_and_an_analyst_downloads_it_byte_for_byte(
    client: Client, analyst: User, senior_analyst: User
) -> None:
    client.force_login(senior_analyst)
    assert b"Publish</button>" in client.get("/bulletins/").content
    response = client.post("/bulletins/", {**WINDOW, "format": "ims1.0", "status": "all"})
    assert response.status_code == 302 and response["Location"] == "/bulletins/"
    bulletin = Bulletin.objects.get()
    assert (bulletin.kind, bulletin.created_by, bulletin.format) == ("published", senior_analyst, "ims1.0")
    assert bulletin.event_count == Event.objects.exclude(origin_time=None).count()
    client.force_login(analyst)
    page = client.get("/bulletins/").content.decode()
    assert f"/bulletins/{bulletin.pk}/file/" in page and bulletin.sha256[:16] in page
    downloaded = _body(client.get(f"/bulletins/{bulletin.pk}/file/"))
    assert hashlib.sha256(downloaded).hexdigest() == bulletin.sha256 and len(downloaded) == bulletin.size_bytes
    assert _body(client.get(f"/api/bulletins/{bulletin.pk}/file/")) == downloaded


def test_the_api_publishes_for_seniors_only_and_lists_what_was_published(
    client: Client, analyst: User, senior_analyst: User
) -> None:
    request = {**WINDOW, "format": "geojson", "event_types": ["quarry blast", "earthquake"], "min_magnitude": 1.0}
    client.force_login(analyst)
    assert client.post("/api/bulletins/", request, content_type="application/json").status_code == 403
    client.force_login(senior_analyst)
    key = client.post("/api/token/").json()["key"]
    client.logout()
    auth = f"Token {key}"
    created = client.post("/api/bulletins/", request, content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert created.status_code == 201, created.content
    record = created.json()
    selected = Event.objects.filter(review_state="accepted", event_type__in=request["event_types"], magnitude__gte=1.0)
    assert record["event_count"] == selected.count() > 0 and record["created_by"] == "sen"
    assert record["filters"]["event_types"] == "quarry blast,earthquake"
    assert client.get("/api/bulletins/", HTTP_AUTHORIZATION=auth).json()[0]["sha256"] == record["sha256"]
    stored = _body(client.get(record["file_url"], HTTP_AUTHORIZATION=auth))
    assert hashlib.sha256(stored).hexdigest() == record["sha256"]


def test_the_export_api_streams_a_draft_in_the_asked_format(client: Client, analyst: User) -> None:
    client.force_login(analyst)
    response = client.get("/api/export/", {**WINDOW, "format": "csv", "status": "all"})
    assert response.status_code == 200 and response.streaming
    rows = [r for r in csv.reader(io.StringIO(_body(response).decode())) if r and not r[0].startswith("#")]
    assert rows[0][:3] == ["time", "latitude", "longitude"]
    assert len(rows) - 1 == Event.objects.exclude(origin_time=None).count()
    assert not Bulletin.objects.exists()  # drafts are not recorded


def test_bad_requests_name_the_field_and_write_nothing(client: Client, senior_analyst: User) -> None:
    client.force_login(senior_analyst)
    backwards = {"start": "2020-01-02T00:00:00", "end": "2020-01-01T00:00:00", "format": "csv"}
    assert client.get("/api/export/", backwards).json() == {"end": ["must be after start"]}
    assert "format" in client.get("/api/export/", {**WINDOW, "format": "pdf"}).json()
    assert client.post("/api/bulletins/", {**WINDOW}, content_type="application/json").json() == {
        "format": ["This field is required."]
    }
    page = client.post("/bulletins/", backwards)
    assert page.status_code == 400 and b"must be after start" in page.content
    assert client.get("/bulletins/draft/", {**WINDOW, "format": "csv", "min_magnitude": "big"}).status_code == 400
    assert not Bulletin.objects.exists()


def test_outsiders_get_403_and_strangers_must_log_in(client: Client, outsider: User, senior_analyst: User) -> None:
    client.force_login(senior_analyst)
    client.post("/bulletins/", {**WINDOW, "format": "kml"})
    bulletin = Bulletin.objects.get()
    paths = [
        "/bulletins/",
        "/bulletins/draft/?format=csv",
        f"/bulletins/{bulletin.pk}/file/",
        "/api/bulletins/",
        f"/api/bulletins/{bulletin.pk}/file/",
        "/api/export/?format=csv",
    ]
    client.force_login(outsider)
    assert [client.get(path).status_code for path in paths] == [403] * len(paths)
    assert client.post("/api/bulletins/", {**WINDOW, "format": "csv"}).status_code == 403
    client.logout()
    assert client.get("/bulletins/").status_code == 302
    assert client.get("/api/bulletins/").status_code in (401, 403)
