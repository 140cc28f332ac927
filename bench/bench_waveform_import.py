"""Waveform registration and window reads: our importer and `stream_for_window` beside plain ObsPy.

Inputs (real data, read in place): every ESEC event folder (MiniSEED), every PNW event folder
(MiniSEED) and the SE USA SAC traces from the shared data folder.

Run: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/seistriage_bench .venv/bin/python bench/bench_waveform_import.py`
"""

import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import machine_line, setup

setup()

import obspy  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from waveforms.importing.paths import import_paths_expand  # noqa: E402
from waveforms.importing.waveform_files import waveform_file_import  # noqa: E402
from waveforms.models import WaveformSource, WaveformTrace  # noqa: E402
from waveforms.sources import stream_for_window  # noqa: E402


def main() -> None:
    call_command("migrate", verbosity=0)
    print(machine_line())
    print(f"database: {connection.vendor}")
    data = Path(settings.SHARED_DATA_DIR)
    folders = [data / "esec/waveforms", data / "pnw/waveforms", data / "se_usa_sac"]
    files = list(import_paths_expand(paths=folders))
    files = [f for f in files if f.suffix.lower() in {".mseed", ".sac"}]
    WaveformSource.objects.all().delete()

    started = time.perf_counter()
    for path in files:
        obspy.read(str(path), format="SAC" if path.suffix.lower() == ".sac" else "MSEED", headonly=True)
    obspy_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for path in files:
        waveform_file_import(path=path)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    for path in files:
        waveform_file_import(path=path)
    unchanged = time.perf_counter() - started
    print(f"{len(files)} files, {WaveformTrace.objects.count()} traces")
    print(f"  obspy.read headonly (format named): {len(files) / obspy_seconds:8.0f} files/s")
    print(f"  seistriage register (read + store):  {len(files) / ours:8.0f} files/s")
    print(f"  seistriage re-run, files unchanged:  {len(files) / unchanged:8.0f} files/s")

    # One window per ESEC event: 2 minutes from 30 s after the recording starts, all its channels.
    windows = []
    for event in sorted((data / "esec/waveforms").iterdir()):
        first = next(iter(sorted(event.glob("*.mseed"))), None)
        if first is None:
            continue
        stats = obspy.read(str(first), format="MSEED", headonly=True)[0].stats
        start = stats.starttime.datetime.replace(tzinfo=dt.UTC) + dt.timedelta(seconds=30)
        windows.append((event, start, start + dt.timedelta(minutes=2)))
    ours_ms, obspy_ms, traces = [], [], 0
    for event, start, end in windows:
        began = time.perf_counter()
        result = stream_for_window(start=start, end=end)
        ours_ms.append((time.perf_counter() - began) * 1000)
        traces += len(result.stream)
        began = time.perf_counter()
        stream = obspy.Stream()
        for path in sorted(event.glob("*.mseed")):
            stream += obspy.read(
                str(path), format="MSEED", starttime=obspy.UTCDateTime(start), endtime=obspy.UTCDateTime(end)
            )
        stream.merge(method=1)
        obspy_ms.append((time.perf_counter() - began) * 1000)
    print(f"stream_for_window over {len(windows)} ESEC event windows ({traces} traces in all):")
    print(
        f"  seistriage (query + read + merge + problems): median {statistics.median(ours_ms):6.1f} ms,"
        f" max {max(ours_ms):6.1f} ms"
    )
    print(
        f"  plain obspy.read of the event folder + merge: median {statistics.median(obspy_ms):6.1f} ms,"
        f" max {max(obspy_ms):6.1f} ms"
    )
    WaveformSource.objects.all().delete()


if __name__ == "__main__":
    main()
