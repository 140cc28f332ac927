"""Event import throughput and memory: our importer (parse + store in the database) beside plain
`obspy.read_events` (parse only) on the same files, in one run.

Inputs (real data):
- the PNSN catalogue CSV (10,620 rows) from the shared data folder; ObsPy has no reader for this
  layout, so its baseline is ObsPy reading the same events written as QuakeML;
- a QuakeML file of thousands of events with picks and arrivals, built by repeating the 50 real
  events of ObsPy's bundled Nordic catalogue with shifted origin times and new ids (real events
  re-stamped, not synthetic waveforms or picks).

Peak memory is each side's peak resident set, measured in a fresh process that sets Django up and then only
reads (ObsPy) or imports (ours) the file; the last line imports a file three times as large, to show whether
our peak grows with the file.

Run: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/seistriage_bench .venv/bin/python bench/bench_import.py`
"""

import copy
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import machine_line, setup

setup()

import obspy  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from obspy.core.event import Catalog, ResourceIdentifier  # noqa: E402

from analyst.ingest.services import events_ingest_file  # noqa: E402
from events.importers.reading import read_event_file  # noqa: E402
from events.models import Event  # noqa: E402


def repeated_nordic_quakeml(folder: Path, copies: int) -> Path:
    source = obspy.read_events(str(Path(obspy.__path__[0]) / "io/nordic/tests/data/select.out"), format="NORDIC")
    events = []
    for copy_index in range(copies):
        shift = copy_index * 86400.0 * 3
        for event_index, original in enumerate(source):
            event = copy.deepcopy(original)
            prefix = f"smi:bench/{copy_index}/{event_index}"
            event.resource_id = ResourceIdentifier(prefix)
            for kind, items in (
                ("origin", event.origins),
                ("pick", event.picks),
                ("magnitude", event.magnitudes),
                ("amplitude", event.amplitudes),
            ):
                for item_index, item in enumerate(items):
                    old = str(item.resource_id)
                    item.resource_id = ResourceIdentifier(f"{prefix}/{kind}/{item_index}")
                    if kind == "pick":
                        for origin in event.origins:
                            for arrival in origin.arrivals:
                                if str(arrival.pick_id) == old:
                                    arrival.pick_id = item.resource_id
                    if kind == "origin":
                        for magnitude in event.magnitudes:
                            if str(magnitude.origin_id) == old:
                                magnitude.origin_id = item.resource_id
            for origin in event.origins:
                origin.time += shift
            for pick in event.picks:
                pick.time += shift
            event.preferred_origin_id = event.origins[0].resource_id
            events.append(event)
    path = folder / f"nordic_x{copies}.xml"
    Catalog(events=events).write(str(path), format="QUAKEML")
    return path


def tripled(path: Path) -> Path:
    """The same QuakeML three times over in one file, each copy's ids renamed (a larger file, same events)."""
    text = path.read_text()
    head, rest = text.split("<event ", 1)
    body, tail = ("<event " + rest).rsplit("</eventParameters>", 1)
    target = path.with_name(path.stem + "_x3.xml")
    with target.open("w") as handle:
        handle.write(head)
        for copy_index in range(3):
            handle.write(body.replace("smi:bench/", f"smi:bench{copy_index}/"))
        handle.write("</eventParameters>" + tail)
    return target


def _peak_rss_in_child(side: str, path: Path) -> float:
    """Peak resident set (MiB) of a fresh process that reads (`obspy`) or imports (`ours`) `path`, or only sets
    Django up (`setup`)."""
    output = subprocess.run(
        [sys.executable, __file__, "--peak-rss", side, str(path)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "DEBUG": "false"},  # no query log growing with the import
    ).stdout
    return float(output.strip().splitlines()[-1])


def _peak_rss_child(side: str, path: Path) -> None:
    if side == "ours":
        Event.objects.all().delete()
    # Peak from here: VmHWM reset (and not getrusage's ru_maxrss, which Linux carries over from the parent).
    Path("/proc/self/clear_refs").write_text("5")
    if side == "obspy":
        obspy.read_events(str(path), format="QUAKEML")
    elif side == "ours":
        events_ingest_file(path=path)
    peak_kib = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    print(int(peak_kib.split()[1]) / 1024, flush=True)
    if side == "ours":
        Event.objects.all().delete()


def measure(label: str, path: Path, obspy_path: Path, *, obspy_route: bool = False) -> None:
    Event.objects.all().delete()
    started = time.perf_counter()
    obspy_catalog = obspy.read_events(str(obspy_path), format="QUAKEML")  # both are written as QuakeML
    obspy_seconds = time.perf_counter() - started
    obspy_events = len(obspy_catalog)
    del obspy_catalog
    started = time.perf_counter()
    report = events_ingest_file(path=path)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    events_ingest_file(path=path)
    reimport = time.perf_counter() - started
    count = report.events_created
    print(f"{label}: {count} events, {report.picks} picks, {report.arrivals} arrivals ({os.getloadavg()[0]:.1f} load)")
    print(f"  {'':38} {'events/s':>10} {'peak RSS':>10}")
    obspy_rss, ours_rss = _peak_rss_in_child("obspy", obspy_path), _peak_rss_in_child("ours", path)
    print(f"  {'obspy.read_events (parse only)':38} {obspy_events / obspy_seconds:10.0f} {obspy_rss:7.0f} MiB")
    print(f"  {'seistriage import (parse + store)':38} {count / ours:10.0f} {ours_rss:7.0f} MiB")
    print(f"  {'seistriage re-import (update)':38} {count / reimport:10.0f}")
    if obspy_route:
        settings.SEISTRIAGE_QUAKEML_STREAMING = False
        Event.objects.all().delete()
        started = time.perf_counter()
        events_ingest_file(path=path)
        print(f"  {'  same, ObsPy reader instead of stream':38} {count / (time.perf_counter() - started):10.0f}")
        settings.SEISTRIAGE_QUAKEML_STREAMING = True
    print(f"  ratio ours / obspy parse-only: {obspy_seconds / ours:.2f} (re-import {obspy_seconds / reimport:.2f})")


def main() -> None:
    call_command("migrate", verbosity=0)
    print(machine_line())
    print(f"database: {connection.vendor}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"peak RSS of a process that only sets Django up: {_peak_rss_in_child('setup', Path(__file__)):.0f} MiB")
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        pnsn = Path(settings.SHARED_DATA_DIR) / "catalogs/pnsn_comcat_2018-2022.csv"
        pnsn_quakeml = folder / "pnsn.xml"
        read_event_file(pnsn)[0].write(str(pnsn_quakeml), format="QUAKEML")
        measure("PNSN catalogue CSV", pnsn, pnsn_quakeml)
        nordic = repeated_nordic_quakeml(folder, copies=60)
        measure("QuakeML with picks (Nordic x60)", nordic, nordic, obspy_route=True)
        larger = tripled(nordic)
        print(f"QuakeML with picks, three times as large (Nordic x180, {larger.stat().st_size >> 20} MiB):")
        print(f"  {'seistriage import, peak RSS':38} {'':10} {_peak_rss_in_child('ours', larger):7.0f} MiB")
    Event.objects.all().delete()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--peak-rss"]:
        _peak_rss_child(sys.argv[2], Path(sys.argv[3]))
    else:
        main()
