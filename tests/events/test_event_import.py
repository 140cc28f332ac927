"""Importing real event files: what lands, field by field; re-import; bad files write nothing."""

import datetime as dt
import gzip
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from events.importers.store import events_import_file
from events.models import Amplitude, Arrival, Event, EventLabel, Magnitude, Origin, Pick
from fileimport.errors import ImportFileError

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Event, Origin, Magnitude, Pick, Arrival, Amplitude, EventLabel))


def test_it_imports_the_seiscomp_mining_explosion_quakeml_field_by_field(obspy_data: Path) -> None:
    report = events_import_file(path=obspy_data / "io/seiscomp/tests/data/quakeml_1.2_quarryblast.xml")
    assert report.events_created == 1
    event = Event.objects.get()
    assert event.event_type == "mining explosion"
    origin = event.preferred_origin
    assert origin is not None
    assert origin.latitude == pytest.approx(-32.7399)
    assert origin.longitude == pytest.approx(116.3876)
    assert origin.depth == pytest.approx(1.4625)
    assert event.origin_time == origin.time == dt.datetime(2023, 8, 26, 9, 49, 43, 871357, tzinfo=dt.UTC)
    assert event.region == "Western Australia"
    assert event.magnitude == pytest.approx(2.64)
    assert event.magnitude_type == "MLv"


def test_the_same_event_in_sc3ml_updates_instead_of_duplicating(obspy_data: Path) -> None:
    events_import_file(path=obspy_data / "io/seiscomp/tests/data/quakeml_1.2_quarryblast.xml")
    report = events_import_file(path=obspy_data / "io/seiscomp/tests/data/quakeml_1.2_quarryblast.scml")
    assert (report.events_created, report.events_updated) == (0, 1)
    assert Event.objects.count() == 1
    assert Event.objects.get().version == 2


def test_it_imports_the_ipec_ims_bulletin_with_its_mining_explosion(obspy_data: Path) -> None:
    report = events_import_file(path=obspy_data / "io/iaspei/tests/data/ipe202409sel_ims.txt")
    # The first bulletin event has an origin time but no location: reported, not imported.
    assert report.events_skipped == 1 and "no origin with time, latitude and longitude" in report.skipped_reasons[0]
    blast = Event.objects.get(public_id="smi:local/ims10bulletin/event/2032257")
    assert blast.event_type == "mining explosion"
    assert blast.latitude == pytest.approx(49.8219)
    assert blast.longitude == pytest.approx(18.5593)
    assert blast.depth == pytest.approx(1.0)
    assert blast.azimuthal_gap == pytest.approx(280)
    assert blast.magnitude == pytest.approx(1.2) and blast.magnitude_type == "ML"
    morc_sg = Arrival.objects.get(origin__event=blast, pick__station="MORC", phase="Sg")
    assert morc_sg.distance == pytest.approx(0.66)
    assert morc_sg.time_residual == pytest.approx(-0.1)
    assert morc_sg.pick is not None
    assert morc_sg.pick.time == dt.datetime(2024, 9, 1, 12, 33, 40, 556000, tzinfo=dt.UTC)


def test_reimporting_a_bulletin_is_idempotent(obspy_data: Path) -> None:
    path = obspy_data / "io/iaspei/tests/data/ipe202409sel_ims.txt"
    events_import_file(path=path)
    before = _counts()
    report = events_import_file(path=path)
    assert report.events_created == 0 and report.events_updated == 2
    assert _counts() == before


def test_nordic_events_without_ids_are_matched_by_time_and_place(obspy_data: Path) -> None:
    path = obspy_data / "io/nordic/tests/data/select.out"
    first = events_import_file(path=path)
    assert first.events_created == 50
    assert Pick.objects.count() > 500
    second = events_import_file(path=path)
    assert (second.events_created, second.events_updated) == (0, 50)
    assert Event.objects.count() == 50


def test_comcat_feed_csv_keeps_quality_and_status(shared_data: Path) -> None:
    events_import_file(path=shared_data / "catalogs/comcat_all_week_2021-05.csv")
    assert Event.objects.count() == 2047
    event = Event.objects.get(public_id__endswith="eventid=nc73565540")
    assert event.latitude == pytest.approx(38.8089981)
    assert event.depth == pytest.approx(0.91)
    assert event.magnitude == pytest.approx(1.56) and event.magnitude_type == "md"
    assert event.azimuthal_gap == pytest.approx(47)
    assert event.rms == pytest.approx(0.03)
    origin = event.preferred_origin
    assert origin is not None
    assert origin.used_station_count == 33
    assert origin.minimum_distance == pytest.approx(0.008681)
    assert origin.evaluation_mode == "automatic"
    assert origin.depth_uncertainty == pytest.approx(0.27)
    assert set(Event.objects.values_list("event_type", flat=True)) >= {"earthquake", "quarry blast", "explosion"}


def test_reviewed_pnsn_catalogue_records_labels(shared_data: Path) -> None:
    report = events_import_file(path=shared_data / "pnw/events.csv", reviewed=True)
    assert report.events_created == 68 and report.labels == 68
    labels = EventLabel.objects.filter(source=EventLabel.Source.IMPORTED_REVIEW)
    assert labels.filter(event_type="explosion").count() == 17
    assert labels.filter(event_type="earthquake").count() == 51
    assert set(Event.objects.values_list("review_state", flat=True)) == {"accepted"}
    events_import_file(path=shared_data / "pnw/events.csv", reviewed=True)
    assert EventLabel.objects.count() == 68


def test_an_automatic_reimport_keeps_the_analyst_decision(shared_data: Path) -> None:
    events_import_file(path=shared_data / "pnw/events.csv", reviewed=True)
    events_import_file(path=shared_data / "pnw/events.csv")
    assert set(Event.objects.values_list("review_state", flat=True)) == {"accepted"}
    assert Event.objects.filter(event_type="explosion").count() == 17


def test_esec_surface_events_map_to_quakeml_types(shared_data: Path) -> None:
    events_import_file(path=shared_data / "esec/IRISExoticEventCatalog.txt")
    assert Event.objects.count() == 130
    types = set(Event.objects.values_list("event_type", flat=True))
    assert types <= {
        "rockslide",
        "landslide",
        "debris avalanche",
        "avalanche",
        "snow avalanche",
        "slide",
        "mine collapse",
        "other event",
    }
    assert Event.objects.filter(event_type="snow avalanche").exists()


def _bad(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_a_truncated_quakeml_fails_cleanly_with_its_line(tmp_path: Path, obspy_data: Path) -> None:
    text = (obspy_data / "io/quakeml/tests/data/usgs_event.xml").read_bytes()
    path = _bad(tmp_path, "truncated.xml", text[: len(text) // 2])
    with pytest.raises(ImportFileError, match=r"truncated\.xml: XML syntax error at line \d+"):
        events_import_file(path=path)
    assert _counts() == (0,) * 7


def test_a_binary_file_named_xml_fails_cleanly(tmp_path: Path, obspy_data: Path) -> None:
    path = tmp_path / "waveform.xml"
    shutil.copy(obspy_data / "io/mseed/tests/data/test.mseed", path)
    with pytest.raises(ImportFileError, match=r"waveform\.xml: not an event format"):
        events_import_file(path=path)
    assert _counts() == (0,) * 7


def test_an_ims_bulletin_with_a_broken_origin_line_fails_with_nothing_written(tmp_path: Path, obspy_data: Path) -> None:
    lines = (obspy_data / "io/iaspei/tests/data/ipe202409sel_ims.txt").read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith("2024/09/01 12:33:19.91"))
    lines[index] = "2024/09/01 12:33:19.91   0.34  0.17  49.8X19   18.55Y3   2.2   1.7  61   1.0f\n"
    path = _bad(tmp_path, "broken.ims", "".join(lines).encode())
    with pytest.raises(ImportFileError, match=r"broken\.ims"):
        events_import_file(path=path)
    assert _counts() == (0,) * 7


def test_an_empty_file_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match=r"empty\.xml: the file is empty"):
        events_import_file(path=_bad(tmp_path, "empty.xml", b""))


def test_a_csv_row_with_a_bad_number_names_line_and_field(tmp_path: Path, shared_data: Path) -> None:
    lines = (shared_data / "pnw/events.csv").read_text().splitlines(keepends=True)
    lines[5] = lines[5].replace(",ml,", ",ml,").replace(lines[5].split(",")[11], "north", 1)
    path = _bad(tmp_path, "pnw.csv", "".join(lines).encode())
    with pytest.raises(ImportFileError, match=r"pnw.csv, line 6: field 'latitude': 'north' is not a number"):
        events_import_file(path=path)
    assert _counts() == (0,) * 7


def test_the_command_reports_and_exits_non_zero_on_a_bad_file(tmp_path: Path, obspy_data: Path, capsys) -> None:
    good = obspy_data / "io/quakeml/tests/data/usgs_event.xml"
    bad = _bad(tmp_path, "empty.xml", b"")
    with pytest.raises(CommandError, match="1 of 2 files failed"):
        call_command("import_events", str(good), str(bad))
    captured = capsys.readouterr()
    assert "events 1 created" in captured.out
    assert "empty.xml: the file is empty" in captured.err
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    "relative", ["io/seiscomp/tests/data/quakeml_1.2_quarryblast.xml", "io/nordic/tests/data/select.out"]
)
def test_a_gzipped_event_file_imports_like_the_plain_one_through_a_removed_copy(
    tmp_path: Path, obspy_data: Path, settings: Any, relative: str
) -> None:
    settings.DATA_DIR = tmp_path / "data"
    plain = events_import_file(path=obspy_data / relative)
    Event.objects.all().delete()
    path = tmp_path / f"{Path(relative).name}.gz"
    path.write_bytes(gzip.compress((obspy_data / relative).read_bytes()))
    report = events_import_file(path=path)
    assert (report.format, report.events_created) == (plain.format, plain.events_created)
    assert report.events_created > 0
    assert list((tmp_path / "data" / "tmp").iterdir()) == []


def test_a_gzip_bomb_named_as_an_event_file_is_refused_naming_it(tmp_path: Path, settings: Any) -> None:
    settings.DATA_DIR = tmp_path / "data"
    path = tmp_path / "catalogue.csv.gz"
    path.write_bytes(gzip.compress(bytes(64 << 20)))
    with pytest.raises(ImportFileError, match=r"catalogue\.csv\.gz: gzip content expands more than 100 times"):
        events_import_file(path=path)
    assert _counts() == (0,) * len(_counts()) and list((tmp_path / "data" / "tmp").iterdir()) == []
