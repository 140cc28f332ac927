"""Bulletin export: our streaming QuakeML writer beside ObsPy's `Catalog.write` on the same events.

Both start from the database: the baseline builds the whole ObsPy Catalog in memory and writes it
once; ours converts and writes one prefetched chunk at a time. Reported: events/s and peak Python
memory (tracemalloc) of each, and their ratio.

Inputs: whatever the database named by DATABASE_URL / SEISTRIAGE_DATA_DIR holds (import the
shared ComCat week and ObsPy's Nordic catalogue first, e.g. `manage.py import_events ...`).
Run: `DEBUG=true SEISTRIAGE_DATA_DIR=var/bench .venv/bin/python bench/bench_export.py`
"""

import io
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import machine_line, setup

setup()

import datetime as dt  # noqa: E402

from obspy.core.event import Catalog  # noqa: E402

from analyst.bulletins.selection import events_select, export_chunks  # noqa: E402
from analyst.bulletins.services import bulletin_criteria, bulletin_write  # noqa: E402

START, END = dt.datetime(1900, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def measure(label: str, run: object) -> tuple[float, float, int]:
    tracemalloc.start()
    began = time.perf_counter()
    count = run()  # type: ignore[operator]
    seconds = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(f"{label:<34} {count:>7} events {seconds:7.2f} s {count / seconds:9.0f} events/s peak {peak:8.1f} MiB")
    return seconds, peak, int(count)


def ours() -> int:
    criteria = bulletin_criteria(start=START, end=END, status="all")
    return bulletin_write(out=io.BytesIO(), format="quakeml", criteria=criteria, status="all", author="bench")


def obspy_write() -> int:
    criteria = bulletin_criteria(start=START, end=END, status="all")
    catalog = Catalog(events=[i.obspy_event for c in export_chunks(events_select(criteria=criteria)) for i in c])
    catalog.write(io.BytesIO(), format="QUAKEML")
    return len(catalog)


def main() -> None:
    print(machine_line())
    our_seconds, our_peak, count = measure("streaming QuakeML (Seistriage)", ours)
    obspy_seconds, obspy_peak, _ = measure("Catalog.write (ObsPy, whole catalog)", obspy_write)
    if count:
        print(
            f"speed ratio ours/ObsPy: {obspy_seconds / our_seconds:.2f}x; peak memory ratio ObsPy/ours: "
            f"{obspy_peak / our_peak:.1f}x"
        )


if __name__ == "__main__":
    main()
