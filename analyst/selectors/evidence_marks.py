"""Per-station false-event evidence for the event page: in words (a table) and as marks on the record section.

Read from the onsets measured with the waveform features (ranking.waveform_features, ranking.ml.false_evidence):
each station with data is "onset seen", "expected but missing" (the magnitude and distance say it should have
recorded the event, docs/false_events.md), "no onset" (nothing there, and nothing was expected), or "not
measurable" (with the reason); a station with picks but no waveforms is "no data".
"""

import math
from collections.abc import Sequence
from typing import Any, Literal, TypedDict

from obspy import UTCDateTime

from events.models import Event, Pick
from ranking.ml.false_evidence import expected_to_record
from ranking.models import EventWaveformFeatures

EvidenceState = Literal["onset_seen", "expected_but_missing", "no_onset", "not_measurable", "no_data"]
STATE_WORDS: dict[str, str] = {
    "onset_seen": "onset seen",
    "expected_but_missing": "expected but missing",
    "no_onset": "no onset",
    "not_measurable": "not measurable",
    "no_data": "no data",
}
STATE_COLOURS: dict[str, str] = {
    "onset_seen": "rgba(46, 125, 50, 0.25)",
    "expected_but_missing": "rgba(198, 40, 40, 0.30)",
    "no_onset": "rgba(120, 120, 120, 0.25)",
    "not_measurable": "rgba(120, 120, 120, 0.10)",
}


class StationEvidenceRow(TypedDict):
    seed_id: str
    state: EvidenceState
    words: str  # the state in words with its measurements, e.g. "onset seen: SNR 12.3, 0.2 s from the P pick"
    snr: float | None
    distance_km: float | None
    arrival: str | None  # ISO time of the arrival looked at
    tolerance_s: float | None


def _source_words(source: str) -> str:
    return {"picks": "the P pick", "taup": "the predicted P", "sta_lta": "the STA/LTA onset"}.get(source, "P")


def _row(channel: dict[str, Any], magnitude: float | None, depth: float | None) -> StationEvidenceRow | None:
    onset = channel.get("onset")
    if not onset:
        return None
    distance = channel.get("distance_km")
    snr = onset.get("snr")
    where = _source_words(str(onset.get("source", "")))
    state: EvidenceState
    if onset["state"] == "onset":
        state = "onset_seen"
        offset = onset.get("aic_offset_s")
        words = f"onset seen: SNR {snr:.1f}" + (f", {abs(offset):.1f} s from {where}" if offset is not None else "")
    elif onset["state"] == "unmeasurable":
        state = "not_measurable"
        words = f"not measurable: {onset.get('reason') or 'unknown reason'}"
    else:
        expected = expected_to_record(magnitude, distance, depth)
        state = "expected_but_missing" if expected else "no_onset"
        measured = f"SNR {snr:.1f} at {where}" if snr is not None else f"nothing at {where}"
        if expected:
            assert distance is not None and magnitude is not None
            words = f"expected but missing: M {magnitude:.1f} at {distance:.0f} km should show, {measured}"
        else:
            words = f"no onset: {measured}"
    return {
        "seed_id": str(channel["seed_id"]),
        "state": state,
        "words": words,
        "snr": None if snr is None or not math.isfinite(snr) else round(float(snr), 2),
        "distance_km": None if distance is None else round(float(distance), 1),
        "arrival": str(UTCDateTime(onset["arrival"])),
        "tolerance_s": float(onset.get("tolerance_s") or 0.0),
    }


def event_station_evidence(*, event: Event) -> list[StationEvidenceRow]:
    """The event's stations with their evidence, "onset seen" first, then missing, then the rest."""
    row = EventWaveformFeatures.objects.filter(event=event).only("channels").first()
    channels = [] if row is None else row.channels
    rows = [r for c in channels if (r := _row(c, event.magnitude, event.depth)) is not None]
    seen = {".".join(r["seed_id"].split(".")[:2]) for r in rows}
    for network, station in sorted(set(Pick.objects.filter(event=event).values_list("network", "station"))):
        if f"{network}.{station}" not in seen:
            seen.add(f"{network}.{station}")
            rows.append(
                {
                    "seed_id": f"{network}.{station}",
                    "state": "no_data",
                    "words": "no data: picked, but no waveforms are registered for this station",
                    "snr": None,
                    "distance_km": None,
                    "arrival": None,
                    "tolerance_s": None,
                }
            )
    order = list(STATE_WORDS)
    return sorted(rows, key=lambda r: (order.index(r["state"]), r["seed_id"]))


def evidence_shapes(*, event: Event, reference: UTCDateTime, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Plotly shapes for the record section: a band on each station's row around the arrival looked at,
    green for an onset seen, red for expected but missing, grey otherwise (``rows``: the figure's RowInfo)."""
    row_of = {r["seed_id"]: r["row"] for r in rows}
    shift = {r["seed_id"]: float(r.get("offset_s") or 0.0) for r in rows}  # rows aligned on P start at their P
    shapes: list[dict[str, Any]] = []
    for item in event_station_evidence(event=event):
        if item["arrival"] is None or item["state"] not in STATE_COLOURS:
            continue
        station = ".".join(item["seed_id"].split(".")[:2])
        targets = [seed_id for seed_id in row_of if seed_id.startswith(station + ".")]
        half = max(0.5, item["tolerance_s"] or 1.0)
        for seed_id in targets:
            row = row_of[seed_id]
            centre = float(UTCDateTime(item["arrival"]) - reference) - shift[seed_id]
            shapes.append(
                {
                    "type": "rect",
                    "xref": "x",
                    "yref": "y",
                    "x0": round(centre - half, 3),
                    "x1": round(centre + half, 3),
                    "y0": -float(row) - 0.45,
                    "y1": -float(row) + 0.45,
                    "line": {"width": 0},
                    "fillcolor": STATE_COLOURS[item["state"]],
                    "layer": "below",
                    "name": STATE_WORDS[item["state"]],
                }
            )
    return shapes
