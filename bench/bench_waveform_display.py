"""Drawing a day of 100 Hz, 3-channel data at 1200 px: our M4 figure beside naive JSON and plotly-resampler.

Input (real data, tiled): the three 100 Hz channels (DPE, DPN, DPZ) of the PhaseNet window
BG_ACR_2012082505145960 from the shared data (90 s, a real earthquake with 30 s of noise before it),
each repeated 960 times end to end (9000 samples per copy) to make 86,400 s = 8,640,000 samples per
channel, rounded to int32 counts and written as one STEIM2 MiniSEED file (4096-byte records) under
SEISTRIAGE_DATA_DIR/bench/. The repository is not touched.

The file is registered (waveform_file_import: headers, plus the min/max summaries of waveforms.summaries
for the raw data and the four filter presets; its time is printed) and an event at its start is created in
the benchmark's own database under SEISTRIAGE_DATA_DIR.

Measured in one run, each repeated and reported as p50/p95:
- ours, cold: the record-section endpoint's service (analyst.api.waveforms.event_waveforms_payload) for the
  whole day at 1200 px with the figure cache cleared before every call: database look-ups, summary files
  read from disk, decimation, figure, JSON, cache write. Once unfiltered, once with the 2-8 Hz preset;
- ours, raw path: what the endpoint did before summaries (read the MiniSEED + M4 over every sample), and
  the 2-8 Hz preset on the raw path (read + filter 26 M samples + M4) for the filtered comparison;
- ours, cached: the endpoint's answer from the Django cache (CACHE_URL; file-based by default);
- naive: read + the full-resolution samples of the three channels serialised to JSON;
- plotly-resampler: read + FigureResampler with MinMaxLTTB at 1200 px, figure serialised to JSON.

Run: `.venv/bin/python bench/bench_waveform_display.py`
"""

import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import machine_line, setup

setup()

import numpy as np  # noqa: E402
import obspy  # noqa: E402
import plotly  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import plotly_resampler  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import QueryDict  # noqa: E402
from plotly_resampler import FigureResampler  # noqa: E402
from plotly_resampler.aggregation import MinMaxLTTB  # noqa: E402

from analyst.selectors.waveforms import event_waveforms_payload, waveform_query_parse  # noqa: E402
from events.models import Event  # noqa: E402
from waveforms.figures import record_section_figure  # noqa: E402
from waveforms.importing.waveform_files import waveform_file_import  # noqa: E402
from waveforms.processing import filter_spec_parse, stream_filter  # noqa: E402

WIDTH = 1200
DAY_S = 86_400
SOURCE = "phasenet/BG_ACR_2012082505145960.mseed"


def build_day_file() -> Path:
    target = Path(settings.DATA_DIR) / "bench" / "BG.ACR.day.tiled.mseed"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    source = obspy.read(str(Path(settings.SHARED_DATA_DIR) / SOURCE), format="MSEED")
    day = obspy.Stream()
    for trace in source:
        block = np.round(trace.data[:9000]).astype(np.int32)
        tiled = obspy.Trace(np.tile(block, DAY_S * 100 // block.size), header=dict(trace.stats))
        tiled.stats.npts = tiled.data.size
        tiled.stats.starttime = obspy.UTCDateTime(2012, 8, 25)
        day.append(tiled)
    day.write(str(target), format="MSEED", encoding="STEIM2", reclen=4096)
    return target


def timed(run: Callable[[], bytes], repeat: int) -> tuple[list[float], int]:
    times: list[float] = []
    size = 0
    for _ in range(repeat):
        start = time.perf_counter()
        size = len(run())
        times.append((time.perf_counter() - start) * 1000)
    return times, size


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def register(path: Path) -> tuple[Event, float]:
    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    report = waveform_file_import(path=path, force=True)
    seconds = time.perf_counter() - start
    print(f"registration with summaries: {report.summary()} in {seconds:.1f} s")
    origin = obspy.UTCDateTime(2012, 8, 25).datetime.replace(tzinfo=dt.UTC)
    event, _ = Event.objects.get_or_create(public_id="smi:bench/day-long-display", defaults={"origin_time": origin})
    return event, seconds


def main() -> None:
    path = build_day_file()
    print(machine_line())
    print(f"plotly {plotly.__version__}, plotly-resampler {plotly_resampler.__version__}, cache {settings.CACHES}")
    print(f"input: {path} ({path.stat().st_size / 1e6:.1f} MB), {obspy.read(str(path), format='MSEED', headonly=True)}")
    event, _ = register(path)
    channels = ",".join(sorted(t.id for t in obspy.read(str(path), format="MSEED", headonly=True)))

    def endpoint(**params: str) -> Callable[[], bytes]:
        fields = {"start": "0", "end": str(DAY_S), "width": str(WIDTH), "channels": channels, **params}
        query = waveform_query_parse(params=QueryDict(urlencode(fields)))

        def run() -> bytes:
            cache.clear()
            return event_waveforms_payload(event_id=event.pk, query=query)

        return run

    ours_cold, ours_filtered = endpoint(), endpoint(filter="2-8")
    body = json.loads(ours_cold())
    assert body["from_summaries"] == channels.split(","), body["problems"]
    assert json.loads(ours_filtered())["from_summaries"] == channels.split(",")

    def ours_cached() -> bytes:
        payload: bytes = event_waveforms_payload(
            event_id=event.pk,
            query=waveform_query_parse(params=QueryDict(f"start=0&end={DAY_S}&width={WIDTH}&channels={channels}")),
        )
        return payload

    ours_cached()

    def raw_path(filtered: bool = False) -> Callable[[], bytes]:
        def run() -> bytes:
            stream = obspy.read(str(path), format="MSEED")
            if filtered:
                spec = filter_spec_parse(preset="2-8")
                assert spec is not None
                stream = stream_filter(stream=stream, spec=spec)
            start = stream[0].stats.starttime
            section = record_section_figure(
                stream=stream, reference_time=start, window_start=start, window_end=start + DAY_S, width=WIDTH
            )
            figure = {"figure": section["figure"], "rows": section["rows"]}
            return json.dumps(figure, separators=(",", ":")).encode()

        return run

    def naive() -> bytes:
        stream = obspy.read(str(path), format="MSEED")
        return json.dumps({t.id: t.data.tolist() for t in stream}, separators=(",", ":")).encode()

    def resampler() -> bytes:
        stream = obspy.read(str(path), format="MSEED")
        figure = FigureResampler(go.Figure(), default_downsampler=MinMaxLTTB(), default_n_shown_samples=4 * WIDTH)
        for trace in stream:
            figure.add_trace(go.Scattergl(name=trace.id), hf_x=np.arange(trace.stats.npts) / 100.0, hf_y=trace.data)
        encoded: bytes = str(figure.to_json()).encode()
        return encoded

    results = {
        "ours, cold (summaries)": timed(ours_cold, 40),
        "ours, cold, 2-8 Hz (summaries)": timed(ours_filtered, 40),
        "ours, from cache": timed(ours_cached, 50),
        "ours, raw path (before)": timed(raw_path(), 5),
        "ours, raw path, 2-8 Hz": timed(raw_path(filtered=True), 2),
        "naive full-resolution JSON": timed(naive, 3),
        "plotly-resampler MinMaxLTTB": timed(resampler, 5),
    }
    print(f"\n{'method':32} {'p50 ms':>9} {'p95 ms':>9} {'payload':>12}")
    for name, (times, size) in results.items():
        print(f"{name:32} {statistics.median(times):9.1f} {p95(times):9.1f} {size / 1e3:10.1f} kB")
    cold, filtered = results["ours, cold (summaries)"], results["ours, cold, 2-8 Hz (summaries)"]
    cached = results["ours, from cache"]
    naive_times, naive_size = results["naive full-resolution JSON"]
    resampler_times, resampler_size = results["plotly-resampler MinMaxLTTB"]
    raw_times, raw_filtered_times = results["ours, raw path (before)"][0], results["ours, raw path, 2-8 Hz"][0]
    print(
        f"\ntarget p95 cold <= 80 ms: {p95(cold[0]):.1f} ms unfiltered, {p95(filtered[0]):.1f} ms 2-8 Hz; "
        f"cached <= 20 ms: {p95(cached[0]):.2f} ms"
    )
    print(
        f"raw path / summaries: {statistics.median(raw_times) / statistics.median(cold[0]):.1f}x unfiltered, "
        f"{statistics.median(raw_filtered_times) / statistics.median(filtered[0]):.0f}x 2-8 Hz"
    )
    print(
        f"naive / ours cold: {statistics.median(naive_times) / statistics.median(cold[0]):.1f}x slower, "
        f"{naive_size / cold[1]:.0f}x larger (targets >= 10x, >= 100x)"
    )
    print(
        f"plotly-resampler / ours cold: {statistics.median(resampler_times) / statistics.median(cold[0]):.2f}x "
        f"the time, {resampler_size / cold[1]:.2f}x the payload"
    )


if __name__ == "__main__":
    main()
