"""Finding waveforms and station metadata for a window: real files, real gaps, missing and damaged files."""

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import obspy
import pytest

from tests.waveforms.test_waveform_import import sds_archive_from_real_records
from waveforms.importing.stations import stations_import_file
from waveforms.importing.waveform_files import sds_archive_register, waveform_file_import
from waveforms.sources import channels_covering, inventory_for, station_coordinates, stream_for_window

pytestmark = pytest.mark.django_db

ESEC_EVENT_1 = "esec/waveforms/1"
START = dt.datetime(2014, 9, 10, 19, 20, 30, tzinfo=dt.UTC)
END = dt.datetime(2014, 9, 10, 19, 22, 0, tzinfo=dt.UTC)


@pytest.fixture
def esec_event_1(shared_data: Path) -> Path:
    folder = shared_data / ESEC_EVENT_1
    for path in sorted(folder.glob("*.mseed")):
        waveform_file_import(path=path)
    return folder


def test_it_returns_the_stations_traces_trimmed_to_an_esec_event_window(esec_event_1: Path) -> None:
    result = stream_for_window(start=START, end=END, stations=[("AV", "SPCG")])
    assert result.problems == []
    assert sorted(trace.id for trace in result.stream) == ["AV.SPCG..BHE", "AV.SPCG..BHN", "AV.SPCG..BHZ"]
    for trace in result.stream:
        assert trace.stats.starttime == START and trace.stats.endtime == END
        assert trace.stats.sampling_rate == 50.0 and trace.stats.npts == 90 * 50 + 1
        assert not np.ma.isMaskedArray(trace.data)


def test_a_requested_channel_without_data_is_reported(esec_event_1: Path) -> None:
    # Event 1 has only the east component at SPBG.
    result = stream_for_window(start=START, end=END, seed_ids=["AV.SPBG..BHE", "AV.SPBG..BHZ"])
    assert [trace.id for trace in result.stream] == ["AV.SPBG..BHE"]
    assert result.problems == [
        "no data for AV.SPBG..BHZ between 2014-09-10T19:20:30.000000Z and 2014-09-10T19:22:00.000000Z"
    ]


def test_gaps_are_reported_and_the_segments_kept(obspy_data: Path) -> None:
    waveform_file_import(path=obspy_data / "io/mseed/tests/data/gaps.mseed")
    start, end = dt.datetime(2008, 1, 1, 0, 0, 0, tzinfo=dt.UTC), dt.datetime(2008, 1, 1, 0, 0, 30, tzinfo=dt.UTC)
    result = stream_for_window(start=start, end=end, seed_ids=["BW.BGLD..EHE"])
    assert len(result.stream) == 4
    gaps = [line for line in result.problems if line.startswith("gap in BW.BGLD..EHE")]
    assert len(gaps) == 3
    assert "from 2008-01-01T00:00:14.330000Z to 2008-01-01T00:00:18.455000Z (4.120 s)" in gaps[2]


def test_an_overlapping_copy_is_merged_and_reported(tmp_path: Path, shared_data: Path) -> None:
    original = shared_data / ESEC_EVENT_1 / "AV.SPCG..BHZ__20140910T192005Z__20140910T192305Z.mseed"
    copy = tmp_path / "copy.mseed"
    shutil.copy(original, copy)
    waveform_file_import(path=original)
    waveform_file_import(path=copy)
    result = stream_for_window(start=START, end=END, seed_ids=["AV.SPCG..BHZ"])
    assert len(result.stream) == 1 and result.stream[0].stats.npts == 90 * 50 + 1
    assert any(line.startswith("overlap in AV.SPCG..BHZ") for line in result.problems)


def test_a_deleted_or_damaged_file_is_a_problem_line_not_an_exception(tmp_path: Path, shared_data: Path) -> None:
    folder = shared_data / ESEC_EVENT_1
    deleted, damaged = tmp_path / "deleted.mseed", tmp_path / "damaged.mseed"
    shutil.copy(folder / "AV.SPCG..BHZ__20140910T192005Z__20140910T192305Z.mseed", deleted)
    shutil.copy(folder / "AV.SPCG..BHN__20140910T192005Z__20140910T192305Z.mseed", damaged)
    waveform_file_import(path=deleted)
    waveform_file_import(path=damaged)
    waveform_file_import(path=folder / "AV.SPCG..BHE__20140910T192005Z__20140910T192305Z.mseed")
    deleted.unlink()
    damaged.write_bytes(b"\0" * 100)
    result = stream_for_window(start=START, end=END, stations=[("AV", "SPCG")])
    assert [trace.id for trace in result.stream] == ["AV.SPCG..BHE"]
    assert f"{deleted}: registered waveform file is missing" in result.problems
    assert any(line.startswith(f"{damaged}: unreadable") for line in result.problems)


def test_an_sds_archive_is_read_and_its_channels_listed(tmp_path: Path, shared_data: Path) -> None:
    seed_ids = sds_archive_from_real_records(tmp_path / "sds", shared_data)
    sds_archive_register(root=tmp_path / "sds")
    assert channels_covering(start=START, end=END) == sorted(seed_ids)
    result = stream_for_window(start=START, end=END, seed_ids=["AV.SPCG..BHZ"])
    assert result.problems == []
    trace = result.stream[0]
    assert (trace.id, trace.stats.starttime, trace.stats.endtime) == ("AV.SPCG..BHZ", START, END)


def test_channels_covering_lists_only_channels_with_data_in_the_window(esec_event_1: Path) -> None:
    channels = channels_covering(start=START, end=END)
    assert len(channels) == len(list(esec_event_1.glob("*.mseed")))
    assert "AV.SPBG..BHE" in channels and "AV.SPBG..BHZ" not in channels
    day = dt.timedelta(days=1)
    assert channels_covering(start=START + day, end=END + day) == []


def test_station_coordinates_come_from_the_epoch_open_at_the_time(shared_data: Path) -> None:
    stations_import_file(path=shared_data / "esec/stations/1/AV.SPBG.xml")
    assert station_coordinates(network="AV", station="SPBG", at=START) == (61.2591, -152.3722, 1087.0)
    before_installation = dt.datetime(2003, 1, 1, tzinfo=dt.UTC)
    assert station_coordinates(network="AV", station="SPBG", at=before_installation) is None
    assert station_coordinates(network="AV", station="NOPE", at=START) is None


def test_inventory_for_rereads_responses_that_remove_the_instrument_response(
    shared_data: Path, esec_event_1: Path
) -> None:
    stations_import_file(path=shared_data / "esec/stations/1/AV.SPCG.xml")
    seed_ids = ["AV.SPCG..BHZ", "AV.SPCG..BHE"]
    inventory = inventory_for(seed_ids=seed_ids, at=START)
    assert inventory is not None
    assert sorted(inventory.get_contents()["channels"]) == sorted(seed_ids)
    stream = stream_for_window(start=START, end=END, seed_ids=seed_ids).stream
    stream.remove_response(inventory=inventory, output="VEL")
    assert all(np.abs(trace.data).max() < 1e-2 for trace in stream)  # m/s, not counts
    assert inventory_for(seed_ids=["AV.SPBG..BHZ"], at=START) is None


def test_mixed_sampling_rates_keep_the_dominant_rate_and_report_the_rest(tmp_path: Path, shared_data: Path) -> None:
    """A 25 Hz decimated copy of a real 50 Hz record (derived from real data, not synthetic) for the same channel."""
    original = shared_data / ESEC_EVENT_1 / "AV.SPCG..BHZ__20140910T192005Z__20140910T192305Z.mseed"
    decimated = obspy.read(str(original), format="MSEED")
    decimated.decimate(2)
    decimated.trim(obspy.UTCDateTime(START), obspy.UTCDateTime(START) + 30)
    decimated.write(str(tmp_path / "decimated.mseed"), format="MSEED")
    waveform_file_import(path=original)
    waveform_file_import(path=tmp_path / "decimated.mseed")
    result = stream_for_window(start=START, end=END, seed_ids=["AV.SPCG..BHZ"])
    assert [trace.stats.sampling_rate for trace in result.stream] == [50.0]
    assert result.stream[0].stats.npts == 90 * 50 + 1
    assert result.problems == [
        f"mixed sampling rates in AV.SPCG..BHZ: dropped {decimated[0].stats.npts} samples at 25 Hz, kept 50 Hz"
    ]
