"""The waveform view's options on real records (the ESEC Mount Spurr lahar, 2014-09-10, with its StationXML and
MiniSEED): aligned on P, components Z / N,E / R,T rotated with ObsPy, common amplitude scale, the response
removed to velocity where one is stored, gaps only where the data have them; and manual picks through the API."""

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import obspy
import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from obspy.geodetics import gps2dist_azimuth

from analyst.models import AuditEntry
from analyst.picks import WORKBENCH_PICK_METHOD
from analyst.review import event_claim
from events.models import Event, Pick
from waveforms.figures import ROW_HALF_HEIGHT

pytestmark = pytest.mark.django_db
ORIGIN = dt.datetime(2014, 9, 10, 19, 21, 15, tzinfo=dt.UTC)
ESEC = "esec/waveforms/1"


@pytest.fixture
def lahar(shared_data: Path) -> Event:
    cache.clear()
    call_command("import_events", str(shared_data / "esec/IRISExoticEventCatalog.txt"), verbosity=0)
    call_command("import_stations", *map(str, sorted((shared_data / "esec/stations/1").glob("*.xml"))), verbosity=0)
    call_command("import_waveforms", *map(str, sorted((shared_data / ESEC).glob("*.mseed"))), verbosity=0)
    return Event.objects.get(origin_time=ORIGIN)


def _get(client: Client, event: Event, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/events/{event.pk}/waveforms/", params)
    assert response.status_code == 200, response.content[:500]
    body: dict[str, Any] = response.json()
    return body


def _waveform_traces(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in body["figure"]["data"] if "scale" in t.get("meta", {})}


def test_aligned_on_p_each_row_starts_at_its_picked_or_predicted_p(client: Client, analyst: Any, lahar: Event) -> None:
    picked = ORIGIN + dt.timedelta(seconds=12.5)
    Pick.objects.create(
        event=lahar, public_id="p1", network="AV", station="SPCG", channel="BHZ", time=picked, phase_hint="P"
    )
    client.force_login(analyst)
    plain = _get(client, lahar)
    body = _get(client, lahar, align="p")
    assert body["window"]["aligned"] and (body["window"]["start_s"], body["window"]["end_s"]) == (-10.0, 30.0)
    assert body["figure"]["layout"]["xaxis"]["title"]["text"] == "seconds after P"
    offsets = {row["seed_id"]: row["offset_s"] for row in body["rows"]}
    assert offsets["AV.SPCG..BHZ"] == offsets["AV.SPCG..BHN"] == 12.5  # the picked P
    # the other stations at their iasp91 P, which the plain view marks
    predicted = [x for x in {t["name"]: t for t in plain["figure"]["data"]}["iasp91 P"]["x"] if x is not None]
    others = {v for k, v in offsets.items() if not k.startswith("AV.SPCG.")}
    assert others and all(min(abs(v - p) for p in predicted) < 0.01 for v in others)
    # the pick itself is drawn at x = 0 of its row, and a trace's samples sit at (time - P)
    marks = {t["name"]: t for t in body["figure"]["data"]}["manual picks"]
    assert marks["x"][0] == 0.0
    trace = _waveform_traces(body)["AV.SPCG..BHZ"]
    xs = [x for x in trace["x"] if x is not None]
    assert -10.01 <= min(xs) < -9.9 and 29.9 < max(xs) <= 30.01


def test_align_without_any_p_is_refused_naming_the_parameter(client: Client, analyst: Any, shared_data: Path) -> None:
    cache.clear()
    call_command("import_events", str(shared_data / "pnw/events.csv"), verbosity=0)
    folder = sorted(p for p in (shared_data / "pnw/waveforms").iterdir() if p.is_dir())[0]
    call_command("import_waveforms", *map(str, sorted(folder.glob("*.mseed"))), verbosity=0)
    event = Event.objects.get(public_id__endswith=folder.name)
    client.force_login(analyst)
    response = client.get(f"/api/events/{event.pk}/waveforms/", {"align": "p"})
    assert response.status_code == 400 and response.json()["error"].startswith("align:")
    assert client.get(f"/api/events/{event.pk}/waveforms/", {"align": "x"}).status_code == 400
    assert client.get(f"/api/events/{event.pk}/waveforms/", {"components": "ZNE"}).status_code == 400
    # the PNW records are 150 s from 50 s before the origin: the wider display window is no gap
    body = _get(client, event)
    assert body["rows"] and body["gaps"] == [] and body["gap_summary"] == "No gaps in the data."
    assert not any("gap" in problem for problem in body["problems"])


def test_components_select_z_or_horizontals_and_rt_is_obspys_rotation_for_the_back_azimuth(
    client: Client, analyst: Any, lahar: Event, shared_data: Path
) -> None:
    client.force_login(analyst)
    vertical = _get(client, lahar, components="Z")
    assert vertical["rows"] and all(row["seed_id"].endswith("Z") for row in vertical["rows"])
    horizontal = _get(client, lahar, components="NE")
    assert horizontal["rows"] and all(row["seed_id"][-1] in "NE" for row in horizontal["rows"])
    rotated = _get(client, lahar, components="RT")
    names = [row["seed_id"] for row in rotated["rows"]]
    assert "AV.SPCG..BHR" in names and "AV.SPCG..BHT" in names and not any(n[-1] in "ZNE" for n in names)
    # the radial trace's peak is that of ObsPy's NE->RT rotation of the same samples, for the station's back azimuth
    station = obspy.read_inventory(str(shared_data / "esec/stations/1/AV.SPCG.xml"))[0][0]
    origin = lahar.preferred_origin
    assert origin is not None
    _, _, back_azimuth = gps2dist_azimuth(origin.latitude, origin.longitude, station.latitude, station.longitude)
    stream = obspy.Stream()
    for component in "NE":
        stream += obspy.read(str(next((shared_data / ESEC).glob(f"AV.SPCG..BH{component}__*.mseed"))))
    start, end = obspy.UTCDateTime(rotated["window"]["start"]), obspy.UTCDateTime(rotated["window"]["end"])
    stream.trim(max(start, *(t.stats.starttime for t in stream)), min(end, *(t.stats.endtime for t in stream)))
    stream.rotate("NE->RT", back_azimuth=back_azimuth)
    radial = stream.select(component="R")[0].data
    row = next(r for r in rotated["rows"] if r["seed_id"] == "AV.SPCG..BHR")
    assert row["scale"] == pytest.approx(np.abs(radial - radial.mean()).max(), rel=0.02)


def test_common_scale_draws_every_row_at_the_largest_peak(client: Client, analyst: Any, lahar: Event) -> None:
    client.force_login(analyst)
    own = _get(client, lahar, components="Z")
    common = _get(client, lahar, components="Z", scale="common")
    largest = max(row["scale"] for row in common["rows"])
    for row in common["rows"]:
        drawn = np.array([y for y in _waveform_traces(common)[row["seed_id"]]["y"] if y is not None]) + row["row"]
        assert np.abs(drawn).max() == pytest.approx(ROW_HALF_HEIGHT * row["scale"] / largest, abs=1e-3)
        alone = np.array([y for y in _waveform_traces(own)[row["seed_id"]]["y"] if y is not None]) + row["row"]
        assert np.abs(alone).max() == pytest.approx(ROW_HALF_HEIGHT, abs=1e-3)
    assert min(row["scale"] for row in common["rows"]) < largest


def test_velocity_where_a_response_is_stored_and_counts_named_where_none(
    client: Client, analyst: Any, lahar: Event, shared_data: Path, tmp_path: Path
) -> None:
    client.force_login(analyst)
    counts = _get(client, lahar, components="Z")
    velocity = _get(client, lahar, components="Z", response="velocity")
    assert {row["units"] for row in velocity["rows"]} == {"m/s"} and velocity["units_note"] is None
    assert all(label.endswith("(m/s)") for label in velocity["figure"]["layout"]["yaxis"]["ticktext"])
    for before, after in zip(counts["rows"], velocity["rows"], strict=True):
        assert before["scale"] > 100 and 1e-10 < after["scale"] < 1e-2  # counts, then ground velocity in m/s
    # a channel registered without a station file keeps its counts, and says so
    record = obspy.read(str(next((shared_data / ESEC).glob("AV.SPCR..BHZ__*.mseed"))))
    for trace in record:
        trace.stats.network = "XX"
    path = tmp_path / "XX.SPCR..BHZ.mseed"
    record.write(str(path), format="MSEED")
    call_command("import_waveforms", str(path), verbosity=0)
    cache.clear()
    mixed = _get(client, lahar, components="Z", response="velocity")
    units = {row["seed_id"]: row["units"] for row in mixed["rows"]}
    assert units["XX.SPCR..BHZ"] == "counts" and units["AV.SPCG..BHZ"] == "m/s"
    assert mixed["units_note"] == "no instrument response stored for XX.SPCR..BHZ: shown in counts"
    assert "XX.SPCR..BHZ (counts)" in mixed["figure"]["layout"]["yaxis"]["ticktext"]


def test_a_real_gap_is_reported_in_one_line_and_the_window_edges_are_not(
    client: Client, analyst: Any, lahar: Event, shared_data: Path, tmp_path: Path
) -> None:
    record = obspy.read(str(next((shared_data / ESEC).glob("AV.SPCP..BHZ__*.mseed"))))
    start = record[0].stats.starttime
    first, second = record.slice(start, start + 60), record.slice(start + 62.5, record[0].stats.endtime)
    for part, name in ((first, "a"), (second, "b")):
        for trace in part:
            trace.stats.network = "XX"
        part.write(str(tmp_path / f"XX.SPCP..BHZ.{name}.mseed"), format="MSEED")
    call_command("import_waveforms", *map(str, sorted(tmp_path.glob("*.mseed"))), verbosity=0)
    client.force_login(analyst)
    body = _get(client, lahar, components="Z")
    assert len(body["gaps"]) == 1 and body["gaps"][0].startswith("gap in XX.SPCP..BHZ from")
    assert body["gap_summary"].startswith("1 gap (2.") and body["gap_summary"].endswith("in 1 channel: XX.SPCP..BHZ.")
    assert not any("window" in line for line in body["gaps"] + body["problems"])


def test_a_manual_pick_is_added_moved_audited_and_refused_while_another_holds_the_event(
    client: Client, analyst: User, lahar: Event
) -> None:
    client.force_login(analyst)
    url = f"/api/events/{lahar.pk}/picks/"
    version = lahar.version
    first = client.post(
        url,
        {"seed_id": "AV.SPCG..BHZ", "phase": "P", "time": "2014-09-10T19:21:27.25Z"},
        content_type="application/json",
    )
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["seed_id"], body["phase"], body["author"], body["evaluation_mode"], body["moved"]) == (
        "AV.SPCG..BHZ",
        "P",
        "ana",
        "manual",
        False,
    )
    assert body["version"] == version + 1
    moved = client.post(
        url,
        {"seed_id": "AV.SPCG..BHN", "phase": "P", "time": "2014-09-10T19:21:27.5Z"},
        content_type="application/json",
    ).json()
    assert moved["moved"] and moved["id"] == body["id"] and moved["version"] == version + 2
    picks = Pick.objects.filter(event=lahar, method_id=WORKBENCH_PICK_METHOD)
    assert picks.count() == 1
    pick = picks.get()
    assert (pick.seed_id, pick.time, pick.evaluation_status) == (
        "AV.SPCG..BHN",
        dt.datetime(2014, 9, 10, 19, 21, 27, 500000, tzinfo=dt.UTC),
        "preliminary",
    )
    entries = list(AuditEntry.objects.filter(event=lahar, action="pick").order_by("id"))
    assert [e.before.get("seed_id") for e in entries] == [None, "AV.SPCG..BHZ"]
    assert entries[1].after["seed_id"] == "AV.SPCG..BHN" and entries[1].user == analyst
    # the figure shows it in its own colour, at its time
    figure = _get(client, lahar)
    by_name = {t["name"]: t for t in figure["figure"]["data"]}
    assert by_name["picks made here"]["x"][0] == 12.5
    # bad input names the field; nothing is written
    for bad, field in (
        ({"seed_id": "AV.SPCG..BHZ", "phase": "Pn", "time": "2014-09-10T19:21:27Z"}, "phase"),
        ({"seed_id": "SPCG", "phase": "S", "time": "2014-09-10T19:21:27Z"}, "seed_id"),
        ({"seed_id": "AV.SPCG..BHZ", "phase": "S", "time": "2014-09-12T19:21:27Z"}, "time"),
    ):
        refused = client.post(url, bad, content_type="application/json")
        assert refused.status_code == 400 and field in refused.json()
    assert Pick.objects.filter(event=lahar, method_id=WORKBENCH_PICK_METHOD).count() == 1
    other = User.objects.create_user("bea", password="bea-password-1")
    other.groups.set(analyst.groups.all())
    event_claim(event_id=lahar.pk, user=other)
    held = client.post(
        url, {"seed_id": "AV.SPCG..BHZ", "phase": "S", "time": "2014-09-10T19:21:35Z"}, content_type="application/json"
    )
    assert held.status_code == 409 and "bea" in held.json()["detail"]
    assert client.post(f"/api/events/{lahar.pk + 999}/picks/", {}, content_type="application/json").status_code in (
        400,
        404,
    )


def test_the_event_page_names_the_source_file_without_its_server_path_and_ims_stations_by_code(
    client: Client, analyst: Any, obspy_data: Path
) -> None:
    call_command("import_events", str(obspy_data / "io/iaspei/tests/data/ipe202409sel_ims.txt"), verbosity=0)
    event = Event.objects.filter(picks__station="MORC").first()
    assert event is not None and event.source_file.startswith("/")
    client.force_login(analyst)
    page = client.get(f"/events/{event.pk}/").content.decode()
    assert event.source_file not in page and "ipe202409sel_ims.txt" in page
    assert ".MORC.." not in page and "<code>MORC" in page
    review = client.get(f"/queue/events/{event.pk}/").content.decode()
    assert ".MORC.." not in review and 'class="public-id"' in review
