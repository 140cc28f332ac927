"""Which events have waveforms: the interval search (the traces' union as sorted spans, a binary search per event)
gives exactly the ids the correlated EXISTS query gives, on real PNSN events and records."""

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from analyst.ingest.services import events_ingest_file, waveforms_ingest_file
from events.models import Event
from ranking.cnn_runs import READ_AFTER_ORIGIN_S, READ_BEFORE_ORIGIN_S, events_covered_by_waveforms
from waveforms.models import WaveformTrace
from waveforms.selectors import WaveformCoverage, epoch_microseconds, waveform_coverage, waveform_files_cover

pytestmark = pytest.mark.django_db


def _exists_ids(before: float, after: float) -> set[int]:
    cover = waveform_files_cover(
        time_field="origin_time", before=dt.timedelta(seconds=before), after=dt.timedelta(seconds=after)
    )
    return set(Event.objects.filter(origin_time__isnull=False).filter(cover).values_list("pk", flat=True))


def test_the_interval_search_finds_the_events_the_exists_query_finds_on_real_records(shared_data: Path) -> None:
    events_ingest_file(path=shared_data / "pnw" / "events.csv", reviewed=True)
    folders = sorted(p for p in (shared_data / "pnw" / "waveforms").iterdir() if p.is_dir())[:12]
    for folder in folders:
        for path in sorted(folder.glob("*.mseed")):
            waveforms_ingest_file(path=path)
    assert WaveformTrace.objects.count() >= 12

    ours = events_covered_by_waveforms(Event.objects.all())
    assert set(ours) == _exists_ids(READ_BEFORE_ORIGIN_S, READ_AFTER_ORIGIN_S)
    assert 12 <= len(ours) < Event.objects.count()  # the 12 events recorded, not the other 56
    times = {pk: t for pk, t in Event.objects.filter(pk__in=ours).values_list("pk", "origin_time") if t is not None}
    assert [times[pk] for pk in ours] == sorted(times.values(), reverse=True)  # newest first

    coverage = waveform_coverage()
    assert np.all(np.diff(coverage.starts) > 0) and np.all(coverage.ends[:-1] < coverage.starts[1:])
    rows = [(pk, t) for pk, t in Event.objects.values_list("pk", "origin_time") if t is not None]
    epoch = np.array([epoch_microseconds(t) for _, t in rows], dtype=np.int64)
    # windows that only reach a record from before, from after, or by its edge (pnw records start 50 s early)
    for before, after in ((0.0, 0.0), (0.0, 60.0), (49.0, 0.0), (50.0, 0.0), (3600.0, 0.0), (0.0, 86400.0)):
        mask = coverage.covers(epoch, before=before, after=after)
        assert {pk for (pk, _), keep in zip(rows, mask, strict=True) if keep} == _exists_ids(before, after), (
            before,
            after,
        )


def test_a_window_touching_a_span_edge_is_covered_and_one_second_beyond_is_not() -> None:
    second = 1_000_000
    coverage = WaveformCoverage(starts=np.array([100, 300]) * second, ends=np.array([200, 400]) * second)
    times = np.array([90, 89, 210, 211, 250, 450]) * second
    assert coverage.covers(times, before=10.0, after=10.0).tolist() == [True, False, True, False, False, False]
    # one microsecond short of the edge
    assert coverage.covers(np.array([90 * second - 1]), before=10.0, after=10.0).tolist() == [False]
    empty = np.empty(0, dtype=np.int64)
    assert WaveformCoverage(starts=empty, ends=empty).covers(times, before=1, after=1).sum() == 0


def test_no_records_no_events_covered(shared_data: Path) -> None:
    events_ingest_file(path=shared_data / "pnw" / "events.csv", reviewed=True)
    assert events_covered_by_waveforms(Event.objects.all()) == []
