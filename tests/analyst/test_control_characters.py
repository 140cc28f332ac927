"""One control character in an imported text field (security review M1): importers replace it, and the writers
replace one already stored, so the public QuakeML feed, drafts and publishing never fail mid-stream."""

import io
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.http.response import HttpResponseBase
from django.test import Client
from obspy import read_events

from analyst.bulletins.jobs import bulletin_job_run
from analyst.models import Bulletin
from events.models import Event, Origin

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

WINDOW = {"start": "2021-05-01T00:00:00", "end": "2021-06-01T00:00:00"}
FDSN_WINDOW = {"starttime": "2021-05-01", "endtime": "2021-06-01"}
CONTROLS = "\x00\x01\x08\x0b\x0c\x1b\x1f"


def body(response: HttpResponseBase) -> bytes:
    assert response.status_code == 200, response
    if response.streaming:
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return response.content  # type: ignore[attr-defined,no-any-return]


def quakeml_events(document: bytes) -> list[str]:
    """The event descriptions ObsPy reads back from a whole QuakeML document (it fails on a truncated one)."""
    catalog = read_events(io.BytesIO(document), format="QUAKEML")
    return [d.text for event in catalog for d in event.event_descriptions]


@pytest.fixture
def comcat_with_controls(shared_data: Path, tmp_path: Path) -> Path:
    """Two real ComCat rows whose `place` got control characters (a modified copy written here)."""
    header, first, second, *_ = (shared_data / "catalogs/comcat_all_week_2021-05.csv").read_text().splitlines()
    first = first.replace("6km NW of The Geysers, CA", "6km NW\x0bof The Geysers, CA")
    second = second.replace("8km NW of The Geysers, CA", f"8km{CONTROLS} NW of The Geysers, CA")
    path = tmp_path / "comcat.csv"
    path.write_text(f"{header}\n{first}\n{second}\n")
    return path


def test_the_csv_importer_replaces_control_characters_in_text_fields(comcat_with_controls: Path) -> None:
    call_command("import_events", str(comcat_with_controls), "--reviewed")
    assert sorted(Event.objects.values_list("description", flat=True)) == [
        "6km NW of The Geysers, CA",
        "8km" + " " * len(CONTROLS) + " NW of The Geysers, CA",
    ]


def test_the_obspy_path_replaces_control_characters(obspy_data: Path, tmp_path: Path) -> None:
    text = (obspy_data / "io/iaspei/tests/data/ipe202409sel_ims.txt").read_text()
    path = tmp_path / "ipec.txt"  # ObsPy's IPEC IMS1.0 bulletin, its region names with a form feed (legacy files)
    path.write_text(text.replace("CZECH REPUBLIC, OSTRAVA", "CZECH REPUBLIC,\x0cOSTRAVA"))
    call_command("import_events", str(path))
    assert set(Event.objects.values_list("description", flat=True)) == {"CZECH REPUBLIC, OSTRAVA"}


def test_the_public_fdsn_feed_and_the_export_api_serve_imported_control_characters(
    comcat_with_controls: Path, client: Client, analyst: User
) -> None:
    call_command("import_events", str(comcat_with_controls), "--reviewed")
    descriptions = quakeml_events(body(client.get("/fdsnws/event/1/query", FDSN_WINDOW)))
    assert "6km NW of The Geysers, CA" in descriptions
    client.force_login(analyst)
    exported = body(client.get("/api/export/", {**WINDOW, "format": "quakeml", "status": "all"}))
    assert "6km NW of The Geysers, CA" in quakeml_events(exported)


@pytest.fixture
def stored_before_the_fix(comcat_with_controls: Path) -> None:
    """Rows stored before importers replaced control characters: put them back into the database directly."""
    call_command("import_events", str(comcat_with_controls), "--reviewed")
    Event.objects.update(description="6km NW\x0bof The Geysers, CA", author="nc\x0c\r\nreviewed|x", agency_id="n\x02c")
    Origin.objects.update(method_id="smi:nc/method\x1bhypoinverse", author="a\x01b")


def test_the_fdsn_query_serves_rows_stored_before_the_fix_in_full(stored_before_the_fix: None, client: Client) -> None:
    document = body(client.get("/fdsnws/event/1/query", FDSN_WINDOW))
    assert document.rstrip().endswith(b"</q:quakeml>")
    assert quakeml_events(document).count("6km NW of The Geysers, CA") == 2
    everything = body(client.get("/fdsnws/event/1/query", {**FDSN_WINDOW, "includeallorigins": "true"}))
    assert everything.rstrip().endswith(b"</q:quakeml>")


def test_the_fdsn_text_format_keeps_one_line_per_event_for_rows_stored_before_the_fix(
    stored_before_the_fix: None, client: Client
) -> None:
    lines = body(client.get("/fdsnws/event/1/query", {**FDSN_WINDOW, "format": "text"})).decode().splitlines()
    assert len(lines) == 3 and all(line.count("|") == 13 for line in lines)
    assert lines[1].split("|")[5] == "nc   reviewed x"


@pytest.mark.parametrize("format", ["quakeml", "sc3ml", "kml", "ims1.0", "csv", "geojson"])
def test_every_export_format_writes_rows_stored_before_the_fix(
    stored_before_the_fix: None, client: Client, analyst: User, format: str
) -> None:
    client.force_login(analyst)
    exported = body(client.get("/api/export/", {**WINDOW, "format": format, "status": "all"}))
    assert not any(chr(code).encode() in exported for code in (*range(0, 9), 11, 12, *range(14, 32)))
    if format == "quakeml":
        assert quakeml_events(exported).count("6km NW of The Geysers, CA") == 2
    if format == "geojson":
        assert len(json.loads(exported)["features"]) == 2


def test_publishing_rows_stored_before_the_fix_succeeds(
    stored_before_the_fix: None, client: Client, senior_analyst: User
) -> None:
    client.force_login(senior_analyst)
    created = client.post(
        "/api/bulletins/", {**WINDOW, "format": "quakeml", "status": "all"}, content_type="application/json"
    )
    assert created.status_code == 202, created.content
    assert bulletin_job_run(job_id=created.json()["id"])["state"] == "done"  # the worker's side
    assert Bulletin.objects.get().event_count == 2
