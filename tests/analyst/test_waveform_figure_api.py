"""The waveform endpoints on a real ESEC lahar (Mount Spurr, 2014-09-10) with its StationXML and MiniSEED."""

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import obspy
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from events.models import Event, Pick

pytestmark = pytest.mark.django_db
ORIGIN = dt.datetime(2014, 9, 10, 19, 21, 15, tzinfo=dt.UTC)


@pytest.fixture
def lahar(shared_data: Path) -> Event:
    cache.clear()
    call_command("import_events", str(shared_data / "esec/IRISExoticEventCatalog.txt"), verbosity=0)
    call_command("import_stations", *map(str, sorted((shared_data / "esec/stations/1").glob("*.xml"))), verbosity=0)
    call_command("import_waveforms", *map(str, sorted((shared_data / "esec/waveforms/1").glob("*.mseed"))), verbosity=0)
    return Event.objects.get(origin_time=ORIGIN)


def _get(client: Client, url: str, **params: Any) -> dict[str, Any]:
    response = client.get(url, params)
    assert response.status_code == 200, response.content[:500]
    body: dict[str, Any] = response.json()
    return body


def test_it_refuses_anonymous_requests(client: Client, lahar: Event) -> None:
    assert client.get(f"/api/events/{lahar.pk}/waveforms/").status_code in (401, 403)


def test_the_record_section_touches_every_raw_extreme_and_sorts_by_distance(
    client: Client, analyst: Any, lahar: Event, shared_data: Path
) -> None:
    client.force_login(analyst)
    body = _get(client, f"/api/events/{lahar.pk}/waveforms/", width=600)
    rows = body["rows"]
    assert len(rows) == 13 and body["problems"] == [] and body["message"] is None
    distances = [r["distance_deg"] for r in rows]
    assert all(d is not None for d in distances) and distances == sorted(distances)
    traces = {t["name"]: t for t in body["figure"]["data"] if t["name"].startswith("AV.")}
    for row in rows:
        raw = obspy.read(
            str(next((shared_data / "esec/waveforms/1").glob(row["seed_id"] + "__*.mseed"))), format="MSEED"
        )[0]
        raw = raw.slice(obspy.UTCDateTime(body["window"]["start"]), obspy.UTCDateTime(body["window"]["end"]))
        values = raw.data.astype(np.float64) - raw.data.mean()
        drawn = (np.array(traces[row["seed_id"]]["y"], dtype=float) + row["row"]) / 0.45 * row["scale"]
        assert np.nanmax(drawn) == pytest.approx(values.max(), rel=1e-3)
        assert np.nanmin(drawn) == pytest.approx(values.min(), rel=1e-3)
        assert row["points"] <= 4 * 600


def test_picks_and_theoretical_arrivals_land_at_their_times(client: Client, analyst: Any, lahar: Event) -> None:
    manual = ORIGIN + dt.timedelta(seconds=12.5)
    Pick.objects.create(
        event=lahar,
        public_id="p1",
        network="AV",
        station="SPCG",
        channel="BHZ",
        time=manual,
        phase_hint="P",
        evaluation_mode="manual",
    )
    Pick.objects.create(
        event=lahar,
        public_id="p2",
        network="AV",
        station="SPCG",
        channel="BHZ",
        time=manual + dt.timedelta(seconds=7),
        phase_hint="S",
        evaluation_mode="automatic",
    )
    client.force_login(analyst)
    body = _get(client, f"/api/events/{lahar.pk}/waveforms/")
    row = next(r for r in body["rows"] if r["seed_id"] == "AV.SPCG..BHZ")
    by_name = {t["name"]: t for t in body["figure"]["data"]}
    assert by_name["manual picks"]["x"][:2] == [12.5, 12.5]
    assert by_name["automatic picks"]["x"][:2] == [19.5, 19.5]
    assert by_name["manual picks labels"]["text"] == ["P"]
    assert -row["row"] - 0.6 < by_name["manual picks"]["y"][1] < by_name["manual picks"]["y"][0] < -row["row"] + 0.6
    predicted_p = [x for x in by_name["iasp91 P"]["x"] if x is not None]
    assert predicted_p and all(0 < x < 60 for x in predicted_p)  # stations within tens of km of Mount Spurr
    assert min(predicted_p) < min(x for x in by_name["iasp91 S"]["x"] if x is not None)


def test_a_filter_preset_changes_the_figure_and_bad_corners_answer_400(
    client: Client, analyst: Any, lahar: Event
) -> None:
    client.force_login(analyst)
    url = f"/api/events/{lahar.pk}/waveforms/"
    raw = _get(client, url, channels="AV.SPCG..BHZ")
    filtered = _get(client, url, channels="AV.SPCG..BHZ", filter="2-8")
    assert filtered["filter"] == "bandpass 2-8 Hz"
    assert filtered["rows"][0]["scale"] < raw["rows"][0]["scale"]
    response = client.get(url, {"fmin": "8", "fmax": "2"})
    assert response.status_code == 400 and "fmin (8 Hz) must be lower than fmax (2 Hz)" in response.json()["error"]


def test_a_missing_channel_and_a_corrupt_file_are_reported_not_fatal(
    client: Client, analyst: Any, lahar: Event, tmp_path: Path, shared_data: Path
) -> None:
    corrupt = tmp_path / "AV.SPCR..BHZ.mseed"
    shutil.copy(next((shared_data / "esec/waveforms/1").glob("AV.SPCR..BHZ__*.mseed")), corrupt)
    call_command("import_waveforms", str(corrupt), verbosity=0)
    corrupt.write_bytes(b"this is not MiniSEED any more " * 200)
    client.force_login(analyst)
    body = _get(client, f"/api/events/{lahar.pk}/waveforms/", channels="AV.SPCG..BHZ,AV.XXXX..BHZ")
    assert [r["seed_id"] for r in body["rows"]] == ["AV.SPCG..BHZ"]
    assert any("AV.XXXX..BHZ" in p for p in body["problems"])
    everything = _get(client, f"/api/events/{lahar.pk}/waveforms/", end="30")
    assert len(everything["rows"]) >= 13
    # named by the file, not by the server's folder (analyst/web/disclosure.py)
    assert any(p.startswith(f"{corrupt.name}: unreadable") for p in everything["problems"]), everything["problems"]
    assert not any(str(tmp_path) in p for p in everything["problems"])


def test_an_event_without_waveforms_says_so(client: Client, analyst: Any, lahar: Event) -> None:
    other = Event.objects.exclude(pk=lahar.pk).order_by("origin_time").first()
    assert other is not None
    client.force_login(analyst)
    body = _get(client, f"/api/events/{other.pk}/waveforms/")
    assert body["rows"] == [] and body["message"] == "no waveforms are registered for this event's time window"
    assert client.get("/api/events/999999/waveforms/").status_code == 404


def test_the_trace_and_spectrogram_endpoints_answer_for_one_channel(client: Client, analyst: Any, lahar: Event) -> None:
    client.force_login(analyst)
    trace = _get(client, f"/api/events/{lahar.pk}/waveforms/AV.SPCG..BHZ/", width=300)
    assert trace["segments"][0]["sampling_rate"] == 50.0 and trace["rows"][0]["points"] <= 1200
    spectrogram = _get(client, f"/api/events/{lahar.pk}/waveforms/AV.SPCG..BHZ/spectrogram/")
    heatmap = spectrogram["figure"]["data"][0]
    assert heatmap["type"] == "heatmap" and max(heatmap["y"]) == 25.0 and len(heatmap["z"]) == len(heatmap["y"])


def test_the_cache_answers_the_same_and_new_data_invalidate_it(
    client: Client, analyst: Any, lahar: Event, shared_data: Path
) -> None:
    client.force_login(analyst)
    url = f"/api/events/{lahar.pk}/waveforms/"
    first = client.get(url, {"channels": "AV.SPCG..BHZ"}).content
    assert client.get(url, {"channels": "AV.SPCG..BHZ"}).content == first
    Pick.objects.create(
        event=lahar,
        public_id="p9",
        network="AV",
        station="SPCG",
        channel="BHZ",
        time=ORIGIN + dt.timedelta(seconds=3),
        phase_hint="P",
        evaluation_mode="manual",
    )
    assert client.get(url, {"channels": "AV.SPCG..BHZ"}).content != first


def test_a_custom_filter_over_more_samples_than_a_figure_may_read_is_refused_before_reading(
    client: Client, analyst: Any, lahar: Event, settings: Any
) -> None:
    client.force_login(analyst)
    settings.SEISTRIAGE_WAVEFORM_MAX_SAMPLES = 20_000
    response = client.get(f"/api/events/{lahar.pk}/waveforms/", {"fmin": "1.01", "fmax": "9.9", "width": "600"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("start/end/channels:") and "20,000" in error and "shorten the window" in error
    narrowed = _get(
        client,
        f"/api/events/{lahar.pk}/waveforms/",
        fmin=1.01,
        fmax=9.9,
        width=600,
        channels="AV.SPBG..BHE,AV.SPCP..BHZ",
        start=-10,
        end=30,
    )
    assert sorted(row["seed_id"] for row in narrowed["rows"]) == ["AV.SPBG..BHE", "AV.SPCP..BHZ"]
    assert narrowed["problems"] == []


def test_a_low_band_filter_draws_the_decimated_trace_like_the_full_rate_one(
    client: Client, analyst: Any, lahar: Event, shared_data: Path
) -> None:
    client.force_login(analyst)
    body = _get(client, f"/api/events/{lahar.pk}/waveforms/AV.SPBG..BHE/", fmin=0.5, fmax=2, width=8000)
    raw = obspy.read(str(next((shared_data / "esec/waveforms/1").glob("AV.SPBG..BHE__*.mseed"))))
    raw = raw.slice(obspy.UTCDateTime(body["window"]["start"]), obspy.UTCDateTime(body["window"]["end"]))
    expected = raw.copy().detrend("demean").detrend("linear").taper(0.05, type="hann")
    expected.filter("bandpass", freqmin=0.5, freqmax=2, corners=4, zerophase=True)
    drawn = next(t for t in body["figure"]["data"] if t["name"] == "AV.SPBG..BHE")
    row = body["rows"][0]
    values = (np.array(drawn["y"], dtype=float) + row["row"]) / 0.45 * row["scale"]
    peak = np.abs(expected[0].data).max()
    assert np.nanmax(values) == pytest.approx(expected[0].data.max(), abs=0.02 * peak)
    assert np.nanmin(values) == pytest.approx(expected[0].data.min(), abs=0.02 * peak)
