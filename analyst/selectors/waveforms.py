"""An event's waveforms for the review page: the query (window, filter, width, channels), the record section,
one trace with its CNN saliency, and a spectrogram, as cached JSON payloads. The API (analyst/api/waveforms.py)
parses the request and answers with them."""

import datetime as dt
import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

import numpy as np
import obspy
from django.conf import settings
from django.http import QueryDict
from django.shortcuts import get_object_or_404
from obspy import UTCDateTime

from analyst.picks import pick_is_workbench
from analyst.selectors.evidence_marks import evidence_shapes
from analyst.web.disclosure import text_public
from analyst.web.parameters import ParameterError, integer_parse, number_parse
from events.models import Event, Pick
from events.vocabulary import EvaluationMode
from ranking.cnn_runs import CnnSaliency
from waveforms import sources
from waveforms.cache import figure_cache_key, figure_cached, waveform_data_fingerprint
from waveforms.figures import (
    ROW_HALF_HEIGHT,
    PickMark,
    PlotlyFigure,
    PlotlyTrace,
    RowInfo,
    record_section_figure,
    spectrogram_figure,
)
from waveforms.processing import (
    FILTER_PRESETS,
    FilterError,
    FilterSpec,
    filter_spec_parse,
    stream_decimate_for_filter,
    stream_filter,
    stream_remove_response,
    stream_rotate_to_zrt,
)
from waveforms.spectrogram import trace_spectrogram
from waveforms.summaries import SummarySegment
from waveforms.summary_store import RAW
from waveforms.windows import PredictedArrivals, arrivals_predict, station_window

DEFAULT_WIDTH = 1200
MAX_WIDTH = 8000
MAX_WINDOW_S = 7 * 86400.0
MAX_OFFSET_S = 100 * 365.25 * 86400.0  # a window start or end given in seconds: within a century of the origin


class QueryError(ValueError):
    pass


COMPONENTS = ("all", "Z", "NE", "RT")  # which components to draw; RT rotates the horizontals (back azimuth)
SCALES = ("trace", "common")  # each row at its own peak, or every row at the largest peak
RESPONSES = ("", "velocity")  # counts as recorded, or the response removed to m/s where one is stored
ALIGN_DEFAULT_S = (-10.0, 30.0)  # the window around each station's P when aligned and no start/end are given


@dataclass(frozen=True)
class WaveformQuery:
    spec: FilterSpec | None
    start: str | None  # seconds after the origin time (after each station's P when aligned), or an ISO time
    end: str | None
    channels: tuple[str, ...] | None
    width: int
    align: bool = False  # x = 0 at each station's P (picked, else iasp91)
    components: str = "all"
    scale: str = "trace"
    response: str = ""

    @property
    def needs_samples(self) -> bool:
        """Drawn from samples, never from summaries: rotation, response removal and alignment read them."""
        return self.align or self.components == "RT" or bool(self.response)


@dataclass
class EventWindow:
    reference: UTCDateTime
    start: UTCDateTime
    end: UTCDateTime
    seed_ids: list[str]
    predicted: dict[str, PredictedArrivals]
    picks: list[PickMark]
    title: str
    problems: list[str] = field(default_factory=list)
    offsets: dict[str, float] = field(default_factory=dict)  # "NET.STA": its P in s after reference (aligned)
    units: dict[str, str] = field(default_factory=dict)  # SEED id to "m/s" once its response is removed
    units_note: str | None = None
    figure_start: UTCDateTime | None = None  # the x range (aligned: reference + s after P), else start/end
    figure_end: UTCDateTime | None = None
    origin: tuple[float, float] | None = None  # (latitude, longitude) of the preferred origin


def _number(params: QueryDict, name: str) -> float | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return number_parse(name=name, raw=raw)
    except ParameterError as error:
        raise QueryError(str(error)) from None


def waveform_query_parse(*, params: QueryDict) -> WaveformQuery:
    try:
        spec = filter_spec_parse(
            preset=params.get("filter") or None, fmin=_number(params, "fmin"), fmax=_number(params, "fmax")
        )
    except FilterError as error:
        raise QueryError(str(error)) from None
    try:
        width = integer_parse(
            name="width", raw=params.get("width") or str(DEFAULT_WIDTH), minimum=50, maximum=MAX_WIDTH
        )
    except ParameterError as error:
        raise QueryError(f"{error} (pixels)") from None
    channels = tuple(c.strip() for c in (params.get("channels") or "").split(",") if c.strip()) or None
    for channel in channels or ():
        if channel.count(".") != 3 or not channel.isprintable():
            raise QueryError(f"channels must be SEED ids NET.STA.LOC.CHA separated by commas, got {channel!r}")
    choices: dict[str, str] = {}
    for name, allowed in (("components", COMPONENTS), ("scale", SCALES), ("response", RESPONSES)):
        value = params.get(name) or allowed[0]
        if value not in allowed:
            raise QueryError(f"{name} must be one of {', '.join(a or '(empty)' for a in allowed)}, got {value!r}")
        choices[name] = value
    align = params.get("align") or ""
    if align not in ("", "p", "P"):
        raise QueryError(f"align must be p (each station's P at x = 0) or empty, got {align!r}")
    start, end = params.get("start") or None, params.get("end") or None
    if align:
        for name, given in (("start", start), ("end", end)):
            if given is not None:
                _number(params, name)  # aligned windows are seconds after P, never ISO times
    return WaveformQuery(spec, start, end, channels, width, align=bool(align), **choices)


def _time(value: str, reference: UTCDateTime, name: str) -> UTCDateTime:
    try:
        float(value)
    except ValueError:
        pass
    else:
        try:
            offset = number_parse(name=name, raw=value, minimum=-MAX_OFFSET_S, maximum=MAX_OFFSET_S)
        except ParameterError as error:
            raise QueryError(f"{error} (seconds after the origin time)") from None
        return reference + offset
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise QueryError(f"{name} must be seconds after the origin time or an ISO 8601 time, got {value!r}") from None
    return UTCDateTime(parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC))


def _event_window(event: Event, query: WaveformQuery, *, seed_id: str | None = None) -> EventWindow:
    origin = event.preferred_origin
    reference_time = origin.time if origin is not None else event.origin_time
    picks = list(Pick.objects.filter(event=event).order_by("time"))
    if reference_time is None and not picks:
        raise QueryError("the event has neither an origin time nor picks to place a waveform window")
    reference = UTCDateTime(reference_time) if reference_time is not None else UTCDateTime(picks[0].time)
    marks = [
        PickMark(
            p.seed_id,
            p.phase_hint or "?",
            UTCDateTime(p.time),
            p.evaluation_mode == EvaluationMode.AUTOMATIC,
            workbench=pick_is_workbench(p),
        )
        for p in picks
    ]
    default = station_window(origin_time=reference)
    wanted = [seed_id] if seed_id else list(query.channels or ())
    seed_ids = wanted or sources.channels_covering(
        start=default.start.datetime.replace(tzinfo=dt.UTC), end=default.end.datetime.replace(tzinfo=dt.UTC)
    )
    if seed_id is None:  # one channel asked by name is shown whatever the components
        seed_ids = [s for s in seed_ids if _component_wanted(s, query.components)]
    predicted: dict[str, PredictedArrivals] = {}
    p_times: dict[str, UTCDateTime] = {}
    windows = []
    for station in sorted(
        {".".join(s.split(".")[:2]) for s in seed_ids} | {".".join(m.seed_id.split(".")[:2]) for m in marks}
    ):
        network, code = station.split(".")
        coordinates = None
        if origin is not None:
            coordinates = sources.station_coordinates(network=network, station=code, at=origin.time)
        if coordinates is not None and origin is not None:
            predicted[station] = arrivals_predict(
                origin_time=reference,
                origin_latitude=origin.latitude,
                origin_longitude=origin.longitude,
                origin_depth_km=origin.depth,
                station_latitude=coordinates[0],
                station_longitude=coordinates[1],
            )
        station_picks = [m for m in marks if m.seed_id.startswith(station + ".")]
        # the analyst's own P first (they placed it for this), then the first P picked
        first_p = next((m.time for m in station_picks if m.workbench and m.phase.upper().startswith("P")), None)
        first_p = first_p or next((m.time for m in station_picks if m.phase.upper().startswith("P")), None)
        arrival_p = first_p or (predicted[station].p_time if station in predicted else None)
        if arrival_p is not None:
            p_times[station] = arrival_p
        first_s = next((m.time for m in station_picks if m.phase.upper().startswith("S")), None)
        windows.append(
            station_window(origin_time=reference, picked_p=first_p, picked_s=first_s, predicted=predicted.get(station))
        )
    start = min((w.start for w in windows), default=default.start)
    end = max((w.end for w in windows), default=default.end)
    if seed_ids and not marks and not predicted:
        start, end = default.start, default.end
    title = f"{event.public_id} {reference.isoformat()[:19]}"
    location = (origin.latitude, origin.longitude) if origin is not None else None
    if query.align:
        return _aligned_window(event, query, reference, seed_ids, predicted, marks, p_times, location)
    if query.start is not None:
        start = _time(query.start, reference, "start")
    if query.end is not None:
        end = _time(query.end, reference, "end")
    _window_check(start, end)
    return EventWindow(
        reference, start, end, seed_ids, predicted, marks, title, figure_start=start, figure_end=end, origin=location
    )


def _window_check(start: UTCDateTime, end: UTCDateTime) -> None:
    if not end > start:
        raise QueryError("end must be after start")
    if end - start > MAX_WINDOW_S:
        raise QueryError(f"the time window may span at most {MAX_WINDOW_S / 86400:g} days")


def _aligned_window(
    event: Event,
    query: WaveformQuery,
    reference: UTCDateTime,
    seed_ids: list[str],
    predicted: dict[str, PredictedArrivals],
    marks: list[PickMark],
    p_times: dict[str, UTCDateTime],
    location: tuple[float, float] | None,
) -> EventWindow:
    """Each station's P at x = 0 (its picked P, else iasp91's); start/end are seconds after P. Stations with
    neither are left out and named."""
    before = float(query.start) if query.start is not None else ALIGN_DEFAULT_S[0]
    after = float(query.end) if query.end is not None else ALIGN_DEFAULT_S[1]
    offsets = {station: float(time - reference) for station, time in p_times.items()}
    kept = [s for s in seed_ids if ".".join(s.split(".")[:2]) in offsets]
    problems = [
        f"{station}: no P pick and no iasp91 P (station coordinates unknown): left out when aligned on P"
        for station in sorted({".".join(s.split(".")[:2]) for s in seed_ids} - set(offsets))
    ]
    if not kept:
        raise QueryError("align: no station of this event has a P pick or a predicted P (station coordinates)")
    used = [offsets[".".join(s.split(".")[:2])] for s in kept]
    start, end = reference + min(used) + before, reference + max(used) + after
    _window_check(reference + before, reference + after)
    _window_check(start, end)
    title = f"{event.public_id}: aligned on P"
    return EventWindow(
        reference,
        start,
        end,
        kept,
        predicted,
        marks,
        title,
        problems=problems,
        offsets=offsets,
        figure_start=reference + before,
        figure_end=reference + after,
        origin=location,
    )


def _component_wanted(seed_id: str, components: str) -> bool:
    component = seed_id[-1:].upper()
    if components == "Z":
        return component in ("Z", "3")
    if components == "NE":
        return component in ("N", "E", "1", "2")
    return True  # all, and RT (the horizontals are read to be rotated; Z is dropped after)


def _summary_variant(spec: FilterSpec | None) -> str | None:
    """The summary variant drawing ``spec``: raw, a preset's name, or None for custom corners."""
    if spec is None:
        return RAW
    for name, (fmin, fmax) in FILTER_PRESETS.items():
        if spec.kind == "bandpass" and (spec.freqmin, spec.freqmax) == (fmin, fmax):
            return name
    return None


def _summarised(window: EventWindow, query: WaveformQuery) -> dict[str, list[SummarySegment]]:
    """Channels drawn from their min/max summaries (long windows of long files); their gaps become problems."""
    variant = _summary_variant(query.spec)
    if variant is None or not window.seed_ids or query.needs_samples:
        return {}
    result = sources.summary_segments_for_window(
        start=window.start.datetime.replace(tzinfo=dt.UTC),
        end=window.end.datetime.replace(tzinfo=dt.UTC),
        seed_ids=window.seed_ids,
        variant=variant,
        width=query.width,
    )
    window.problems.extend(result.problems)
    return result.segments


def _check_samples(window: EventWindow, seed_ids: list[str] | None) -> None:
    """Refuse, before reading, a window whose channels hold more samples than one figure may read."""
    maximum = settings.SEISTRIAGE_WAVEFORM_MAX_SAMPLES
    estimate = sources.samples_in_window(
        start=window.start.datetime.replace(tzinfo=dt.UTC),
        end=window.end.datetime.replace(tzinfo=dt.UTC),
        seed_ids=seed_ids,
    )
    if estimate > maximum:
        raise QueryError(
            f"start/end/channels: this window holds about {estimate:,} samples to read, more than the {maximum:,} "
            "one figure may read; shorten the window (start, end), choose fewer channels, or drop the custom "
            "fmin/fmax (raw and preset figures of long windows are drawn from summaries)"
        )


def _stream(window: EventWindow, query: WaveformQuery, *, skip: Collection[str] = ()) -> obspy.Stream:
    """The samples of the window's channels (but ``skip``), filtered as asked; problems go to the window."""
    seed_ids = [s for s in window.seed_ids if s not in skip]
    if window.seed_ids and not seed_ids:
        return obspy.Stream()
    _check_samples(window, seed_ids or None)
    try:
        result = sources.stream_for_window(
            start=window.start.datetime.replace(tzinfo=dt.UTC),
            end=window.end.datetime.replace(tzinfo=dt.UTC),
            seed_ids=seed_ids or None,
        )
    except Exception as error:  # an unreadable archive must not fail the page: report it
        window.problems.append(f"waveforms could not be read: {error}")
        return obspy.Stream()
    window.problems.extend(result.problems)
    stream = result.stream
    if query.response:
        stream = _velocity(stream, window)
    if query.components == "RT":
        stream = _rotated(stream, window)
    if query.spec is None:
        return stream
    filtered = obspy.Stream()
    for seed_id in sorted({t.id for t in stream}):
        channel = stream.select(id=seed_id)
        try:
            filtered += stream_filter(
                stream=stream_decimate_for_filter(stream=channel, spec=query.spec), spec=query.spec
            )
        except FilterError as error:
            window.problems.append(f"{error}; shown unfiltered")
            filtered += channel
    return filtered


def _velocity(stream: obspy.Stream, window: EventWindow) -> obspy.Stream:
    """The response removed to m/s where the imported inventories hold one; other channels stay in counts and
    are named in ``window.units_note``."""
    if not len(stream):
        return stream
    inventory = sources.inventory_for(
        seed_ids=sorted({t.id for t in stream}), at=window.reference.datetime.replace(tzinfo=dt.UTC)
    )
    corrected = obspy.Stream()
    if inventory is not None:
        corrected, _ = stream_remove_response(stream=stream, inventory=inventory, output="VEL")
    done = {t.id for t in corrected}
    for trace in corrected:
        window.units[trace.id] = "m/s"
    left = sorted({t.id for t in stream} - done)
    if left:
        window.units_note = f"no instrument response stored for {', '.join(left)}: shown in counts"
    return corrected + obspy.Stream([t for t in stream if t.id not in done])


def _rotated(stream: obspy.Stream, window: EventWindow) -> obspy.Stream:
    """Each station's horizontals rotated to radial/transverse for the back azimuth from the station to the
    preferred origin; the vertical and unrotatable channels are left out (named in the problems)."""
    rotated = obspy.Stream()
    for station in sorted({f"{t.stats.network}.{t.stats.station}" for t in stream}):
        network, code = station.split(".")
        group = stream.select(network=network, station=code)
        arrivals = window.predicted.get(station)
        if arrivals is None:
            window.problems.append(f"{station}: no station coordinates, so no back azimuth: not rotated to R/T")
            continue
        horizontals = obspy.Stream([t for t in group if t.stats.channel[-1:] in "NE12"])
        if not len(horizontals):
            window.problems.append(f"{station}: no horizontal components to rotate to R/T")
            continue
        # rotation needs the components on one time base: cut them to their common span
        first = max(t.stats.starttime for t in horizontals)
        last = min(t.stats.endtime for t in horizontals)
        if last <= first:
            window.problems.append(f"{station}: horizontals do not overlap in time: not rotated")
            continue
        horizontals = horizontals.copy().trim(first, last, nearest_sample=True)
        inventory = None
        if any(t.stats.channel[-1:] in "12" for t in horizontals):
            inventory = sources.inventory_for(
                seed_ids=[t.id for t in horizontals], at=window.reference.datetime.replace(tzinfo=dt.UTC)
            )
        unit = "m/s" if any(window.units.get(t.id) == "m/s" for t in horizontals) else "counts"
        turned, problems = stream_rotate_to_zrt(
            stream=horizontals, back_azimuth=arrivals.back_azimuth_deg, inventory=inventory
        )
        window.problems.extend(problems)
        for trace in turned:
            if trace.stats.channel[-1:] in "RT":
                window.units[trace.id] = unit
                rotated += trace
    if not len(rotated) and len(stream):
        window.problems.append("no station could be rotated to R/T")
    return rotated


class WaveformWindow(TypedDict):
    start: Annotated[str, "UTC, ISO 8601"]
    end: Annotated[str, "UTC, ISO 8601"]
    origin_time: Annotated[str, "the reference time (x = 0), UTC"]
    origin_epoch_s: Annotated[float, "the reference time in seconds since 1970 (UTC)"]
    start_s: Annotated[float, "the x axis range: s after the reference time (after each row's P when aligned)"]
    end_s: float
    aligned: Annotated[bool, "x = 0 is each row's P (rows[].offset_s after the reference time)"]


_FIGURE = "a Plotly figure (data and layout), ready for Plotly.react"


class RecordSectionPayload(TypedDict):
    event: int
    figure: Annotated[PlotlyFigure, _FIGURE]
    rows: list[RowInfo]
    problems: Annotated[list[str], "channels that could not be drawn (gaps are under gaps)"]
    gaps: Annotated[list[str], "gaps and overlaps inside the data (never the window reaching past a record)"]
    gap_summary: Annotated[str, "one line: how many gaps, in which channels"]
    units_note: Annotated[str | None, "channels left in counts when the response was asked removed"]
    saliency: Annotated[list[str], "channels with the CNN's saliency shaded under them"]
    cnn_model: Annotated[str | None, "the CNN version whose saliency is drawn"]
    message: Annotated[str | None, "why the figure is empty, or null"]
    filter: str | None
    from_summaries: Annotated[list[str], "channels drawn from summaries"]
    window: WaveformWindow


class TraceSegment(TypedDict):
    start: str
    sampling_rate: Annotated[float, "Hz"]
    npts: int
    start_s: Annotated[float, "seconds after the reference time"]


class TraceFigurePayload(TypedDict):
    event: int
    seed_id: str
    figure: Annotated[PlotlyFigure, _FIGURE]
    rows: list[RowInfo]
    segments: list[TraceSegment]
    problems: list[str]
    message: str | None
    window: WaveformWindow
    saliency: Annotated[CnnSaliency | None, "the CNN's saliency curve (0-1), when predicted"]


class SpectrogramPayload(TypedDict):
    event: int
    seed_id: str
    figure: Annotated[PlotlyFigure | None, _FIGURE + "; null without data"]
    problems: list[str]
    message: str | None


class WaveformError(TypedDict):
    error: Annotated[str, "the bad parameter and what it should be"]


def _window(window: EventWindow) -> WaveformWindow:
    first = window.figure_start or window.start
    last = window.figure_end or window.end
    return {
        "start": str(window.start),
        "end": str(window.end),
        "origin_time": str(window.reference),
        "origin_epoch_s": round(float(window.reference.timestamp), 6),
        "start_s": round(float(first - window.reference), 3),
        "end_s": round(float(last - window.reference), 3),
        "aligned": bool(window.offsets),
    }


_GAP = re.compile(r"^(gap|overlap) in (\S+) from .* \((\d+(?:\.\d+)?) s\)$")


def gaps_split(problems: list[str]) -> tuple[list[str], list[str], str]:
    """(other problems, gap and overlap lines, a one-line summary of the gaps)."""
    gaps = [p for p in problems if _GAP.match(p)]
    others = [p for p in problems if not _GAP.match(p)]
    if not gaps:
        return others, gaps, "No gaps in the data."
    counts: dict[str, list[float]] = {"gap": [], "overlap": []}
    channels: set[str] = set()
    for line in gaps:
        found = _GAP.match(line)
        assert found is not None
        counts[found.group(1)].append(float(found.group(3)))
        channels.add(found.group(2))
    parts = [
        f"{len(values)} {kind}{'s' if len(values) > 1 else ''} ({sum(values):.2f} s in all)"
        for kind, values in counts.items()
        if values
    ]
    names = sorted(channels)
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return others, gaps, f"{' and '.join(parts)} in {len(names)} channel{'s' if len(names) > 1 else ''}: {shown}."


SALIENCY_COLOUR = "rgba(0, 150, 136, 0.28)"


def saliency_traces(
    *, event_id: int, window: EventWindow, rows: list[RowInfo], width: int
) -> tuple[list[PlotlyTrace], str | None]:
    """The CNN's saliency (0-1) of each drawn channel as a band filled up from the bottom of its row, max-pooled
    to at most ``width`` / 2 points and cut to the x range; and the CNN version. Rows the CNN did not see get
    none."""
    traces: list[PlotlyTrace] = []
    version = None
    first = float((window.figure_start or window.start) - window.reference)
    last = float((window.figure_end or window.end) - window.reference)
    for row in rows:
        curve = _cnn_saliency(event_id, row["seed_id"])
        if curve is None or not curve["values"]:
            continue
        version = curve["model_version"]
        values = np.asarray(curve["values"], dtype=np.float64)
        rate = float(curve["sampling_rate"])
        start = float(UTCDateTime(curve["window_start"]) - window.reference) - row["offset_s"]
        times = start + np.arange(values.size) / rate
        inside = (times >= first) & (times <= last)
        if not inside.any():
            continue
        times, values = times[inside], values[inside]
        block = max(1, int(np.ceil(values.size / max(1, width // 2))))
        usable = values.size // block * block
        if usable:
            pooled = values[:usable].reshape(-1, block).max(axis=1)
            pooled_t = times[:usable:block]
        else:
            pooled, pooled_t = values, times
        base = -float(row["row"]) - ROW_HALF_HEIGHT
        top = base + 2 * ROW_HALF_HEIGHT * np.clip(pooled, 0.0, 1.0)
        xs = np.round(pooled_t, 3).tolist()
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "CNN saliency",
                "x": [*xs, *xs[::-1]],
                "y": [*np.round(top, 4).tolist(), *[round(base, 4)] * len(xs)],
                "fill": "toself",
                "fillcolor": SALIENCY_COLOUR,
                "line": {"width": 0},
                "hoverinfo": "skip",
                "showlegend": not traces,
                "legendgroup": "saliency",
                "meta": {"saliency": row["seed_id"]},
            }
        )
    return traces, version


def payload_json(payload: RecordSectionPayload | TraceFigurePayload | SpectrogramPayload | WaveformError) -> bytes:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


# Anything that changes the figure, hashed into its cache key: any JSON-able values.
def _cache_parts(event: Event, query: WaveformQuery, kind: str, seed_id: str | None) -> dict[str, Any]:
    picks = Pick.objects.filter(event=event).order_by("id").values_list("id", "time")
    return {
        "kind": kind,
        "event": event.pk,
        "version": event.version,
        "updated": event.updated_at,
        "picks": [[pk, time.isoformat()] for pk, time in picks],  # a moved pick changes the figure
        "cnn": _cnn_marker(event.pk),
        "query": query.__dict__,
        "seed_id": seed_id,
        "data": waveform_data_fingerprint(),
    }


def event_waveforms_payload(*, event_id: int, query: WaveformQuery) -> bytes:
    event = get_object_or_404(Event.objects.select_related("preferred_origin"), pk=event_id)

    def build() -> bytes:
        window = _event_window(event, query)
        summarised = _summarised(window, query)
        stream = _stream(window, query, skip=summarised)
        section = record_section_figure(
            stream=stream,
            reference_time=window.reference,
            window_start=window.figure_start or window.start,
            window_end=window.figure_end or window.end,
            width=query.width,
            picks=window.picks,
            predicted=window.predicted,
            title=window.title,
            summarised=summarised,
            offsets=window.offsets,
            common_scale=query.scale == "common",
            units=window.units,
        )
        figure = section["figure"]
        shaded, cnn_model = saliency_traces(event_id=event.pk, window=window, rows=section["rows"], width=query.width)
        figure["data"] = [*shaded, *figure["data"]]  # under the traces
        figure["layout"]["shapes"] += evidence_shapes(event=event, reference=window.reference, rows=section["rows"])
        if query.response or query.scale == "common":
            figure["layout"]["yaxis"]["ticktext"] = [
                f"{row['seed_id']} ({row['units']})" if query.response else row["seed_id"] for row in section["rows"]
            ]
        others, gaps, gap_summary = gaps_split(window.problems)
        message = None if len(stream) or summarised else "no waveforms are registered for this event's time window"
        payload: RecordSectionPayload = {
            "event": event.pk,
            "figure": figure,
            "rows": section["rows"],
            "problems": [text_public(problem) for problem in others],
            "gaps": [text_public(line) for line in gaps],
            "gap_summary": gap_summary,
            "units_note": window.units_note,
            "saliency": [trace["meta"]["saliency"] for trace in shaded],
            "cnn_model": cnn_model,
            "message": message,
            "filter": query.spec.label if query.spec else None,
            "from_summaries": sorted(summarised),
            "window": _window(window),
        }
        return payload_json(payload)

    payload, _ = figure_cached(key=figure_cache_key(parts=_cache_parts(event, query, "section", None)), build=build)
    return payload


def event_trace_payload(*, event_id: int, seed_id: str, query: WaveformQuery) -> bytes:
    """One channel as a figure plus its raw sampling metadata (for overlays aligned on samples)."""
    event = get_object_or_404(Event.objects.select_related("preferred_origin"), pk=event_id)

    def build() -> bytes:
        window = _event_window(event, query, seed_id=seed_id)
        stream = _stream(window, query).select(id=seed_id)
        section = record_section_figure(
            stream=stream,
            reference_time=window.reference,
            window_start=window.start,
            window_end=window.end,
            width=query.width,
            picks=[p for p in window.picks if p.seed_id.split(".")[:2] == seed_id.split(".")[:2]],
            predicted=window.predicted,
            title=seed_id,
        )
        segments: list[TraceSegment] = [
            {
                "start": str(t.stats.starttime),
                "sampling_rate": t.stats.sampling_rate,
                "npts": t.stats.npts,
                "start_s": round(float(t.stats.starttime - window.reference), 6),
            }
            for t in stream
        ]
        payload: TraceFigurePayload = {
            "event": event.pk,
            "seed_id": seed_id,
            "figure": section["figure"],
            "rows": section["rows"],
            "segments": segments,
            "problems": [text_public(problem) for problem in window.problems],
            "message": None if len(stream) else f"no waveforms for {seed_id} in this event's time window",
            "window": _window(window),
            "saliency": _cnn_saliency(event.pk, seed_id),
        }
        return payload_json(payload)

    parts = {**_cache_parts(event, query, "trace", seed_id)}
    payload, _ = figure_cached(key=figure_cache_key(parts=parts), build=build)
    return payload


def _cnn_saliency(event_id: int, seed_id: str) -> CnnSaliency | None:
    """The CNN's saliency curve for this channel's window (0-1 at 20 Hz from window_start), when predicted."""
    from ranking.cnn_runs import cnn_saliency_for

    return cnn_saliency_for(event_id=event_id, seed_id=seed_id)


def _cnn_marker(event_id: int) -> list[Any]:
    from ranking.models import CnnPrediction

    return list(CnnPrediction.objects.filter(event_id=event_id).values_list("model_version", "created_at"))


def event_spectrogram_payload(*, event_id: int, seed_id: str, query: WaveformQuery) -> bytes:
    event = get_object_or_404(Event.objects.select_related("preferred_origin"), pk=event_id)

    def build() -> bytes:
        window = _event_window(event, query, seed_id=seed_id)
        stream = _stream(window, query).select(id=seed_id)
        figure: PlotlyFigure | None = None
        message = f"no waveforms for {seed_id} in this event's time window"
        if len(stream):
            longest = max(stream, key=lambda t: t.stats.npts)
            try:
                spectrogram = trace_spectrogram(trace=longest)
                offset = float(longest.stats.starttime - window.reference)
                figure = spectrogram_figure(
                    spectrogram=spectrogram, seed_id=seed_id, offset_s=offset, width=query.width
                )
                message = ""
            except ValueError as error:
                message = str(error)
        payload: SpectrogramPayload = {
            "event": event.pk,
            "seed_id": seed_id,
            "figure": figure,
            "problems": [text_public(problem) for problem in window.problems],
            "message": message or None,
        }
        return payload_json(payload)

    payload, _ = figure_cached(
        key=figure_cache_key(parts=_cache_parts(event, query, "spectrogram", seed_id)), build=build
    )
    return payload


class CnnStationRow(TypedDict):
    seed_id: str
    percents: Annotated[list[int], "one per CnnPanel.classes"]
    snr: float | None
    weight: float | None


class CnnPanel(TypedDict):
    model_version: str
    predicted_class: str
    classes: list[str]
    percents: Annotated[dict[str, int], "the event's class probabilities, %"]
    beside: Annotated[list[tuple[str, int | None, str, int | None]], "(ranker class, %, CNN class, %)"]
    stations: list[CnnStationRow]


def event_cnn_panel(*, event_id: int, ranker: dict[str, float] | None) -> CnnPanel | None:
    """The CNN's class probabilities for the event and per station, and beside the ranker's (``ranker``: the
    ranker's class probabilities), or None when the CNN has not classified the event."""
    from ranking.cnn_runs import cnn_prediction_latest
    from ranking.ml.classes import CNN_CLASSES as CLASSES
    from ranking.ml.classes import DECISION_CLASS_OF_CNN_CLASS

    prediction = cnn_prediction_latest(event_id=event_id)
    if prediction is None or not prediction.class_probabilities:
        return None
    event = prediction.class_probabilities
    ranker = ranker or {}
    return {
        "model_version": prediction.model_version,
        "predicted_class": prediction.predicted_class,
        "classes": list(CLASSES),
        "percents": {name: round(100 * float(event.get(name, 0.0))) for name in CLASSES},
        "beside": [
            (
                ranker_class,
                round(100 * ranker[ranker_class]) if ranker_class in ranker else None,
                cnn_class,
                round(100 * float(event[cnn_class])) if cnn_class in event else None,
            )
            for cnn_class, ranker_class in DECISION_CLASS_OF_CNN_CLASS.items()
        ],
        "stations": [
            {
                "seed_id": station["seed_id"],
                "percents": [round(100 * float(station["probabilities"].get(name, 0.0))) for name in CLASSES],
                "snr": station.get("snr"),
                "weight": station.get("weight"),
            }
            for station in prediction.stations
        ],
    }
