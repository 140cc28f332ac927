"""Plotly figures as plain JSON-ready dicts: the record section and the spectrogram (pure, no Django).

The record section has one row per channel on a single y axis: row ``r`` is drawn around ``y = -r``, each
trace scaled so its largest absolute value in the window spans ``ROW_HALF_HEIGHT``. The x axis is seconds
after ``reference_time`` (the origin time). Every trace is decimated to at most four points per pixel
column (waveforms.decimation), so the payload depends on the plot width, not on the trace length.
Channels given as summaries (waveforms.summaries) are decimated from their min/max bins instead.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

import numpy as np
import obspy
from obspy import UTCDateTime

from waveforms.decimation import column_grid, m4_indices
from waveforms.spectrogram import Spectrogram
from waveforms.summaries import SummarySegment, m4_from_bins
from waveforms.windows import PredictedArrivals

ROW_HALF_HEIGHT = 0.45
COMPONENT_ORDER = "ZNE12RT"
COLOURS = {
    "trace": "#1f2d3d",
    "manual": "#c0392b",
    "automatic": "#e67e22",
    "workbench": "#8e24aa",
    "P": "#2e86c1",
    "S": "#27ae60",
    "origin": "#000000",
}


@dataclass(frozen=True)
class PickMark:
    """A pick to draw: ``seed_id`` may leave location/channel empty (then it marks every channel of the station)."""

    seed_id: str
    phase: str
    time: UTCDateTime
    automatic: bool
    workbench: bool = False  # set on the review page (a manual pick with its author), drawn in its own colour


class PlotlyTrace(TypedDict, total=False):
    type: str
    mode: str
    name: str
    x: list[float | None]
    y: list[float | None]
    text: list[str]
    textposition: str
    line: dict[str, Any]
    hoverinfo: str
    showlegend: bool
    legendgroup: str
    meta: dict[str, Any]
    z: list[list[float]]
    colorscale: str
    colorbar: dict[str, Any]
    fill: str
    fillcolor: str


class PlotlyFigure(TypedDict):
    data: list[PlotlyTrace]
    layout: dict[str, Any]


class RowInfo(TypedDict):
    row: int
    seed_id: str
    distance_deg: float | None
    # the row spans ±ROW_HALF_HEIGHT for its scale
    scale: Annotated[float, "peak |amplitude| in the window, trace units"]
    first_pick_s: Annotated[float | None, "seconds after the reference time"]
    points: int
    offset_s: Annotated[float, "x = 0 of this row, seconds after the reference time (its P when aligned on P)"]
    units: Annotated[str, "counts, or m/s after response removal"]


class RecordSection(TypedDict):
    figure: PlotlyFigure
    rows: list[RowInfo]


def _station(seed_id: str) -> str:
    return ".".join(seed_id.split(".")[:2])


def _component_rank(seed_id: str) -> int:
    component = seed_id[-1:]
    return COMPONENT_ORDER.index(component) if component in COMPONENT_ORDER else len(COMPONENT_ORDER)


def _decimated(
    segments: Sequence[obspy.Trace], *, reference: UTCDateTime, start_s: float, end_s: float, width: int
) -> tuple[list[float | None], list[float | None], float]:
    """x (s after reference) and demeaned y values of all segments of one channel, None between segments."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    peak = 0.0
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for segment in sorted(segments, key=lambda t: t.stats.starttime):
        rate = float(segment.stats.sampling_rate)
        segment_start = float(segment.stats.starttime - reference)
        grid = column_grid(
            start_s=segment_start, sampling_rate=rate, window_start_s=start_s, window_end_s=end_s, width=width
        )
        values = segment.data
        indices = m4_indices(values, grid)
        if indices.size == 0:
            continue
        picked = np.ma.getdata(values[indices]).astype(np.float64)
        parts.append((segment_start + indices / rate, picked))
    if not parts:
        return xs, ys, peak
    # The mean of the raw samples (one cheap pass), so the decimation does not bias the zero line.
    total = sum(float(np.ma.getdata(s.data).sum(dtype=np.float64)) for s in segments)
    mean = total / max(1, sum(s.stats.npts for s in segments))
    for _, picked in parts:
        picked -= mean
        peak = max(peak, float(np.abs(picked).max()))
    for number, (times, picked) in enumerate(parts):
        if number:
            xs.append(None)
            ys.append(None)
        xs.extend(np.round(times, 3).tolist())
        ys.extend(picked.tolist())
    return xs, ys, peak


def _decimated_from_summaries(
    runs: Sequence[SummarySegment], *, reference: UTCDateTime, start_s: float, end_s: float, width: int
) -> tuple[list[float | None], list[float | None], float]:
    """As ``_decimated``, from summary bins (snapped columns, see waveforms.summaries); the mean removed is
    that of the samples in the bins drawn."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    total, count = 0.0, 0
    for run in sorted(runs, key=lambda r: r.start):
        run_start = float(run.start - reference)
        grid = column_grid(
            start_s=run_start, sampling_rate=run.sampling_rate, window_start_s=start_s, window_end_s=end_s, width=width
        )
        decimation = m4_from_bins(run, grid)
        if decimation.indices.size:
            parts.append((run_start + decimation.indices / run.sampling_rate, decimation.values))
            total, count = total + decimation.total, count + decimation.count
    if not parts:
        return xs, ys, 0.0
    mean = total / count
    peak = max(float(np.abs(values - mean).max()) for _, values in parts)
    for number, (times, values) in enumerate(parts):
        if number:
            xs.append(None)
            ys.append(None)
        xs.extend(np.round(times, 3).tolist())
        ys.extend((values - mean).tolist())
    return xs, ys, peak


def _row_order(
    seed_ids: Sequence[str],
    distances: Mapping[str, float],
    first_picks: Mapping[str, float],
    peaks: Mapping[str, float],
) -> list[str]:
    def key(seed_id: str) -> tuple[float, float, float, str, int]:
        station = _station(seed_id)
        return (
            distances.get(station, np.inf),
            first_picks.get(station, np.inf),
            -max((peaks[s] for s in seed_ids if _station(s) == station), default=0.0),
            station,
            _component_rank(seed_id),
        )

    return sorted(seed_ids, key=key)


def _marks_trace(
    name: str, colour: str, dash: str, segments: list[tuple[float, float, str]], *, group: str
) -> list[PlotlyTrace]:
    """A line trace of vertical marks (x, row y, label) and a text trace for their labels."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for x, y, _ in segments:
        xs.extend([x, x, None])
        ys.extend([y + ROW_HALF_HEIGHT + 0.05, y - ROW_HALF_HEIGHT - 0.05, None])
    lines: PlotlyTrace = {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": xs,
        "y": ys,
        "legendgroup": group,
        "line": {"color": colour, "width": 1.5, "dash": dash},
        "hoverinfo": "x+name",
    }
    labels: PlotlyTrace = {
        "type": "scatter",
        "mode": "text",
        "name": f"{name} labels",
        "showlegend": False,
        "legendgroup": group,
        "x": [x for x, _, _ in segments],
        "y": [y + ROW_HALF_HEIGHT for _, y, _ in segments],
        "text": [label for _, _, label in segments],
        "textposition": "top right",
        "hoverinfo": "skip",
        "line": {"color": colour},
    }
    return [lines, labels]


def record_section_figure(
    *,
    stream: obspy.Stream,
    reference_time: UTCDateTime,
    window_start: UTCDateTime,
    window_end: UTCDateTime,
    width: int,
    picks: Sequence[PickMark] = (),
    predicted: Mapping[str, PredictedArrivals] | None = None,
    title: str = "",
    summarised: Mapping[str, Sequence[SummarySegment]] | None = None,
    offsets: Mapping[str, float] | None = None,
    common_scale: bool = False,
    units: Mapping[str, str] | None = None,
) -> RecordSection:
    """The record section of ``stream`` between ``window_start`` and ``window_end`` for a ``width``-pixel plot.

    Rows are sorted by epicentral distance (``predicted`` is keyed by "NET.STA"), then by first pick, then
    by decreasing peak amplitude; within a station Z, N, E, 1, 2, R, T. Picks are drawn on their channel's
    row (or on every row of their station when the channel is not shown), manual and automatic in different
    colours with their phase as label; predicted P and S as dashed marks; the origin time as a vertical line.
    Channels in ``summarised`` (SEED id to its contiguous runs) are drawn from their min/max summaries.
    ``offsets`` ("NET.STA" to seconds) shifts each station's x axis, for example to align the rows on their P
    arrival: x is then seconds after ``reference_time`` + the station's offset, and the window is read the same
    way. ``common_scale`` draws every row at the largest peak of all rows (amplitudes comparable across rows)
    instead of each row at its own peak.
    """
    predicted = predicted or {}
    offsets = offsets or {}
    start_s, end_s = float(window_start - reference_time), float(window_end - reference_time)

    def reference_of(seed_id: str) -> UTCDateTime:
        return reference_time + offsets.get(_station(seed_id), 0.0)

    by_id: dict[str, list[obspy.Trace]] = {}
    for trace in stream:
        by_id.setdefault(trace.id, []).append(trace)
    decimated = {
        seed_id: _decimated(segments, reference=reference_of(seed_id), start_s=start_s, end_s=end_s, width=width)
        for seed_id, segments in by_id.items()
    }
    for seed_id, runs in (summarised or {}).items():
        decimated[seed_id] = _decimated_from_summaries(
            runs, reference=reference_of(seed_id), start_s=start_s, end_s=end_s, width=width
        )
    first_picks: dict[str, float] = {}
    for pick in picks:
        station = _station(pick.seed_id)
        first_picks[station] = min(first_picks.get(station, np.inf), float(pick.time - reference_time))
    distances = {station: p.distance_deg for station, p in predicted.items()}
    order = _row_order(list(decimated), distances, first_picks, {s: d[2] for s, d in decimated.items()})

    data: list[PlotlyTrace] = []
    rows: list[RowInfo] = []
    row_of: dict[str, int] = {}
    largest = max((d[2] for d in decimated.values()), default=0.0)
    for row, seed_id in enumerate(order):
        xs, ys, peak = decimated[seed_id]
        scale = (largest if common_scale else peak) or 1.0
        offset = -float(row)
        y_row = [None if v is None else round(offset + ROW_HALF_HEIGHT * v / scale, 4) for v in ys]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": seed_id,
                "x": xs,
                "y": y_row,
                "showlegend": False,
                "line": {"color": COLOURS["trace"], "width": 1},
                "hoverinfo": "x+name",
                "meta": {"scale": peak, "row": row},
            }
        )
        row_of[seed_id] = row
        station = _station(seed_id)
        rows.append(
            {
                "row": row,
                "seed_id": seed_id,
                "distance_deg": distances.get(station),
                "scale": peak,
                "first_pick_s": first_picks.get(station),
                "points": sum(x is not None for x in xs),
                "offset_s": round(offsets.get(station, 0.0), 3),
                "units": (units or {}).get(seed_id, "counts"),
            }
        )

    marks: dict[str, list[tuple[float, float, str]]] = {
        "manual": [],
        "automatic": [],
        "workbench": [],
        "P": [],
        "S": [],
    }
    for pick in picks:
        x = round(float(pick.time - reference_of(pick.seed_id)), 3)
        targets = (
            [pick.seed_id] if pick.seed_id in row_of else [s for s in order if _station(s) == _station(pick.seed_id)]
        )
        for seed_id in targets:
            kind = "workbench" if pick.workbench else "automatic" if pick.automatic else "manual"
            marks[kind].append((x, -float(row_of[seed_id]), pick.phase))
    for seed_id in order:
        arrivals = predicted.get(_station(seed_id))
        for phase, time in (("P", arrivals.p_time if arrivals else None), ("S", arrivals.s_time if arrivals else None)):
            if time is not None:
                marks[phase].append((round(float(time - reference_of(seed_id)), 3), -float(row_of[seed_id]), phase))
    legend = {
        "manual": "manual picks",
        "automatic": "automatic picks",
        "workbench": "picks made here",
        "P": "iasp91 P",
        "S": "iasp91 S",
    }
    for kind, segments in marks.items():
        if segments:
            dash = "dash" if kind in ("P", "S") else "solid"
            data.extend(_marks_trace(legend[kind], COLOURS[kind], dash, segments, group=kind))

    layout: dict[str, Any] = {
        "title": {"text": title},
        "width": width,
        "height": max(300, 60 + 70 * len(order)),
        "margin": {"l": 150, "r": 20, "t": 40, "b": 40},
        "showlegend": True,
        "xaxis": {
            "title": {"text": "seconds after P" if offsets else "seconds after origin time"},
            "range": [start_s, end_s],
            "zeroline": False,
        },
        "yaxis": {
            "tickmode": "array",
            "tickvals": [-float(r) for r in range(len(order))],
            "ticktext": order,
            "range": [-len(order) + 0.4, 0.6],
            "zeroline": False,
            "fixedrange": True,
        },
        "shapes": [
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": 0.0,
                "x1": 0.0,
                "y0": 0,
                "y1": 1,
                "line": {"color": COLOURS["origin"], "width": 1, "dash": "dot"},
                "name": "P" if offsets else "origin time",
            }
        ],
    }
    return {"figure": {"data": data, "layout": layout}, "rows": rows}


def spectrogram_figure(*, spectrogram: Spectrogram, seed_id: str, offset_s: float, width: int) -> PlotlyFigure:
    """A heatmap of ``spectrogram`` (dB) with time in seconds after the reference (``offset_s`` is the trace
    start relative to it)."""
    heatmap: PlotlyTrace = {
        "type": "heatmap",
        "name": seed_id,
        "x": np.round(spectrogram.times_s + offset_s, 3).tolist(),
        "y": np.round(spectrogram.freqs_hz, 4).tolist(),
        "z": np.round(spectrogram.power_db, 1).tolist(),
        "colorscale": "Viridis",
        "colorbar": {"title": {"text": "dB"}},
    }
    layout = {
        "title": {"text": f"{seed_id} spectrogram"},
        "width": width,
        "height": 300,
        "xaxis": {"title": {"text": "seconds after origin time"}},
        "yaxis": {"title": {"text": "frequency (Hz)"}},
    }
    return {"data": [heatmap], "layout": layout}
