"""An event's false-event evidence, read from the database (the numerics are in ranking.ml.false_evidence).

Waveform evidence comes from the per-station onsets cached in EventWaveformFeatures (measured with the other
waveform features); pick evidence from the preferred origin's arrivals: their time residuals, and whether each
picked arrival fits the iasp91 travel-time curve at the arrival's distance (observed = pick - origin time).
"""

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from events.models import Arrival, Event
from ranking.ml.false_evidence import StationEvidence, false_evidence_row, station_evidence_from_dict
from ranking.ml.false_evidence import travel_time_consistent as fits_curve
from ranking.models import EventWaveformFeatures
from waveforms.windows import travel_times

# Event.source_format of the synthetic_false training events (ranking.synthetic_false): they are left out of
# everything that reads reviewed events as decisions about a place (neighbour shares, similarity).
SYNTHETIC_FALSE_FORMAT = "synthetic_false"


def station_evidence_of(row: EventWaveformFeatures | None) -> tuple[list[StationEvidence], list[float | None]]:
    """The cached per-station onset evidence of an event and each station's distance (km, None unknown)."""
    stations: list[StationEvidence] = []
    distances: list[float | None] = []
    for channel in [] if row is None else row.channels:
        onset = channel.get("onset")
        if onset:
            stations.append(station_evidence_from_dict(onset))
            distances.append(channel.get("distance_km"))
    return stations, distances


def _arrival_rows(events: Sequence[Event]) -> dict[int, list[dict[str, Any]]]:
    origins = {e.preferred_origin_id: e.pk for e in events if e.preferred_origin_id is not None}
    rows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not origins:
        return rows
    for row in Arrival.objects.filter(origin_id__in=list(origins)).values(
        "origin_id", "phase", "distance", "time_residual", "pick__time", "origin__time", "origin__depth"
    ):
        rows[origins[row["origin_id"]]].append(dict(row))
    return rows


def _travel_time_fits(arrivals: list[dict[str, Any]]) -> list[bool]:
    fits: list[bool] = []
    for row in arrivals:
        phase = (row["phase"] or "").upper()[:1]
        if row["pick__time"] is None or row["distance"] is None or phase not in ("P", "S"):
            continue
        p_s, s_s = travel_times(depth_km=row["origin__depth"], distance_deg=float(row["distance"]))
        predicted = p_s if phase == "P" else s_s
        if predicted is None:
            continue
        observed = (row["pick__time"] - row["origin__time"]).total_seconds()
        fits.append(fits_curve(observed, predicted))
    return fits


def events_false_evidence(
    *, events: Sequence[Event], waveform: Mapping[int, EventWaveformFeatures]
) -> dict[int, dict[str, float]]:
    """Per event id, every ranking.ml.false_evidence.FALSE_EVIDENCE_NAMES value (NaN where missing)."""
    arrivals = _arrival_rows(events)
    result: dict[int, dict[str, float]] = {}
    for event in events:
        stations, distances = station_evidence_of(waveform.get(event.pk))
        mine = arrivals.get(event.pk, [])
        residuals = [float(r["time_residual"]) for r in mine if r["time_residual"] is not None]
        result[event.pk] = false_evidence_row(
            stations,
            magnitude=event.magnitude,
            depth_km=event.depth,
            distances_km=distances,
            residuals_s=[r for r in residuals if math.isfinite(r)],
            defining_phase_count=event.phase_count,
            travel_time_fits=_travel_time_fits(mine),
            rms_s=event.rms,
        )
    return result
