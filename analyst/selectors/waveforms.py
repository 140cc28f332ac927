"""An event's waveforms for the review page: the query (window, filter, width, channels), the record section,
one trace with its CNN saliency, and a spectrogram, as cached JSON payloads. The API (analyst/api/waveforms.py)
parses the request and answers with them."""

import datetime as dt
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

import obspy
from django.conf import settings
from django.http import QueryDict
from django.shortcuts import get_object_or_404
from obspy import UTCDateTime

from analyst.web.disclosure import text_public
from analyst.web.parameters import ParameterError, integer_parse, number_parse
from events.models import Event, Pick
from events.vocabulary import EvaluationMode
from ranking.cnn_runs import CnnSaliency
from waveforms import sources
from waveforms.cache import figure_cache_key, figure_cached, waveform_data_fingerprint
from waveforms.figures import PickMark, PlotlyFigure, RowInfo, record_section_figure, spectrogram_figure
from waveforms.processing import (
    FILTER_PRESETS,
    FilterError,
    FilterSpec,
    filter_spec_parse,
    stream_decimate_for_filter,
    stream_filter,
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


@dataclass(frozen=True)
class WaveformQuery:
    spec: FilterSpec | None
    start: str | None  # seconds after the origin time, or an ISO time
    end: str | None
    channels: tuple[str, ...] | None
    width: int


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
    return WaveformQuery(spec, params.get("start") or None, params.get("end") or None, channels, width)


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
        PickMark(p.seed_id, p.phase_hint or "?", UTCDateTime(p.time), p.evaluation_mode == EvaluationMode.AUTOMATIC)
        for p in picks
    ]
    default = station_window(origin_time=reference)
    wanted = [seed_id] if seed_id else list(query.channels or ())
    seed_ids = wanted or sources.channels_covering(
        start=default.start.datetime.replace(tzinfo=dt.UTC), end=default.end.datetime.replace(tzinfo=dt.UTC)
    )
    predicted: dict[str, PredictedArrivals] = {}
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
        first_p = next((m.time for m in station_picks if m.phase.upper().startswith("P")), None)
        first_s = next((m.time for m in station_picks if m.phase.upper().startswith("S")), None)
        windows.append(
            station_window(origin_time=reference, picked_p=first_p, picked_s=first_s, predicted=predicted.get(station))
        )
    start = min((w.start for w in windows), default=default.start)
    end = max((w.end for w in windows), default=default.end)
    if seed_ids and not marks and not predicted:
        start, end = default.start, default.end
    if query.start is not None:
        start = _time(query.start, reference, "start")
    if query.end is not None:
        end = _time(query.end, reference, "end")
    if not end > start:
        raise QueryError("end must be after start")
    if end - start > MAX_WINDOW_S:
        raise QueryError(f"the time window may span at most {MAX_WINDOW_S / 86400:g} days")
    title = f"{event.public_id} {reference.isoformat()[:19]}"
    return EventWindow(reference, start, end, seed_ids, predicted, marks, title)


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
    if variant is None or not window.seed_ids:
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
    if query.spec is None:
        return result.stream
    filtered = obspy.Stream()
    for seed_id in sorted({t.id for t in result.stream}):
        channel = result.stream.select(id=seed_id)
        try:
            filtered += stream_filter(
                stream=stream_decimate_for_filter(stream=channel, spec=query.spec), spec=query.spec
            )
        except FilterError as error:
            window.problems.append(f"{error}; shown unfiltered")
            filtered += channel
    return filtered


class WaveformWindow(TypedDict):
    start: Annotated[str, "UTC, ISO 8601"]
    end: Annotated[str, "UTC, ISO 8601"]
    origin_time: Annotated[str, "the reference time (x = 0), UTC"]


_FIGURE = "a Plotly figure (data and layout), ready for Plotly.react"


class RecordSectionPayload(TypedDict):
    event: int
    figure: Annotated[PlotlyFigure, _FIGURE]
    rows: list[RowInfo]
    problems: Annotated[list[str], "channels that could not be drawn"]
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
    return {"start": str(window.start), "end": str(window.end), "origin_time": str(window.reference)}


def payload_json(payload: RecordSectionPayload | TraceFigurePayload | SpectrogramPayload | WaveformError) -> bytes:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


# Anything that changes the figure, hashed into its cache key: any JSON-able values.
def _cache_parts(event: Event, query: WaveformQuery, kind: str, seed_id: str | None) -> dict[str, Any]:
    picks = Pick.objects.filter(event=event).order_by("-id").values_list("id", flat=True)[:1]
    return {
        "kind": kind,
        "event": event.pk,
        "version": event.version,
        "updated": event.updated_at,
        "picks": [Pick.objects.filter(event=event).count(), list(picks)],
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
            window_start=window.start,
            window_end=window.end,
            width=query.width,
            picks=window.picks,
            predicted=window.predicted,
            title=window.title,
            summarised=summarised,
        )
        message = None if len(stream) or summarised else "no waveforms are registered for this event's time window"
        payload: RecordSectionPayload = {
            "event": event.pk,
            "figure": section["figure"],
            "rows": section["rows"],
            "problems": [text_public(problem) for problem in window.problems],
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

    parts = {**_cache_parts(event, query, "trace", seed_id), "cnn": _cnn_marker(event.pk)}
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
