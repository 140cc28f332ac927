"""Event import throughput: our importer (parse + store in the database) beside plain
`obspy.read_events` (parse only) on the same files, in one run.

Inputs (real data):
- the PNSN catalogue CSV (10,620 rows) from the shared data folder; ObsPy has no reader for this
  layout, so its baseline is ObsPy reading the same events written as QuakeML;
- a QuakeML file of thousands of events with picks and arrivals, built by repeating the 50 real
  events of ObsPy's bundled Nordic catalogue with shifted origin times and new ids (real events
  re-stamped, not synthetic waveforms or picks).

Run: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/seistriage_bench .venv/bin/python bench/bench_import.py`
"""

import copy
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


def measure(label: str, path: Path, obspy_path: Path) -> None:
    Event.objects.all().delete()
    started = time.perf_counter()
    obspy_catalog = obspy.read_events(str(obspy_path), format="QUAKEML")  # both are written as QuakeML
    obspy_seconds = time.perf_counter() - started
    started = time.perf_counter()
    report = events_ingest_file(path=path)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    events_ingest_file(path=path)
    reimport = time.perf_counter() - started
    count = report.events_created
    picks = report.picks
    print(f"{label}: {count} events, {picks} picks")
    print(f"  obspy.read_events (parse only):      {len(obspy_catalog) / obspy_seconds:10.0f} events/s")
    print(f"  seistriage import (parse + store):   {count / ours:10.0f} events/s")
    print(f"  seistriage re-import (update):       {count / reimport:10.0f} events/s")
    print(f"  ratio ours / obspy parse-only:       {obspy_seconds / ours:10.2f}")


def main() -> None:
    call_command("migrate", verbosity=0)
    print(machine_line())
    print(f"database: {connection.vendor}")
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        pnsn = Path(settings.SHARED_DATA_DIR) / "catalogs/pnsn_comcat_2018-2022.csv"
        pnsn_quakeml = folder / "pnsn.xml"
        read_event_file(pnsn)[0].write(str(pnsn_quakeml), format="QUAKEML")
        measure("PNSN catalogue CSV", pnsn, pnsn_quakeml)
        nordic = repeated_nordic_quakeml(folder, copies=60)
        measure("QuakeML with picks (Nordic x60)", nordic, nordic)
    Event.objects.all().delete()


if __name__ == "__main__":
    main()
