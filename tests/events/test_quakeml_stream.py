"""The streaming QuakeML reader stores exactly what ObsPy's reader stores, in memory that does not grow with the
file, and on bad input writes nothing and names the line."""

import gc
import logging
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import obspy
import pytest
from django.db import connection
from obspy.io.quakeml.core import _is_quakeml

from events.importers.quakeml_stream import quakeml_event_records, quakeml_streamable
from events.importers.reading import read_event_file
from events.importers.store import EventImportReport, events_import_file
from events.models import Amplitude, Arrival, Event, Magnitude, Origin, Pick
from fileimport.errors import ImportFileError
from tests.support.event_store_rows import event_store_rows

OBSPY_DIR = Path(obspy.__path__[0])
NORDIC = "io/nordic/tests/data/select.out"
pytestmark = pytest.mark.django_db


def _bundled_quakeml() -> list[Path]:
    """Every QuakeML file of ObsPy's test data that ObsPy itself takes for QuakeML."""
    found = []
    for path in sorted(OBSPY_DIR.glob("**/tests/data/**/*")):
        if path.suffix not in (".xml", ".qml") or not path.is_file():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if _is_quakeml(str(path)):
                found.append(path)
    return found


BUNDLED = _bundled_quakeml()


def _stored(path: Path, settings: Any, *, streaming: bool) -> tuple[EventImportReport, dict[str, list[Any]]]:
    settings.SEISTRIAGE_QUAKEML_STREAMING = streaming
    Event.objects.all().delete()
    report = events_import_file(path=path)
    return report, event_store_rows()


def _counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (Event, Origin, Pick, Arrival, Magnitude, Amplitude))


def _assert_same_rows(path: Path, settings: Any, caplog: pytest.LogCaptureFixture) -> EventImportReport:
    assert quakeml_streamable(path)
    by_obspy, rows_by_obspy = _stored(path, settings, streaming=False)
    with caplog.at_level(logging.INFO, logger="events.importers.store"):
        streamed, rows_streamed = _stored(path, settings, streaming=True)
    assert "read by ObsPy instead" not in caplog.text
    assert streamed.format == by_obspy.format == "QUAKEML"
    for table, rows in rows_by_obspy.items():
        assert rows_streamed[table] == rows, table
    return streamed


def _written_as_quakeml(source: Path, target: Path) -> Path:
    catalog, _ = read_event_file(source)
    catalog.write(str(target), format="QUAKEML")
    return target


def test_obspy_bundles_enough_quakeml_files_for_the_comparison_to_mean_something() -> None:
    assert len([path for path in BUNDLED if quakeml_streamable(path)]) >= 30


@pytest.mark.parametrize(
    "path", [path for path in BUNDLED if quakeml_streamable(path)], ids=lambda path: str(path.relative_to(OBSPY_DIR))
)
def test_a_bundled_quakeml_file_stores_the_same_rows_streamed_as_read_by_obspy(
    path: Path, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    try:
        events_import_file(path=path)
    except ImportFileError:
        pytest.skip("the ObsPy route cannot import this file either")  # none today; kept honest if ObsPy changes
    _assert_same_rows(path, settings, caplog)


@pytest.mark.parametrize(
    "source",
    [
        OBSPY_DIR / NORDIC,
        OBSPY_DIR / "io/iaspei/tests/data/ipe202409sel_ims.txt",
        Path("pnw/events.csv"),
        Path("esec/IRISExoticEventCatalog.txt"),
    ],
    ids=lambda path: path.name,
)
def test_a_real_catalogue_written_as_quakeml_stores_the_same_rows_streamed(
    source: Path, shared_data: Path, tmp_path: Path, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = _written_as_quakeml(shared_data / source, tmp_path / "catalogue.xml")  # an absolute source stays itself
    report = _assert_same_rows(path, settings, caplog)
    assert report.events_created > 0


def test_the_nordic_catalogue_keeps_its_picks_and_arrivals_when_streamed(
    tmp_path: Path, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = _written_as_quakeml(OBSPY_DIR / NORDIC, tmp_path / "nordic.xml")
    report = _assert_same_rows(path, settings, caplog)
    assert (report.events_created, report.picks, report.arrivals, report.amplitudes) == (50, 708, 443, 265)


def test_an_event_type_obspy_drops_silently_is_reported_as_skipped() -> None:
    report = events_import_file(path=OBSPY_DIR / "io/quakeml/tests/data/usgs_event.xml")
    assert report.events_created == 1
    assert report.events_skipped == 1
    assert "type 'quarry' is not a QuakeML 1.2 event type" in report.skipped_reasons[0]


def test_an_event_in_another_default_namespace_is_read_by_obspy_not_dropped(
    tmp_path: Path, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """ObsPy looks an element's children up in its default namespace; an <event> that declares another one is
    beyond the stream, which hands the whole file to ObsPy rather than guess."""
    text = (OBSPY_DIR / "io/seiscomp/tests/data/quakeml_1.2_quarryblast.xml").read_text()
    other = 'xmlns:b="http://quakeml.org/xmlns/bed/1.2" xmlns="urn:x-seistriage:other"'
    path = tmp_path / "other_namespace.xml"
    path.write_text(text.replace("<event ", f"<b:event {other} ", 1).replace("</event>", "</b:event>", 1))
    by_obspy, rows_by_obspy = _stored(path, settings, streaming=False)
    with caplog.at_level(logging.INFO, logger="events.importers.store"):
        streamed, rows_streamed = _stored(path, settings, streaming=True)
    assert "read by ObsPy instead" in caplog.text
    assert (streamed.events_created, streamed.origins) == (by_obspy.events_created, by_obspy.origins) == (1, 1)
    assert rows_streamed == rows_by_obspy


def _nordic_repeated(tmp_path: Path, copies: int) -> Path:
    """ObsPy's 50 real Nordic events written as QuakeML, `copies` times over with their ids renamed per copy
    (ObsPy's ids for Nordic events are smi:local/<uuid>, which the store would take for unstable ones)."""
    single_path = tmp_path / "nordic.xml"
    if not single_path.exists():
        _written_as_quakeml(OBSPY_DIR / NORDIC, single_path)
    single = single_path.read_text()
    head, rest = single.split("<event ", 1)
    body, tail = ("<event " + rest).rsplit("</eventParameters>", 1)
    path = tmp_path / f"nordic_x{copies}.xml"
    with path.open("w") as handle:
        handle.write(head)
        for copy in range(copies):
            handle.write(body.replace("smi:local/", f"smi:copy{copy}/"))
        handle.write("</eventParameters>" + tail)
    return path


def _peak_bytes(path: Path) -> int:
    # Earlier tests' objects are collected and then frozen out of the collector, so when a full collection of
    # the import's own cyclic garbage runs depends on the import alone, not on what the session left behind
    # (the peak differed by 30 % between running this test alone and after the rest of the file).
    gc.collect()
    gc.freeze()
    tracemalloc.start()
    try:
        events_import_file(path=path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        gc.unfreeze()
        Event.objects.all().delete()


def test_a_large_catalogue_streams_in_memory_that_does_not_grow_with_its_events(tmp_path: Path, settings: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the bound is the PostgreSQL COPY path's; elsewhere rows go through Django's bulk_create")
    settings.SEISTRIAGE_IMPORT_BATCH_SIZE = 50
    small, large = _nordic_repeated(tmp_path, 2), _nordic_repeated(tmp_path, 8)
    _peak_bytes(small)  # once first: what an import allocates once per process (caches, lazy imports) is not growth
    streamed = _peak_bytes(small), _peak_bytes(large)
    # 100 and 400 events: no more than the few ids per event the import keeps to find repeated ones.
    assert streamed[1] < 1.2 * streamed[0], streamed
    # The measure can tell growth: with all 400 events in one batch, the peak is the whole file's.
    settings.SEISTRIAGE_IMPORT_BATCH_SIZE = 400
    assert _peak_bytes(large) > 2.5 * streamed[1], streamed


def test_malformed_xml_in_the_middle_writes_nothing_and_names_the_line(tmp_path: Path, settings: Any) -> None:
    settings.SEISTRIAGE_IMPORT_BATCH_SIZE = 20
    lines = _nordic_repeated(tmp_path, 4).read_text().splitlines(keepends=True)
    broken = next(i for i in range(len(lines) * 2 // 3, len(lines)) if "</pick>" in lines[i])
    lines[broken] = lines[broken].replace("</pick>", "</pik>")
    path = tmp_path / "broken.xml"
    path.write_text("".join(lines))
    with pytest.raises(ImportFileError, match=rf"broken\.xml: XML syntax error at line {broken + 1}, column \d+"):
        events_import_file(path=path)
    assert _counts() == (0,) * 6
    # The stream alone finds it too, after the events before it.
    read = []
    with pytest.raises(ImportFileError, match=rf"XML syntax error at line {broken + 1}"):
        for record in quakeml_event_records(path):
            read.append(record.resource_id)
    assert len(read) > 100


def test_a_bad_value_in_a_late_batch_undoes_the_batches_stored_before_it(tmp_path: Path, settings: Any) -> None:
    settings.SEISTRIAGE_IMPORT_BATCH_SIZE = 20
    lines = _nordic_repeated(tmp_path, 4).read_text().splitlines(keepends=True)
    latitudes = [i for i, line in enumerate(lines) if "<latitude>" in line]
    bad = latitudes[len(latitudes) * 3 // 4] + 1  # the <value> line under an origin's <latitude>, event 150 or so
    assert "<value>" in lines[bad]
    lines[bad] = "        <value>NaN</value>\n"
    path = tmp_path / "nan.xml"
    path.write_text("".join(lines))
    origin_line = max(i for i in range(bad) if "<origin " in lines[i]) + 1
    with pytest.raises(ImportFileError, match=rf"nan\.xml, line {origin_line}: <origin> latitude: nan is not a finite"):
        events_import_file(path=path)
    assert _counts() == (0,) * 6
