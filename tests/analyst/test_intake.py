"""The watched folder: dropped real files are imported by kind, a bad file is recorded once with its reason."""

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from analyst.ingest.watch_folder import SETTLE_SECONDS, watch_folder_scan
from analyst.models import IntakeFile
from events.models import Event
from waveforms.models import Station, WaveformSource

pytestmark = pytest.mark.django_db


def _settled(path: Path) -> None:
    """Backdate the file past the settle time, as a file finished writing a while ago."""
    past = time.time() - 10 * SETTLE_SECONDS
    os.utime(path, (past, past))


def test_it_imports_dropped_event_station_and_waveform_files_by_kind(
    tmp_path: Path, obspy_data: Path, shared_data: Path
) -> None:
    watched = tmp_path / "incoming"
    watched.mkdir()
    files = {
        "events": shutil.copy(obspy_data / "io/quakeml/tests/data/usgs_event.xml", watched / "blast.xml"),
        "stations": shutil.copy(obspy_data / "core/data/BW_RJOB.xml", watched / "rjob.xml"),
        "waveforms": shutil.copy(shared_data / "pnw/waveforms/uw61348817/UW.JCW..EHZ.mseed", watched / "jcw.mseed"),
    }
    for path in files.values():
        _settled(Path(path))

    report = watch_folder_scan(folder=watched)

    assert sorted(report.imported) == sorted(str(Path(p)) for p in files.values()) and not report.failed
    for kind, path in files.items():
        row = IntakeFile.objects.get(path=str(path))
        assert (row.kind, row.status, row.error) == (kind, "imported", "")
    assert Event.objects.filter(source_file__endswith="blast.xml").count() == 1
    assert Station.objects.filter(code="RJOB").exists()
    assert WaveformSource.objects.filter(path=str(files["waveforms"])).exists()
    # A second scan finds nothing new.
    again = watch_folder_scan(folder=watched)
    assert again.imported == [] and again.unchanged == 3


def test_a_bad_file_is_recorded_once_with_its_reason_until_it_changes(tmp_path: Path, obspy_data: Path) -> None:
    watched = tmp_path / "incoming"
    watched.mkdir()
    bad = watched / "truncated.xml"
    text = (obspy_data / "io/quakeml/tests/data/usgs_event.xml").read_text()
    bad.write_text(text[: len(text) // 2])  # a real file cut in half mid-transfer
    _settled(bad)

    report = watch_folder_scan(folder=watched)
    assert report.failed == [str(bad)]
    row = IntakeFile.objects.get(path=str(bad))
    assert row.status == "failed" and row.kind == "unknown"
    assert str(bad) in row.error and "as events:" in row.error and "line" in row.error
    failed_at = row.imported_at

    # Unchanged: not tried again.
    assert watch_folder_scan(folder=watched).failed == []
    assert IntakeFile.objects.get(path=str(bad)).imported_at == failed_at

    # The complete file arrives under the same name: it is read again and imported.
    bad.write_text(text)
    _settled(bad)
    report = watch_folder_scan(folder=watched)
    assert report.imported == [str(bad)]
    row = IntakeFile.objects.get(path=str(bad))
    assert row.status == "imported" and row.kind == "events" and row.error == ""


def test_a_file_still_being_written_waits_for_the_next_scan(tmp_path: Path, obspy_data: Path) -> None:
    watched = tmp_path / "incoming"
    watched.mkdir()
    shutil.copy(obspy_data / "io/quakeml/tests/data/usgs_event.xml", watched / "fresh.xml")
    os.utime(watched / "fresh.xml")  # modified just now
    assert watch_folder_scan(folder=watched).imported == []
    assert not IntakeFile.objects.exists()


def test_a_burst_of_single_event_files_goes_to_scoring_as_one_batch(
    tmp_path: Path, shared_data: Path, django_capture_on_commit_callbacks: Any
) -> None:
    """30 real PNSN catalogue rows dropped as 30 files: one scan sends them to the cpu queue as one batch chain
    (a message on the broker), not one chain per file."""
    import redis
    from django.conf import settings

    from events.vocabulary import ScoringState

    watched = tmp_path / "incoming"
    watched.mkdir()
    lines = (shared_data / "catalogs" / "pnsn_comcat_2018-2022.csv").read_text().splitlines()
    for index, row in enumerate(lines[1:31]):
        path = watched / f"event-{index:02d}.csv"
        path.write_text(f"{lines[0]}\n{row}\n")
        _settled(path)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    before = broker.llen("cpu")

    with django_capture_on_commit_callbacks(execute=True):
        report = watch_folder_scan(folder=watched)

    assert len(report.imported) == 30 and not report.failed
    events = Event.objects.filter(source_file__contains="event-")
    assert events.count() == 30
    assert set(events.values_list("scoring_state", flat=True)) == {ScoringState.QUEUED}
    assert broker.llen("cpu") - before == 1  # one measure -> score chain for the 30 events


def test_a_long_burst_sends_full_batches_while_it_imports_and_the_rest_at_the_end(
    tmp_path: Path, shared_data: Path, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    """25 real rows as 25 files with batches of 10: two full batches leave during the scan, the last 5 at its end."""
    import redis

    settings.SEISTRIAGE_SCORING_BATCH_SIZE = 10
    watched = tmp_path / "incoming"
    watched.mkdir()
    lines = (shared_data / "catalogs" / "pnsn_comcat_2018-2022.csv").read_text().splitlines()
    for index, row in enumerate(lines[1:26]):
        path = watched / f"event-{index:02d}.csv"
        path.write_text(f"{lines[0]}\n{row}\n")
        _settled(path)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    before = broker.llen("cpu")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        watch_folder_scan(folder=watched)

    assert broker.llen("cpu") - before == 3
    assert len(callbacks) == 3  # 10 + 10 during the scan, 5 at its end
    assert Event.objects.filter(source_file__contains="event-", scoring_state="queued").count() == 25
