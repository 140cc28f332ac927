"""IMS1.0 (ISF) short bulletin text, fixed columns as the IMS1.0 specification (and ObsPy's reader) reads them.

ObsPy reads this format but does not write it. Ids are the store's integer keys (at most 8 digits:
event, origin and arrival ids are a8/i8 columns). Review provenance goes into comment lines in
parentheses after the prime origin, which IMS1.0 readers keep as origin comments.
"""

import datetime as dt
from collections.abc import Sequence
from typing import ClassVar

from analyst.bulletins.conversion import ExportItem
from analyst.bulletins.types import ims_event_code
from analyst.bulletins.writers.base import BulletinWriter
from events.models import Amplitude, Arrival, Event, Origin, Pick
from events.vocabulary import ReviewState

ORIGIN_HEADER = (
    "   Date       Time        Err   RMS Latitude Longitude  Smaj  Smin  Az Depth   Err Ndef Nsta Gap  mdist  Mdist "
    "Qual   Author      OrigID"
)
MAGNITUDE_HEADER = "Magnitude  Err Nsta Author      OrigID"
PHASE_HEADER = (
    "Sta     Dist  EvAz Phase        Time      TRes  Azim AzRes   Slow   SRes Def   SNR       Amp   Per Qual "
    "Magnitude    ArrID"
)
_ANALYSIS_TYPE = {"automatic": "a", "manual": "m"}
_POLARITY = {"positive": "c", "negative": "d"}
_ONSET = {"impulsive": "i", "emergent": "e", "questionable": "q"}
_AMPLITUDE_TO_NM = {"m": 1e9, "": 1.0}


def _number(value: float | int | None, width: int, decimals: int) -> str:
    """Right-aligned fixed-point field, blank when missing or too wide for the column."""
    if value is None:
        return " " * width
    text = f"{value:{width}.{decimals}f}" if decimals else f"{round(value):{width}d}"
    return text if len(text) <= width else " " * width


def _text(value: str, width: int) -> str:
    return value[:width].ljust(width)


def _id(value: int, width: int = 8) -> str:
    text = str(value)
    if len(text) > width:
        raise ValueError(f"id {value} does not fit the {width}-character IMS1.0 id column")
    return text.ljust(width)


def _horizontal_ellipse(origin: Origin) -> tuple[float | None, float | None, float | None]:
    lat, lon = origin.latitude_uncertainty, origin.longitude_uncertainty
    if lat is None or lon is None:
        return None, None, None
    return max(lat, lon), min(lat, lon), 0.0 if lat >= lon else 90.0


def origin_line(origin: Origin, event_code: str) -> str:
    time = origin.time.astimezone(dt.UTC)
    seconds = time.second + time.microsecond / 1e6
    smaj, smin, azimuth = _horizontal_ellipse(origin)
    return "".join(
        [
            f"{time:%Y/%m/%d %H:%M:}",
            f"{seconds:05.2f}" if seconds < 59.995 else "59.99",
            "  ",
            _number(origin.time_uncertainty, 5, 2),
            " ",
            _number(origin.standard_error, 5, 2),
            " ",
            _number(origin.latitude, 8, 4),
            " ",
            _number(origin.longitude, 9, 4),
            " ",
            _number(smaj, 5, 1),
            " ",
            _number(smin, 5, 1),
            " ",
            _number(azimuth, 3, 0),
            " ",
            _number(origin.depth, 5, 1),
            "  ",
            _number(origin.depth_uncertainty, 4, 1),
            " ",
            _number(origin.used_phase_count, 4, 0),
            " ",
            _number(origin.used_station_count, 4, 0),
            " ",
            _number(origin.azimuthal_gap, 3, 0),
            " ",
            _number(origin.minimum_distance, 6, 2),
            " ",
            " " * 6,
            " ",
            _ANALYSIS_TYPE.get(origin.evaluation_mode, " "),
            "   ",
            event_code,
            " ",
            _text(origin.author or origin.agency_id, 9),
            " ",
            _id(origin.pk),
        ]
    )


def phase_line(pick: Pick, arrival: Arrival | None, amplitude: Amplitude | None) -> str:
    time = pick.time.astimezone(dt.UTC)
    seconds = time.second + time.microsecond / 1e6
    defining = "T" if arrival is not None and (arrival.time_weight or 0) > 0 else "_"
    amplitude_nm = None
    if amplitude is not None and amplitude.unit in _AMPLITUDE_TO_NM:
        amplitude_nm = amplitude.generic_amplitude * _AMPLITUDE_TO_NM[amplitude.unit]
    return "".join(
        [
            _text(pick.station, 5),
            " ",
            _number(arrival.distance if arrival else None, 6, 2),
            " ",
            _number(arrival.azimuth if arrival else None, 5, 1),
            " ",
            _text(pick.phase_hint or (arrival.phase if arrival else ""), 8),
            " ",
            f"{time:%H:%M:}{seconds:06.3f}" if seconds < 59.9995 else f"{time:%H:%M:}59.999",
            " ",
            _number(arrival.time_residual if arrival else None, 5, 1),
            " ",
            _number(pick.backazimuth, 5, 1),
            " " * 21,
            f"{defining}__",
            " ",
            _number(amplitude.snr if amplitude else None, 5, 1),
            " ",
            _number(amplitude_nm, 9, 1),
            " ",
            _number(amplitude.period if amplitude else None, 5, 2),
            " ",
            _ANALYSIS_TYPE.get(pick.evaluation_mode, "_"),
            _POLARITY.get(pick.polarity, "_"),
            _ONSET.get(pick.onset, "_"),
            " " * 12,
            _id(pick.pk),
        ]
    )


def magnitude_line(
    value: float,
    magnitude_type: str,
    uncertainty: float | None,
    stations: int | None,
    author: str,
    origin_id: int | None,
) -> str:
    return "".join(
        [
            _text(magnitude_type, 5),
            " ",
            _number(value, 4, 1),
            " ",
            _number(uncertainty, 3, 1),
            " ",
            _number(stations, 4, 0),
            " ",
            _text(author, 9),
            " ",
            _id(origin_id) if origin_id is not None else "",
        ]
    ).rstrip()


def provenance_lines(item: ExportItem, rejected: bool) -> list[str]:
    """The review and ranking behind an event, as IMS1.0 comment lines (kept by readers as origin comments)."""
    provenance = item.provenance
    state = "rejected (not existing)" if rejected else provenance.review_state
    reviewed = provenance.reviewed_at.astimezone(dt.UTC).isoformat() if provenance.reviewed_at else "-"
    importance = "-" if provenance.importance is None else f"{provenance.importance:.4f}"
    return [
        f" (Seistriage review: {state}; reviewer {provenance.reviewer or '-'}; reviewed {reviewed})",
        f" (Seistriage importance: {importance}; models {provenance.model_versions_text() or '-'})",
    ]


class Ims10Writer(BulletinWriter):
    extension: ClassVar[str] = "txt"
    content_type: ClassVar[str] = "text/plain; charset=utf-8"

    def line(self, text: str = "") -> None:
        self.out.write(text.rstrip().encode("ascii", "replace") + b"\n")

    def begin(self) -> None:
        self.line("BEGIN IMS1.0")
        self.line("MSG_TYPE DATA")
        self.line(f"MSG_ID {self.header.public_id.rsplit('/', 1)[-1][:20]} SEISTRIAGE")
        self.line("DATA_TYPE BULLETIN IMS1.0:SHORT")
        self.line(
            f"{self.header.title}; {self.header.selection}; by {self.header.author} "
            f"{self.header.created_at.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"
        )

    def write(self, items: Sequence[ExportItem]) -> None:
        for item in items:
            self.write_event(item)
            self.count += 1

    def write_event(self, item: ExportItem) -> None:
        event: Event = item.event
        rejected = event.review_state == ReviewState.REJECTED
        code = ims_event_code("" if rejected else event.event_type, event.event_type_certainty)
        origins: list[Origin] = list(event.origins.all())
        preferred = next((o for o in origins if o.pk == event.preferred_origin_id), origins[0] if origins else None)
        self.line(f"EVENT {_id(event.pk)} {event.region[:65]}")
        self.line()
        self.line(ORIGIN_HEADER)
        for origin in origins:
            self.line(origin_line(origin, code))
            if origin is preferred:
                if len(origins) > 1:
                    self.line(" (#PRIME)")
                for text in provenance_lines(item, rejected):
                    self.line(text)
        magnitudes = list(event.magnitudes.all())
        if magnitudes:
            self.line()
            self.line(MAGNITUDE_HEADER)
            for magnitude in magnitudes:
                self.line(
                    magnitude_line(
                        magnitude.value,
                        magnitude.magnitude_type,
                        magnitude.uncertainty,
                        magnitude.station_count,
                        magnitude.author or magnitude.agency_id,
                        magnitude.origin_id,
                    )
                )
        picks = list(event.picks.all())
        if picks and preferred is not None:
            arrivals = {a.pick_id: a for a in preferred.arrivals.all() if a.pick_id is not None}
            amplitudes = {a.pick_id: a for a in event.amplitudes.all() if a.pick_id is not None}
            self.line()
            self.line(PHASE_HEADER)
            if len(origins) > 1:
                self.line(f" (#OrigID {preferred.pk})")
            for pick in sorted(picks, key=lambda p: (p.time, p.pk)):
                self.line(phase_line(pick, arrivals.get(pick.pk), amplitudes.get(pick.pk)))
        self.line()

    def end(self) -> None:
        self.line("STOP")
