"""Which events have waveforms (the CNN's coverage query) on 100,000 events: the interval search beside the EXISTS
query it replaced and beside a plain sorted-interval search in Python, in one run.

Rows: the real PNSN record sets (pnw/ and pnw_2002_2017/: 207 events, each 1-18 vertical records starting 50 s
before the origin; their trace headers are read from the MiniSEED files) and 100,000 event origin times drawn
uniformly over 2018-2022. 30% of the events get the trace spans of one real record set (drawn at random),
placed at their own origin time, so about 30% are covered, as in a catalogue where some events were recorded
and most were not. The times are resampled, the trace spans are real ones.

- ours: ranking.cnn_runs.events_covered_by_waveforms: the traces' union as sorted disjoint spans (one SQL pass,
  gaps and islands), then one binary search per event (NumPy searchsorted);
- the EXISTS query it replaced (waveforms.selectors.waveform_files_cover, a correlated subquery per event),
  on the first EXISTS_EVENTS events by time when the whole table would take too long (the rate is printed);
- a sorted-interval search in Python: every trace read back sorted by start, merged, one bisect per event.

All three must agree on the same events. Run (PostgreSQL database seistriage_bench_coverage, created if
missing; BENCH_COVERAGE_DATABASE_URL=sqlite:///... for the embedded default):
  .venv/bin/python bench/bench_coverage.py
"""

import bisect
import csv
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DATABASE_URL = os.environ.get(
    "BENCH_COVERAGE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/seistriage_bench_coverage"
)
os.environ["DATABASE_URL"] = DATABASE_URL
EVENTS = int(os.environ.get("BENCH_COVERAGE_EVENTS", "100000"))
EXISTS_EVENTS = int(os.environ.get("BENCH_COVERAGE_EXISTS_EVENTS", "5000"))
COVERED_SHARE = 0.3

from bench._django import machine_line, setup  # noqa: E402


def database_ensure(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')


database_ensure(DATABASE_URL)
setup()

import numpy as np  # noqa: E402
import obspy  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from events.models import Event  # noqa: E402
from ranking.cnn_runs import READ_AFTER_ORIGIN_S, READ_BEFORE_ORIGIN_S, events_covered_by_waveforms  # noqa: E402
from waveforms.models import WaveformSource, WaveformTrace  # noqa: E402
from waveforms.selectors import waveform_coverage, waveform_files_cover  # noqa: E402


def record_sets() -> list[list[tuple[float, float]]]:
    """Per real PNSN event: its records' (start - origin, end - origin) in seconds, from the MiniSEED headers."""
    shared = Path(settings.SHARED_DATA_DIR)
    sets = []
    for folder in ("pnw", "pnw_2002_2017"):
        with (shared / folder / "events.csv").open() as handle:
            origins = {row["source_id"]: float(row["timestamp"]) for row in csv.DictReader(handle)}
        for event_id, origin in origins.items():
            spans = []
            for path in sorted((shared / folder / "waveforms" / event_id).glob("*.mseed")):
                for trace in obspy.read(str(path), headonly=True):
                    spans.append((trace.stats.starttime.timestamp - origin, trace.stats.endtime.timestamp - origin))
            if spans:
                sets.append(spans)
    return sets


def tables_fill(sets: list[list[tuple[float, float]]]) -> tuple[int, int]:
    rng = np.random.default_rng(20210518)
    start = dt.datetime(2018, 1, 1, tzinfo=dt.UTC).timestamp()
    seconds = np.sort(rng.uniform(0, 5 * 365.25 * 86400, EVENTS)) + start
    Event.objects.bulk_create(
        (
            Event(public_id=f"smi:bench/coverage/{i}", origin_time=dt.datetime.fromtimestamp(t, dt.UTC))
            for i, t in enumerate(seconds.tolist())
        ),
        batch_size=5000,
    )
    source = WaveformSource.objects.create(kind=WaveformSource.Kind.FILE, path="bench-coverage")
    recorded = rng.random(EVENTS) < COVERED_SHARE
    picks = rng.integers(0, len(sets), EVENTS)
    traces = (
        WaveformTrace(
            source=source,
            network="UW",
            station=f"S{k}",
            channel="EHZ",
            start_time=dt.datetime.fromtimestamp(seconds[i] + a, dt.UTC),
            end_time=dt.datetime.fromtimestamp(seconds[i] + b, dt.UTC),
            sampling_rate=100.0,
            npts=int((b - a) * 100) + 1,
        )
        for i in np.flatnonzero(recorded).tolist()
        for k, (a, b) in enumerate(sets[picks[i]])
    )
    WaveformTrace.objects.bulk_create(traces, batch_size=5000)
    with connection.cursor() as cursor:  # what autovacuum does after a load
        cursor.execute("ANALYZE" if connection.vendor == "sqlite" else "VACUUM ANALYZE analyst_event")
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM ANALYZE {WaveformTrace._meta.db_table}")
    return Event.objects.count(), WaveformTrace.objects.count()


def exists_query(limit: int | None) -> tuple[list[int], int]:
    events = Event.objects.order_by("-origin_time", "-pk")
    if limit is not None:
        events = events[:limit]
        events = Event.objects.filter(pk__in=list(events.values_list("pk", flat=True))).order_by("-origin_time", "-pk")
    cover = waveform_files_cover(
        time_field="origin_time",
        before=dt.timedelta(seconds=READ_BEFORE_ORIGIN_S),
        after=dt.timedelta(seconds=READ_AFTER_ORIGIN_S),
    )
    return list(events.filter(cover).values_list("pk", flat=True)), limit or EVENTS


def python_sorted_intervals() -> list[int]:
    spans = [
        (s.timestamp(), e.timestamp())
        for s, e in WaveformTrace.objects.order_by("start_time", "end_time").values_list("start_time", "end_time")
    ]
    starts: list[float] = []
    ends: list[float] = []
    for s, e in spans:
        if ends and s <= ends[-1]:
            ends[-1] = max(ends[-1], e)
        else:
            starts.append(s)
            ends.append(e)
    covered = []
    for pk, origin in Event.objects.order_by("-origin_time", "-pk").values_list("pk", "origin_time"):
        assert origin is not None  # every bench event has one
        t = origin.timestamp()
        i = bisect.bisect_left(ends, t - READ_BEFORE_ORIGIN_S)
        if i < len(starts) and starts[i] <= t + READ_AFTER_ORIGIN_S:
            covered.append(pk)
    return covered


def timed(call: Any) -> Any:
    began = time.perf_counter()
    result = call()
    return result, time.perf_counter() - began


def main() -> None:
    print(machine_line())
    print(f"database: {connection.vendor}; load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    call_command("migrate", verbosity=0)
    if Event.objects.count() == EVENTS and os.environ.get("BENCH_COVERAGE_KEEP"):
        events, traces = Event.objects.count(), WaveformTrace.objects.count()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"VACUUM ANALYZE {WaveformTrace._meta.db_table}")
        sets = record_sets()
    else:
        WaveformTrace.objects.all().delete()
        WaveformSource.objects.all().delete()
        Event.objects.filter(public_id__startswith="smi:bench/coverage/").delete()
        sets = record_sets()
        events, traces = tables_fill(sets)
    print(f"{len(sets)} real PNSN record sets; {events:,} events, {traces:,} traces registered")
    try:
        events_covered_by_waveforms(Event.objects.all())  # warm
        ours, ours_s = timed(lambda: events_covered_by_waveforms(Event.objects.all()))
        _, spans_s = timed(waveform_coverage)
        print(
            f"  of which the traces' union (one SQL pass): {spans_s:.3f} s, {len(waveform_coverage().starts):,} spans"
        )
        python, python_s = timed(python_sorted_intervals)
        assert python == ours, "the sorted-interval search and ours disagree"
        limit = None if EXISTS_EVENTS >= EVENTS else EXISTS_EVENTS
        (exists, exists_n), exists_s = timed(lambda: exists_query(limit))
        newest = set(Event.objects.order_by("-origin_time", "-pk").values_list("pk", flat=True)[:exists_n])
        assert set(exists) == {pk for pk in ours if pk in newest}, "the EXISTS query and ours disagree"
        per_event_exists = exists_s / exists_n
        print(f"covered: {len(ours):,} of {events:,} events ({len(ours) / events:.0%})")
        print(f"ours (SQL islands + searchsorted)     {ours_s:8.3f} s for {events:,} events   (target <= 1 s)")
        print(
            f"sorted-interval search, Python        {python_s:8.3f} s for {events:,} events   "
            f"ratio x{python_s / ours_s:.1f}"
        )
        print(
            f"EXISTS query (replaced)               {exists_s:8.3f} s for {exists_n:,} events -> "
            f"{per_event_exists * events:.1f} s for {events:,} at that rate   "
            f"ratio x{per_event_exists * events / ours_s:,.0f}"
        )
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        if not os.environ.get("BENCH_COVERAGE_KEEP"):
            WaveformTrace.objects.all().delete()
            WaveformSource.objects.all().delete()
            Event.objects.filter(public_id__startswith="smi:bench/coverage/").delete()


if __name__ == "__main__":
    main()
