"""An event's waveform features for the ranker: per-station measurements and similarity to reviewed events.

Per station (one channel, vertical preferred) the window comes from waveforms.windows: around the
event's picks, else around the TauP iasp91 prediction from the station's coordinates, else the
default window from the origin time, where P is estimated as the STA/LTA maximum
(ranking.ml.similarity.onset_estimate). The trace is read through waveforms.sources.stream_for_window
and measured with waveforms.measurements.measure_trace. The result is cached per event in
EventWaveformFeatures under a fingerprint of the files, SDS roots and picks it came from, so training
reuses it until the event's waveforms change.
"""

import datetime as dt
import hashlib
import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import obspy
from django.conf import settings
from django.db import OperationalError
from obspy import UTCDateTime
from obspy.geodetics import degrees2kilometers, kilometers2degrees

from events.filters import event_filter_around, events_filter
from events.models import Event, Pick
from events.vocabulary import REVIEWED_STATES, ReviewState
from ranking.ml.classes import DECISION_CLASSES, NOT_EXISTING, decision_class_for
from ranking.ml.false_evidence import station_onset_evidence, tolerance_for
from ranking.ml.similarity import best_match, onset_estimate, similarity_window
from ranking.models import EventWaveformFeatures
from waveforms.measurements import TraceMeasurements, measure_trace
from waveforms.models import WaveformSource, WaveformTrace
from waveforms.sources import channels_covering, station_coordinates, stream_for_window
from waveforms.windows import (
    DEFAULT_AFTER_ORIGIN_S,
    DEFAULT_BEFORE_ORIGIN_S,
    PredictedArrivals,
    StationWindow,
    arrivals_predict,
    station_window,
)

logger = logging.getLogger(__name__)

NO_WAVEFORMS = "no-waveforms"  # the fingerprint of an event no registered file or SDS archive can cover
# What the measurement of a channel holds; part of the fingerprint, so a new one re-measures cached rows once.
MEASUREMENT_VERSION = "onset-evidence-1"


def _span(event: Event) -> tuple[dt.datetime, dt.datetime]:
    assert event.origin_time is not None
    return (
        event.origin_time - dt.timedelta(seconds=DEFAULT_BEFORE_ORIGIN_S),
        event.origin_time + dt.timedelta(seconds=DEFAULT_AFTER_ORIGIN_S),
    )


def _picks_by_event(event_ids: Sequence[int]) -> dict[int, list[tuple[str, str, str, dt.datetime]]]:
    picks: dict[int, list[tuple[str, str, str, dt.datetime]]] = defaultdict(list)
    for event_id, network, station, phase, time in (
        Pick.objects.filter(event_id__in=list(event_ids))
        .order_by("event_id", "time", "pk")
        .values_list("event_id", "network", "station", "phase_hint", "time")
    ):
        picks[event_id].append((network, station, phase.upper(), time))
    return picks


def waveform_fingerprints(*, events: Sequence[Event]) -> dict[int, str]:
    """Per located event, a hash of the registered files overlapping its default window, SDS roots and picks.

    One query for the files of all events (their overall time range), one for the picks; events without
    any of them share the fingerprint of "nothing", so a batch of catalogue rows costs two queries.
    """
    located = [e for e in events if e.origin_time is not None]
    if not located:
        return {}
    spans = {e.pk: _span(e) for e in located}
    first = min(start for start, _ in spans.values())
    last = max(end for _, end in spans.values())
    traces = list(
        WaveformTrace.objects.filter(start_time__lte=last, end_time__gte=first).values_list(
            "source_id", "start_time", "end_time", "source__size_bytes", "source__modified_at"
        )
    )
    starts = np.array([t[1].timestamp() for t in traces], dtype=np.float64)
    ends = np.array([t[2].timestamp() for t in traces], dtype=np.float64)
    sds = sorted(WaveformSource.objects.filter(kind=WaveformSource.Kind.SDS).values_list("path", flat=True))
    picks = _picks_by_event([e.pk for e in located]) if traces or sds else {}
    fingerprints: dict[int, str] = {}
    for event in located:
        start, end = spans[event.pk]
        overlapping = np.flatnonzero((starts <= end.timestamp()) & (ends >= start.timestamp()))
        if not overlapping.size and not sds:
            fingerprints[event.pk] = NO_WAVEFORMS
            continue
        files = sorted({(traces[i][0], traces[i][3], str(traces[i][4])) for i in overlapping})
        event_picks = [(n, s, p, str(t)) for n, s, p, t in picks.get(event.pk, [])]
        basis = (files, sds, event_picks, MEASUREMENT_VERSION)
        fingerprints[event.pk] = hashlib.sha256(repr(basis).encode()).hexdigest()
    return fingerprints


def _station_channels(seed_ids: Sequence[str]) -> dict[tuple[str, str], str]:
    """One channel per station: the vertical one when there is one (Z, then 3), else the first by name."""
    chosen: dict[tuple[str, str], str] = {}
    for seed_id in sorted(seed_ids, key=lambda s: (s.split(".")[3][-1:] not in "Z3", s)):
        network, station, _, _ = seed_id.split(".")
        chosen.setdefault((network, station), seed_id)
    return chosen


def event_arrivals_predict(*, event: Event, network: str, station: str) -> PredictedArrivals | None:
    """iasp91 P and S times at a station for the event's origin; None without a located origin or coordinates."""
    if event.origin_time is None or event.latitude is None or event.longitude is None:
        return None
    coordinates = station_coordinates(network=network, station=station, at=event.origin_time)
    if coordinates is None:
        return None
    return arrivals_predict(
        origin_time=UTCDateTime(event.origin_time),
        origin_latitude=event.latitude,
        origin_longitude=event.longitude,
        origin_depth_km=event.depth,
        station_latitude=coordinates[0],
        station_longitude=coordinates[1],
    )


def _window_for(
    event: Event, network: str, station: str, picks: list[tuple[str, str, str, dt.datetime]]
) -> tuple[StationWindow, float | None]:
    """The station's window and its epicentral distance in km (None without station coordinates)."""
    assert event.origin_time is not None and event.latitude is not None and event.longitude is not None
    origin = UTCDateTime(event.origin_time)
    mine = [(phase, UTCDateTime(time)) for n, s, phase, time in picks if n == network and s == station]
    picked_p = next((time for phase, time in mine if phase.startswith("P")), None)
    picked_s = next((time for phase, time in mine if phase.startswith("S")), None)
    predicted = event_arrivals_predict(event=event, network=network, station=station)
    distance_km = None if predicted is None else float(degrees2kilometers(predicted.distance_deg))
    window = station_window(
        origin_time=origin, picked_p=picked_p, picked_s=picked_s, predicted=None if picked_p else predicted
    )
    return window, distance_km


def _json_safe(value: Any) -> Any:
    """NaN and infinities (a flat trace's kurtosis, a zero noise level) as None: JSON has no such numbers."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _longest(stream: obspy.Stream) -> obspy.Trace | None:
    return max(stream, key=lambda trace: trace.stats.npts) if len(stream) else None


def _measure_event(
    event: Event, picks: list[tuple[str, str, str, dt.datetime]]
) -> tuple[list[dict[str, Any]], list[str]]:
    start, end = _span(event)
    channels = _station_channels(channels_covering(start=start, end=end))
    picked = {(n, s) for n, s, _, _ in picks}
    # Stations with picks first, then by name; the cap bounds the reading cost of a dense network.
    ordered = sorted(channels, key=lambda key: (key not in picked, key))[: settings.SEISTRIAGE_WAVEFORM_MAX_STATIONS]
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for network, station in ordered:
        seed_id = channels[(network, station)]
        window, distance_km = _window_for(event, network, station, picks)
        result = stream_for_window(
            start=window.start.datetime.replace(tzinfo=dt.UTC),
            end=window.end.datetime.replace(tzinfo=dt.UTC),
            seed_ids=[seed_id],
        )
        problems.extend(result.problems)
        trace = _longest(result.stream)
        if trace is None:
            continue
        p_time, source = window.p_time, str(window.source)
        if p_time is None:
            p_time, source = onset_estimate(trace), "sta_lta"
        measurements = measure_trace(trace, p_time=p_time, s_time=window.s_time)
        if measurements.skipped:
            problems.append(f"{seed_id}: {measurements.skipped}")
        onset = None
        if p_time is not None:  # false-event evidence: is there an onset at this arrival (ranking.ml.false_evidence)
            travel_time = p_time - UTCDateTime(event.origin_time) if source == "taup" else None
            onset = station_onset_evidence(
                trace, arrival=p_time, source=source, tolerance_s=tolerance_for(source, travel_time)
            ).as_dict()
        rows.append(
            {
                "seed_id": seed_id,
                "p_time": None if p_time is None else p_time.timestamp,
                "p_source": source,
                "distance_km": distance_km,
                "measurements": _json_safe(asdict(measurements)),
                "onset": onset,
            }
        )
    return rows, problems[:50]


def events_waveform_features_refresh(*, events: Sequence[Event]) -> dict[int, EventWaveformFeatures]:
    """Measure the located events whose cached waveform features are missing or stale; return every row.

    A station that cannot be read is left out with its reason in ``problems``; an event without any
    waveforms gets a row with no channels, so it is not looked at again until its waveforms change.
    """
    fingerprints = waveform_fingerprints(events=events)
    cached = {row.event_id: row for row in EventWaveformFeatures.objects.filter(event_id__in=list(fingerprints))}
    stale = [
        e
        for e in events
        if fingerprints.get(e.pk, NO_WAVEFORMS) != NO_WAVEFORMS
        and (e.pk not in cached or cached[e.pk].fingerprint != fingerprints[e.pk])
    ]
    # Events no file covers get no row (a catalogue of thousands costs no writes); one whose waveforms
    # were removed loses its row.
    gone = [pk for pk, row in cached.items() if fingerprints.get(pk) == NO_WAVEFORMS]
    if gone:
        EventWaveformFeatures.objects.filter(event_id__in=gone).delete()
        for pk in gone:
            del cached[pk]
    picks = _picks_by_event([e.pk for e in stale])
    now = dt.datetime.now(dt.UTC)
    for event in stale:
        try:
            channels, problems = _measure_event(event, picks[event.pk])
        except OperationalError:
            raise
        except Exception as error:  # a bug or an unreadable oddity: kept on the row until the waveforms change
            logger.exception("measuring the waveforms of event %s failed", event.pk)
            channels, problems = [], [f"measuring failed: {type(error).__name__}: {error}"]
        row, _ = EventWaveformFeatures.objects.update_or_create(
            event=event,
            defaults={
                "fingerprint": fingerprints[event.pk],
                "channels": channels,
                "problems": problems,
                "measured_at": now,
                "similarity_basis": "",
                "similarity_correlation": None,
                "similarity_class": "",
                "similarity_event": None,
                "similarity_channels": None,
            },
        )
        cached[event.pk] = row
    return cached


def measurements_of(row: EventWaveformFeatures | None) -> list[TraceMeasurements]:
    """The cached per-station measurements as TraceMeasurements (empty without a row)."""
    return [] if row is None else [TraceMeasurements(**channel["measurements"]) for channel in row.channels]


# --- similarity ---------------------------------------------------------------------------------------


def _decision_class(review_state: str, event_type: str) -> str | None:
    if review_state == ReviewState.REJECTED:
        return NOT_EXISTING
    return decision_class_for(event_type) if event_type else None


def _neighbours(event: Event, limit: int) -> list[Event]:
    """The nearest reviewed events with a decision class within SEISTRIAGE_SIMILARITY_KM (not the event)."""
    assert event.latitude is not None and event.longitude is not None
    radius = settings.SEISTRIAGE_SIMILARITY_KM
    box = event_filter_around(points=[(event.latitude, event.longitude)], radius=kilometers2degrees(radius))
    candidates = (
        events_filter(
            queryset=Event.objects.filter(review_state__in=REVIEWED_STATES, origin_time__isnull=False), where=box
        )
        .exclude(pk=event.pk)
        .exclude(source_format="synthetic_false")
    )  # training material only
    scored: list[tuple[float, Event]] = []
    for other in candidates.only("pk", "latitude", "longitude", "origin_time", "review_state", "event_type", "depth"):
        if _decision_class(other.review_state, other.event_type) is None:
            continue
        assert other.latitude is not None and other.longitude is not None
        distance = obspy.geodetics.gps2dist_azimuth(event.latitude, event.longitude, other.latitude, other.longitude)[0]
        if distance <= radius * 1000.0:
            scored.append((distance, other))
    scored.sort(key=lambda item: (item[0], item[1].pk))
    return [other for _, other in scored[:limit]]


def _windows(row: EventWaveformFeatures, seed_ids: set[str]) -> dict[str, obspy.Trace]:
    """Similarity windows of the event's channels in ``seed_ids``, read around their stored P times."""
    windows: dict[str, obspy.Trace] = {}
    for channel in row.channels:
        if channel["seed_id"] not in seed_ids or channel["p_time"] is None:
            continue
        p_time = UTCDateTime(channel["p_time"])
        result = stream_for_window(
            start=(p_time - 5.0).datetime.replace(tzinfo=dt.UTC),
            end=(p_time + 15.0).datetime.replace(tzinfo=dt.UTC),
            seed_ids=[channel["seed_id"]],
        )
        trace = _longest(result.stream)
        window = similarity_window(trace, p_time) if trace is not None else None
        if window is not None:
            windows[channel["seed_id"]] = window
    return windows


def similarity_windows_of(row: EventWaveformFeatures, seed_ids: set[str]) -> dict[str, obspy.Trace]:
    """Similarity windows (ranking.ml.similarity) of an event's measured channels in ``seed_ids``."""
    return _windows(row, seed_ids)


def event_similarity_refresh(*, row: EventWaveformFeatures) -> EventWaveformFeatures:
    """Compare an event with its nearest reviewed neighbours (at most SEISTRIAGE_SIMILARITY_NEIGHBOURS).

    Kept on the row with a hash of the neighbours and their fingerprints: recomputed only when the set of
    reviewed neighbours, their decisions or their waveforms change.
    """
    event = row.event
    if not row.channels or event.latitude is None or event.longitude is None:
        return row
    # The nearest reviewed events that have waveforms at all: a dense catalogue without them must not
    # crowd out the ones that can be compared.
    nearby = _neighbours(event, 10_000)
    covered = waveform_fingerprints(events=nearby)
    neighbours = [n for n in nearby if covered.get(n.pk, NO_WAVEFORMS) != NO_WAVEFORMS]
    neighbours = neighbours[: settings.SEISTRIAGE_SIMILARITY_NEIGHBOURS]
    neighbour_rows = events_waveform_features_refresh(events=neighbours) if neighbours else {}
    basis = hashlib.sha256(
        repr(
            (
                row.fingerprint,
                [
                    (n.pk, n.review_state, n.event_type, neighbour_rows[n.pk].fingerprint)
                    for n in neighbours
                    if n.pk in neighbour_rows
                ],
            )
        ).encode()
    ).hexdigest()
    if basis == row.similarity_basis:
        return row
    own = {channel["seed_id"] for channel in row.channels}
    candidates: list[tuple[int, int, dict[str, obspy.Trace]]] = []
    shared_ids: set[str] = set()
    for other in neighbours:
        other_row = neighbour_rows.get(other.pk)
        decision = _decision_class(other.review_state, other.event_type)
        shared = own & {c["seed_id"] for c in other_row.channels} if other_row is not None else set()
        if shared and decision is not None and other_row is not None:
            candidates.append((other.pk, DECISION_CLASSES.index(decision), _windows(other_row, shared)))
            shared_ids |= shared
    match = best_match(_windows(row, shared_ids), candidates) if candidates else None
    row.similarity_basis = basis
    row.similarity_correlation = None if match is None else match.correlation
    row.similarity_class = "" if match is None else DECISION_CLASSES[match.class_index]
    row.similarity_event_id = None if match is None else match.key
    row.similarity_channels = None if match is None else match.channels
    row.save(
        update_fields=[
            "similarity_basis",
            "similarity_correlation",
            "similarity_class",
            "similarity_event",
            "similarity_channels",
        ]
    )
    return row


def events_waveform_features(*, events: Sequence[Event]) -> dict[int, EventWaveformFeatures]:
    """Current waveform features (measurements and similarity) of located events, measuring what is stale."""
    rows = events_waveform_features_refresh(events=events)
    for event in events:
        row = rows.get(event.pk)
        if row is not None and row.channels:
            row.event = event
            rows[event.pk] = event_similarity_refresh(row=row)
    return rows
