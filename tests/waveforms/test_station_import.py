"""Importing real station metadata: what lands, field by field; re-import updates; bad files write nothing."""

import datetime as dt
import gzip
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fileimport.errors import ImportFileError
from waveforms.importing.stations import stations_import_file
from waveforms.models import Channel, InventorySource, Network, Station
from waveforms.selectors import channel_inventory_files

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Network, Station, Channel, InventorySource))


def test_it_imports_an_esec_stationxml_with_full_responses_field_by_field(shared_data: Path) -> None:
    path = shared_data / "esec/stations/1/AV.SPBG.xml"
    report = stations_import_file(path=path)
    assert (report.format, report.stations_created, report.channels_created) == ("STATIONXML", 1, 3)
    station = Station.objects.get(network__code="AV", code="SPBG")
    assert station.network.description == "Alaska Volcano Observatory (AVO)"
    assert (station.latitude, station.longitude, station.elevation) == (61.2591, -152.3722, 1087.0)
    assert station.site_name == "Barrier Glacier, Mount Spurr, Alaska"
    assert station.start_date == dt.datetime(2004, 9, 9, tzinfo=dt.UTC)
    east = Channel.objects.get(station=station, code="BHE")
    assert (east.azimuth, east.dip, east.sample_rate, east.depth) == (90.0, 0.0, 50.0, 0.0)
    assert east.start_date == dt.datetime(2004, 9, 9, tzinfo=dt.UTC)
    assert east.end_date == dt.datetime(2020, 8, 25, tzinfo=dt.UTC)
    assert east.has_response
    source = InventorySource.objects.get()
    assert source.path == str(path) and source.has_responses and len(source.sha256) == 64
    assert east.inventory_source == source


def test_a_channel_level_stationxml_is_stored_without_responses(shared_data: Path) -> None:
    stations_import_file(path=shared_data / "esec/stations/28/CC.OBSR.xml")
    channels = Channel.objects.filter(station__code="OBSR")
    assert channels.count() == 3
    assert not any(c.has_response for c in channels)
    assert not InventorySource.objects.get().has_responses


def test_reimporting_updates_instead_of_duplicating(obspy_data: Path) -> None:
    path = obspy_data / "core/data/BW_GR_misc.xml"
    first = stations_import_file(path=path)
    assert first.stations_created == 5 and first.channels_created == 30
    before = _counts()
    second = stations_import_file(path=path)
    assert (second.stations_created, second.stations_updated) == (0, 5)
    assert (second.channels_created, second.channels_updated) == (0, 30)
    assert _counts() == before


@pytest.mark.parametrize(
    ("relative", "format_name", "channels"),
    [
        ("io/arclink/tests/data/arclink_inventory.xml", "INVENTORYXML", 255),
        ("io/xseed/tests/data/dataless.seed.BW_FURT", "SEED", 3),
        ("io/seiscomp/tests/data/EB_response_sc3ml", "SCML", 3),
    ],
)
def test_it_detects_and_imports_other_inventory_formats(
    obspy_data: Path, relative: str, format_name: str, channels: int
) -> None:
    report = stations_import_file(path=obspy_data / relative)
    assert report.format == format_name
    assert Channel.objects.count() == report.channels_created == channels
    assert Channel.objects.filter(has_response=True).count() == channels


def test_a_resp_file_stores_the_response_but_no_invented_coordinates(obspy_data: Path) -> None:
    report = stations_import_file(path=obspy_data / "io/xseed/tests/data/RESP.BW.FURT..EHZ")
    assert report.format == "RESP"
    channel = Channel.objects.get()
    assert (channel.code, channel.sample_rate, channel.has_response) == ("EHZ", 200.0, True)
    assert (channel.latitude, channel.longitude, channel.elevation) == (None, None, None)
    assert Station.objects.get().latitude is None


def test_format_can_be_forced_and_a_wrong_one_fails_naming_the_file(obspy_data: Path) -> None:
    path = obspy_data / "io/xseed/tests/data/dataless.seed.BW_FURT"
    assert stations_import_file(path=path, format="seed").format == "SEED"
    with pytest.raises(ImportFileError, match=r"dataless\.seed\.BW_FURT: unreadable as STATIONXML"):
        stations_import_file(path=path, format="stationxml")


def _bad_files(tmp_path: Path, shared_data: Path) -> dict[str, Path]:
    real = (shared_data / "esec/stations/1/AV.SPBG.xml").read_bytes()
    files = {
        "truncated.xml": real[: len(real) // 2],
        "junk.xml": bytes(range(256)) * 8,
        "empty.xml": b"",
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    return {name: tmp_path / name for name in files}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("truncated.xml", r"XML syntax error at line \d+"),
        ("junk.xml", "not a station metadata format"),
        ("empty.xml", "the file is empty"),
    ],
)
def test_a_bad_file_fails_naming_it_and_writes_nothing(
    tmp_path: Path, shared_data: Path, name: str, reason: str
) -> None:
    path = _bad_files(tmp_path, shared_data)[name]
    with pytest.raises(ImportFileError, match=reason) as caught:
        stations_import_file(path=path)
    assert caught.value.path == str(path)
    assert _counts() == (0, 0, 0, 0)


def test_an_impossible_latitude_fails_naming_the_file_and_value(tmp_path: Path, shared_data: Path) -> None:
    text = (shared_data / "esec/stations/1/AV.SPBG.xml").read_text()
    path = tmp_path / "AV.SPBG.xml"
    path.write_text(text.replace("<Latitude>61.2591</Latitude>", "<Latitude>161.2591</Latitude>", 1))
    with pytest.raises(ImportFileError, match=r"AV.SPBG.xml: unreadable as STATIONXML: value 161.2591 out of bounds"):
        stations_import_file(path=path)
    assert _counts() == (0, 0, 0, 0)


def test_the_command_reports_counts_per_file_and_fails_at_the_end_for_a_bad_one(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _bad_files(tmp_path, shared_data)["truncated.xml"]
    good = sorted((shared_data / "esec/stations/1").glob("*.xml"))
    with pytest.raises(CommandError, match="1 of 6 files failed"):
        call_command("import_stations", str(bad), *map(str, good))
    out, err = capsys.readouterr()
    assert f"FAILED {bad}" in err
    assert out.count("stations 1 created, 0 updated; channels 3 created") == 5
    assert Station.objects.count() == 5 and InventorySource.objects.count() == 5


def test_the_command_walks_a_folder_of_station_files(shared_data: Path, capsys) -> None:
    folder = shared_data / "esec/stations/1"
    call_command("import_stations", str(folder))
    files = sorted(folder.glob("*.xml"))
    assert InventorySource.objects.count() == len(files)
    assert capsys.readouterr().out.count(f"/{len(files)}] ") == len(files)
    assert set(Station.objects.values_list("code", flat=True)) == {f.name.split(".")[1] for f in files}


SPBG_WITH_RESPONSES = "esec/stations/1/AV.SPBG.xml"
SPBG_CHANNEL_LEVEL = "esec/stations/103/AV.SPBG.xml"  # the same channel epochs, no <Response>
SPBG_SEED_IDS = [("AV", "SPBG", "", code) for code in ("BHE", "BHN", "BHZ")]
SPBG_RECORDED = dt.datetime(2014, 9, 10, 19, 20, 5, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "order", [(SPBG_WITH_RESPONSES, SPBG_CHANNEL_LEVEL), (SPBG_CHANNEL_LEVEL, SPBG_WITH_RESPONSES)]
)
def test_a_file_without_responses_never_wipes_the_stored_responses_of_the_same_epoch(
    shared_data: Path, capsys: pytest.CaptureFixture[str], order: tuple[str, str]
) -> None:
    call_command("import_stations", *(str(shared_data / relative) for relative in order))
    channels = Channel.objects.filter(station__code="SPBG")
    assert channels.count() == 3
    assert all(channel.has_response for channel in channels)
    with_responses = str(shared_data / SPBG_WITH_RESPONSES)
    assert {channel.inventory_source.path for channel in channels if channel.inventory_source} == {with_responses}
    assert channel_inventory_files(seed_ids=SPBG_SEED_IDS, at=SPBG_RECORDED) == [(with_responses, "STATIONXML")]
    kept = "3 stored responses kept" in capsys.readouterr().out
    assert kept == (order[1] == SPBG_CHANNEL_LEVEL)


def test_a_gzipped_stationxml_is_imported_and_a_gzipped_doctype_is_refused_as_in_a_plain_file(
    tmp_path: Path, shared_data: Path, settings: Any
) -> None:
    settings.DATA_DIR = tmp_path / "data"
    real = (shared_data / SPBG_WITH_RESPONSES).read_bytes()
    good = tmp_path / "AV.SPBG.xml.gz"
    good.write_bytes(gzip.compress(real))
    assert stations_import_file(path=good).channels_created == 3
    entity = real.replace(b"<FDSNStationXML", b'<!DOCTYPE x [<!ENTITY e "e">]>\n<FDSNStationXML', 1)
    bad = tmp_path / "entity.xml.gz"
    bad.write_bytes(gzip.compress(entity))
    with pytest.raises(ImportFileError, match=r"entity\.xml\.gz: XML with a DOCTYPE or entity declarations"):
        stations_import_file(path=bad)
    assert list((tmp_path / "data" / "tmp").iterdir()) == []
