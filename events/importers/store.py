"""The event importer: one file, one transaction, bulk inserts, idempotent re-import."""

import datetime as dt
import logging
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from django.db.models import Q
from obspy.geodetics import FlinnEngdahl, degrees2kilometers, kilometers2degrees

from events.importers.bulk import bulk_update_rows, rows_insert
from events.importers.quakeml_stream import NotStreamable
from events.importers.reading import event_records_opened
from events.importers.records import (
    AmplitudeRecord,
    ArrivalRecord,
    EventRecord,
    MagnitudeRecord,
    OriginRecord,
    PickRecord,
)
from events.models import Amplitude, Arrival, Event, EventLabel, Magnitude, Origin, Pick
from events.vocabulary import QUAKEML_EVENT_TYPES, ReviewState, TypeCertainty
from fileimport.errors import ImportFileError
from fileimport.text import text_without_controls

logger = logging.getLogger(__name__)

_GENERATED_ID = re.compile(r"^smi:local/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?P<rest>/.*)?$")
# The columns of the rows store_children writes, in the order its *_row methods give the values.
ORIGIN_COLUMNS = (
    "event_id", "public_id", "time", "time_uncertainty", "latitude", "latitude_uncertainty", "longitude",
    "longitude_uncertainty", "depth", "depth_uncertainty", "used_phase_count", "used_station_count", "azimuthal_gap",
    "minimum_distance", "standard_error", "evaluation_mode", "evaluation_status", "method_id", "earth_model_id",
    "agency_id", "author",
)  # fmt: skip
PICK_COLUMNS = (
    "event_id", "public_id", "network", "station", "location", "channel", "time", "time_uncertainty", "phase_hint",
    "onset", "polarity", "backazimuth", "evaluation_mode", "evaluation_status", "method_id", "agency_id", "author",
)  # fmt: skip
ARRIVAL_COLUMNS = (
    "origin_id", "pick_id", "public_id", "phase", "distance", "azimuth", "takeoff_angle", "time_residual",
    "time_weight",
)  # fmt: skip
MAGNITUDE_COLUMNS = (
    "event_id", "origin_id", "public_id", "value", "magnitude_type", "uncertainty", "station_count",
    "evaluation_mode", "evaluation_status", "method_id", "agency_id", "author",
)  # fmt: skip
AMPLITUDE_COLUMNS = (
    "event_id", "pick_id", "public_id", "generic_amplitude", "amplitude_type", "unit", "period", "snr", "network",
    "station", "location", "channel", "magnitude_hint", "evaluation_mode",
)  # fmt: skip
_EVENT_UPDATE_FIELDS = [f.name for f in Event._meta.concrete_fields if f.name not in {"id", "public_id", "created_at"}]
ANALYST_OWNED_STATES = (ReviewState.IN_REVIEW, ReviewState.ACCEPTED, ReviewState.REJECTED)
DECISION_FIELDS = ("event_type", "event_type_certainty", "review_state")


@dataclass(frozen=True)
class KeptDecision:
    """An analyst's decision a reviewed import left in force, and what the import wanted instead."""

    event_id: int
    public_id: str
    kept: dict[str, str]
    wanted: dict[str, str]

    def describe(self) -> str:
        wanted = ", ".join(f"{name} {value!r}" for name, value in self.wanted.items() if value != self.kept[name])
        return f"kept the analyst's decision on {self.public_id} (the file wanted {wanted})"


@dataclass
class EventImportReport:
    path: str
    format: str = ""
    events_created: int = 0
    events_updated: int = 0
    events_skipped: int = 0
    origins: int = 0
    magnitudes: int = 0
    picks: int = 0
    arrivals: int = 0
    amplitudes: int = 0
    labels: int = 0
    skipped_reasons: list[str] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)
    # Events whose id in the file repeats an earlier event's, stored under a suffixed id instead.
    renamed_ids: list[str] = field(default_factory=list)
    kept_decisions: list[KeptDecision] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.path} [{self.format}]: events {self.events_created} created, {self.events_updated} updated, "
            f"{self.events_skipped} skipped; {self.origins} origins, {self.magnitudes} magnitudes, "
            f"{self.picks} picks, {self.arrivals} arrivals, {self.amplitudes} amplitudes, {self.labels} labels"
        )
        if self.renamed_ids:
            text += f"; {len(self.renamed_ids)} repeated event ids renamed"
        if self.kept_decisions:
            text += f"; {len(self.kept_decisions)} analyst decisions kept"
        return text

    def notes(self) -> list[str]:
        """One line per thing the import did differently from what the file said: skipped, renamed, kept."""
        return [
            *(f"skipped {reason}" for reason in self.skipped_reasons),
            *self.renamed_ids,
            *(kept.describe() for kept in self.kept_decisions),
        ]


@lru_cache(maxsize=1)
def _flinn_engdahl() -> FlinnEngdahl:
    return FlinnEngdahl()


def region_name(latitude: float, longitude: float) -> str:
    """Flinn-Engdahl region name for an epicentre (degrees)."""
    words = str(_flinn_engdahl().get_region(longitude, latitude)).lower().split()
    small = {"and", "of", "the", "off", "near", "in"}
    return " ".join(w if w in small and i else w.capitalize() for i, w in enumerate(words))


def stable_id(resource_id: object, format_name: str) -> str | None:
    """ObsPy invents random `smi:local/<uuid>` ids for formats without ids; those are not stable."""
    text = text_without_controls(str(resource_id)) if resource_id is not None else ""
    match = _GENERATED_ID.match(text)
    if match is None:
        return text or None
    rest = match.group("rest")
    return f"smi:local/{format_name.lower()}{rest}" if rest else None


def _m_to_km(value: float | None) -> float | None:
    return None if value is None else value / 1000.0


def _creation(record: OriginRecord | PickRecord | MagnitudeRecord | EventRecord) -> tuple[str, str]:
    return _text(record.agency_id, 64), _text(record.author, 128)


def _text(value: str | None, limit: int = 255) -> str:
    return "" if value is None else text_without_controls(value)[:limit]


def _batches(records: Iterable[EventRecord], size: int) -> Iterator[list[EventRecord]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


class _FileImport:
    """State for one file's import; all writes happen inside the caller's transaction."""

    def __init__(self, path: Path, format_name: str, reviewed: bool) -> None:
        self.path = path
        self.format_name = format_name
        self.reviewed = reviewed
        self.report = EventImportReport(path=str(path), format=format_name)
        # Which event of the file each stored public id went to (1-based), across batches.
        self.ids_in_file: dict[str, int] = {}
        # The events this file stored or updated so far, by public id: each only once.
        self.stored_ids: set[str] = set()
        # What the file alone decides for each event of the batch (type, certainty, review state), by id(event).
        self.wanted: dict[int, dict[str, str]] = {}
        # Where the import is, for an error the database or a reader raises while storing.
        self.where = "the file"

    def fail(self, event_index: int, reason: str, line: int | None = None) -> ImportFileError:
        return ImportFileError(self.path, f"event {event_index + 1}: {reason}", line=line)

    def run(self, records: Iterable[EventRecord]) -> EventImportReport:
        offset = 0
        for batch in _batches(records, settings.SEISTRIAGE_IMPORT_BATCH_SIZE):
            self.where = f"events {offset + 1}-{offset + len(batch)}"
            self.import_batch(batch, offset=offset)
            offset += len(batch)
        return self.report

    def validate(self, index: int, record: EventRecord) -> None:
        if record.event_type is not None and record.event_type not in QUAKEML_EVENT_TYPES:
            raise self.fail(index, f"field 'event_type': {record.event_type!r} is not a QuakeML 1.2 type", record.line)
        for origin in record.origins:
            if origin.latitude is None or origin.longitude is None or origin.time is None:
                continue
            if not (-90 <= origin.latitude <= 90 and -180 <= origin.longitude <= 360):
                raise self.fail(index, f"origin {origin.resource_id} has coordinates outside the globe", record.line)
            if origin.depth is not None and not math.isfinite(origin.depth):
                raise self.fail(index, f"origin {origin.resource_id} has a non-finite depth", record.line)
        for magnitude in record.magnitudes:
            if magnitude.mag is None or not math.isfinite(magnitude.mag):
                raise self.fail(index, f"magnitude {magnitude.resource_id} has no finite value", record.line)

    def unique_in_file(self, public_id: str, index: int) -> str:
        """`public_id`, or `public_id#n` when an earlier event of the file has it (readers that shorten ids, like
        ObsPy's IMS1.0 one keeping 8 of ISC's 9 digits, make distinct events collide). The same file always
        gives the same ids, so a re-import matches its events again."""
        unique = public_id
        repeat = 1
        while unique in self.ids_in_file:
            repeat += 1
            unique = f"{public_id}#{repeat}"
        if repeat > 1:
            self.report.renamed_ids.append(
                f"event {index + 1}: id {public_id} is also event {self.ids_in_file[public_id]}'s in this file; "
                f"stored as {unique}"
            )
        self.ids_in_file[unique] = index + 1
        return unique

    def public_id_for(self, record: EventRecord, origin: OriginRecord, index: int) -> tuple[str, bool]:
        """The event's public id and whether it came from the file (False: derived from time/place)."""
        from_file = stable_id(record.resource_id, self.format_name)
        if from_file is not None:
            if len(from_file) > 255:
                raise ImportFileError(
                    self.path, f"event public id longer than 255 characters: {from_file[:60]}...", line=record.line
                )
            return self.unique_in_file(from_file, index), True
        assert origin.time is not None
        time = origin.time
        derived = (
            f"smi:seistriage.local/{self.format_name.lower()}/"
            f"{time:%Y%m%dT%H%M%S.%f}_{origin.latitude:.3f}_{origin.longitude:.3f}"
        )
        return derived, False

    def find_by_time_and_place(self, origin: OriginRecord) -> Event | None:
        seconds = settings.SEISTRIAGE_MATCH_SECONDS
        degrees = kilometers2degrees(settings.SEISTRIAGE_MATCH_KM)
        time = origin.time
        assert time is not None and origin.latitude is not None and origin.longitude is not None
        candidates = Event.objects.select_for_update().filter(
            origin_time__range=(time - dt.timedelta(seconds=seconds), time + dt.timedelta(seconds=seconds)),
            latitude__range=(origin.latitude - degrees, origin.latitude + degrees),
        )
        best: tuple[float, Event] | None = None
        for candidate in candidates:
            assert candidate.origin_time is not None and candidate.latitude is not None
            assert candidate.longitude is not None
            distance = math.hypot(
                candidate.latitude - origin.latitude,
                (candidate.longitude - origin.longitude) * math.cos(math.radians(origin.latitude)),
            )
            if distance <= degrees and (best is None or distance < best[0]):
                best = (distance, candidate)
        return None if best is None else best[1]

    def skip(self, index: int, record: EventRecord, reason: str) -> None:
        self.report.events_skipped += 1
        self.report.skipped_reasons.append(f"event {index + 1} ({record.resource_id}): {reason}")

    def import_batch(self, batch: Sequence[EventRecord], offset: int) -> None:
        self.wanted.clear()  # by id() of this batch's Event rows, which live as long as the batch
        prepared: list[tuple[EventRecord, str, bool]] = []
        for index, record in enumerate(batch, start=offset):
            if record.unreadable is not None:
                self.skip(index, record, record.unreadable)
                continue
            self.validate(index, record)
            # Bulletins carry origins with a time but no location yet; those cannot be reviewed on a map.
            record.origins = [o for o in record.origins if o.located]
            origin = record.preferred_origin()
            if origin is None:
                self.skip(index, record, "no origin with time, latitude and longitude")
                continue
            self.where = f"event {index + 1} ({record.resource_id})"
            public_id, from_file = self.public_id_for(record, origin, index)
            prepared.append((record, public_id, from_file))

        # Locked until the import commits: an analyst deciding meanwhile waits, then gets a version conflict
        # (and sees what the import did) instead of having the decision overwritten by rows read before it.
        wanted_ids = [p for _, p, _ in prepared]
        existing = {
            e.public_id: e for e in Event.objects.select_for_update().filter(public_id__in=wanted_ids).order_by("pk")
        }
        rows: list[tuple[EventRecord, Event]] = []
        for record, public_id, from_file in prepared:
            event = existing.get(public_id)
            if event is None and not from_file:
                preferred = record.preferred_origin()
                assert preferred is not None
                event = self.find_by_time_and_place(preferred)
            if (public_id if event is None else event.public_id) in self.stored_ids:
                raise ImportFileError(self.path, f"event {public_id} appears twice in the file (same time and place)")
            if event is None:
                event = Event(public_id=public_id)
            self.stored_ids.add(event.public_id)
            rows.append((record, event))

        to_update = [event for _, event in rows if event.pk is not None]
        self.where = f"events {offset + 1}-{offset + len(batch)}"
        analyst_decided = set(
            EventLabel.objects.filter(event__in=to_update, source=EventLabel.Source.ANALYST).values_list(
                "event_id", flat=True
            )
        )
        event_children_delete(event_ids=[event.pk for event in to_update])

        for record, event in rows:
            self.fill_event(record, event, analyst_decided=event.pk in analyst_decided)
        created = [event for _, event in rows if event.pk is None]
        Event.objects.bulk_create(created)
        self.report.events_created += len(created)
        self.report.events_updated += len(to_update)

        self.store_children(rows)
        bulk_update_rows([event for _, event in rows], _EVENT_UPDATE_FIELDS)
        if self.reviewed:
            self.store_labels(rows)
        self.report.event_ids.extend(event.pk for _, event in rows)

    def wanted_decision(self, record: EventRecord, event: Event) -> dict[str, str]:
        """The event's type, certainty and review state by this file alone."""
        event_type = record.event_type or ""
        certainty = record.event_type_certainty or ""
        review_state = str(event.review_state)
        if self.reviewed and event_type:
            review_state = str(ReviewState.REJECTED if event_type == "not existing" else ReviewState.ACCEPTED)
            certainty = certainty or str(TypeCertainty.KNOWN)
        return {"event_type": event_type, "event_type_certainty": certainty, "review_state": review_state}

    def fill_event(self, record: EventRecord, event: Event, *, analyst_decided: bool) -> None:
        """Copy the file's event onto the row. An analyst's decision is never overwritten: an automatic import
        leaves any reviewed event's decision alone, a reviewed one any event an analyst decided or is deciding
        (the file's decision is then reported, and kept as an imported label beside the analyst's)."""
        wanted = self.wanted_decision(record, event)
        self.wanted[id(event)] = wanted
        in_review = event.review_state == ReviewState.IN_REVIEW
        if self.reviewed:
            keep = event.pk is not None and (analyst_decided or in_review)
        else:
            keep = event.pk is not None and event.review_state in ANALYST_OWNED_STATES
        if keep:
            kept = {name: str(getattr(event, name)) for name in DECISION_FIELDS}
            if self.reviewed and wanted["event_type"] and wanted != kept:
                self.report.kept_decisions.append(
                    KeptDecision(event_id=event.pk, public_id=event.public_id, kept=kept, wanted=wanted)
                )
        else:
            for name in DECISION_FIELDS:
                if name != "review_state" or (self.reviewed and wanted["event_type"]):
                    setattr(event, name, wanted[name])
        if event.pk is not None:
            event.version += 1
        descriptions = [text_without_controls(text) for text in record.descriptions]
        event.description = "\n".join(descriptions)[:4000]
        event.agency_id, event.author = _creation(record)
        event.source_file = str(self.path)[:1024]
        event.source_format = self.format_name[:32]
        event.updated_at = dt.datetime.now(dt.UTC)

    def store_children(self, rows: list[tuple[EventRecord, Event]]) -> None:
        """Insert the batch's origins, picks, arrivals, magnitudes and amplitudes as plain rows (no model instance
        per row: for a catalogue with picks that cost more than reading the file), and point each event at its
        preferred origin and magnitude."""
        origins: list[tuple[Any, ...]] = []
        picks: list[tuple[Any, ...]] = []
        for record, event in rows:
            origins.extend(self.origin_row(event, origin, index) for index, origin in enumerate(record.origins))
            picks.extend(self.pick_row(event, pick, index) for index, pick in enumerate(record.picks))
        origin_ids = iter(rows_insert(Origin, ORIGIN_COLUMNS, origins, returning_ids=True))
        pick_ids = iter(rows_insert(Pick, PICK_COLUMNS, picks, returning_ids=True))

        arrivals: list[tuple[Any, ...]] = []
        magnitudes: list[tuple[Any, ...]] = []
        amplitudes: list[tuple[Any, ...]] = []
        # A reference names the last of the event's elements with that id (as ObsPy's id registry would); so
        # does the preferred origin or magnitude, also where it is the first one for want of a preferred id. An
        # origin's own arrivals stay with it.
        origins_by_rid: list[dict[str | None, tuple[OriginRecord, int]]] = []
        for record, event in rows:
            stored_origins = list(zip(record.origins, islice(origin_ids, len(record.origins)), strict=True))
            origin_by_rid = {origin.resource_id: (origin, origin_id) for origin, origin_id in stored_origins}
            stored_picks = zip(record.picks, islice(pick_ids, len(record.picks)), strict=True)
            pick_by_rid = {pick.resource_id: pick_id for pick, pick_id in stored_picks}
            origins_by_rid.append(origin_by_rid)
            for origin, origin_id in stored_origins:
                arrivals.extend(
                    self.arrival_row(origin_id, pick_by_rid.get(arrival.pick_id), arrival)
                    for arrival in origin.arrivals
                )
            for index, magnitude in enumerate(record.magnitudes):
                magnitude_origin = origin_by_rid.get(magnitude.origin_id)
                magnitude_origin_id = None if magnitude_origin is None else magnitude_origin[1]
                magnitudes.append(self.magnitude_row(event, magnitude_origin_id, magnitude, index))
            amplitudes.extend(
                self.amplitude_row(event, pick_by_rid.get(amplitude.pick_id), amplitude, index)
                for index, amplitude in enumerate(record.amplitudes)
                if amplitude.generic_amplitude is not None
            )
        rows_insert(Arrival, ARRIVAL_COLUMNS, arrivals, returning_ids=False)
        magnitude_ids = iter(rows_insert(Magnitude, MAGNITUDE_COLUMNS, magnitudes, returning_ids=True))
        rows_insert(Amplitude, AMPLITUDE_COLUMNS, amplitudes, returning_ids=False)
        self.report.origins += len(origins)
        self.report.picks += len(picks)
        self.report.arrivals += len(arrivals)
        self.report.magnitudes += len(magnitudes)
        self.report.amplitudes += len(amplitudes)

        for (record, event), origin_by_rid in zip(rows, origins_by_rid, strict=True):
            stored_magnitudes = zip(record.magnitudes, islice(magnitude_ids, len(record.magnitudes)), strict=True)
            magnitude_by_rid = {magnitude.resource_id: (magnitude, row_id) for magnitude, row_id in stored_magnitudes}
            preferred = record.preferred_origin()
            assert preferred is not None
            origin, origin_id = origin_by_rid[preferred.resource_id]
            preferred_magnitude = record.preferred_magnitude()
            stored_magnitude: tuple[MagnitudeRecord | None, int | None] = (None, None)
            if preferred_magnitude is not None:
                stored_magnitude = magnitude_by_rid[preferred_magnitude.resource_id]
            event_queue_columns_refresh(
                event=event,
                origin_id=origin_id,
                origin=origin,
                magnitude_id=stored_magnitude[1],
                magnitude=stored_magnitude[0],
            )

    def child_id(self, event: Event, resource_id: str | None, kind: str, index: int) -> str:
        return stable_id(resource_id, self.format_name) or f"{event.public_id}/{kind}/{index}"

    def origin_row(self, event: Event, origin: OriginRecord, index: int) -> tuple[Any, ...]:
        """The origin's values in ORIGIN_COLUMNS order: uncertainties in km (from degrees, or from the horizontal
        uncertainty in m where the file gives no latitude or longitude one), depth in km."""
        assert origin.time is not None and origin.latitude is not None and origin.longitude is not None
        latitude_error = origin.latitude_uncertainty
        longitude_error = origin.longitude_uncertainty
        horizontal = origin.horizontal_uncertainty
        cos_lat = max(math.cos(math.radians(origin.latitude)), 1e-6)
        return (
            event.pk,
            _text(self.child_id(event, origin.resource_id, "origin", index)),
            origin.time,
            origin.time_uncertainty,
            origin.latitude,
            degrees2kilometers(latitude_error) if latitude_error is not None else _m_to_km(horizontal),
            origin.longitude,
            (degrees2kilometers(longitude_error) * cos_lat) if longitude_error is not None else _m_to_km(horizontal),
            _m_to_km(origin.depth),
            _m_to_km(origin.depth_uncertainty),
            self.count(origin.resource_id, "used_phase_count", origin.used_phase_count),
            self.count(origin.resource_id, "used_station_count", origin.used_station_count),
            origin.azimuthal_gap,
            origin.minimum_distance,
            origin.standard_error,
            origin.evaluation_mode or "",
            origin.evaluation_status or "",
            _text(origin.method_id),
            _text(origin.earth_model_id),
            *_creation(origin),
        )

    def count(self, resource_id: str | None, name: str, value: int | None) -> int | None:
        """A count as the store keeps it (a 32-bit integer), or ImportFileError naming the element and field."""
        if value is not None and not -(2**31) <= value < 2**31:
            raise ImportFileError(self.path, f"{resource_id}: field {name!r}: {value} is not a plausible count")
        return value

    def pick_row(self, event: Event, pick: PickRecord, index: int) -> tuple[Any, ...]:
        if pick.time is None:
            raise ImportFileError(self.path, f"pick {pick.resource_id} of event {event.public_id} has no time")
        return (
            event.pk,
            _text(self.child_id(event, pick.resource_id, "pick", index)),
            _text(pick.network, 8),
            _text(pick.station, 8),
            _text(pick.location, 8),
            _text(pick.channel, 8),
            pick.time,
            pick.time_uncertainty,
            _text(pick.phase_hint, 16),
            pick.onset or "",
            pick.polarity or "",
            pick.backazimuth,
            pick.evaluation_mode or "",
            pick.evaluation_status or "",
            _text(pick.method_id),
            *_creation(pick),
        )

    def arrival_row(self, origin_id: int, pick_id: int | None, arrival: ArrivalRecord) -> tuple[Any, ...]:
        return (
            origin_id,
            pick_id,
            _text(stable_id(arrival.resource_id, self.format_name)),
            _text(arrival.phase, 16),
            arrival.distance,
            arrival.azimuth,
            arrival.takeoff_angle,
            arrival.time_residual,
            arrival.time_weight,
        )

    def magnitude_row(
        self, event: Event, origin_id: int | None, magnitude: MagnitudeRecord, index: int
    ) -> tuple[Any, ...]:
        return (
            event.pk,
            origin_id,
            _text(self.child_id(event, magnitude.resource_id, "magnitude", index)),
            magnitude.mag,
            _text(magnitude.magnitude_type, 16),
            magnitude.uncertainty,
            self.count(magnitude.resource_id, "station_count", magnitude.station_count),
            magnitude.evaluation_mode or "",
            magnitude.evaluation_status or "",
            _text(magnitude.method_id),
            *_creation(magnitude),
        )

    def amplitude_row(
        self, event: Event, pick_id: int | None, amplitude: AmplitudeRecord, index: int
    ) -> tuple[Any, ...]:
        return (
            event.pk,
            pick_id,
            _text(self.child_id(event, amplitude.resource_id, "amplitude", index)),
            amplitude.generic_amplitude,
            _text(amplitude.amplitude_type, 32),
            _text(amplitude.unit, 16),
            amplitude.period,
            amplitude.snr,
            _text(amplitude.network, 8),
            _text(amplitude.station, 8),
            _text(amplitude.location, 8),
            _text(amplitude.channel, 8),
            _text(amplitude.magnitude_hint, 16),
            amplitude.evaluation_mode or "",
        )

    def store_labels(self, rows: list[tuple[EventRecord, Event]]) -> None:
        """The file's decisions as imported labels, one per event; an unchanged one stays as it was (so its time
        keeps its place among the analysts' decisions), a changed one replaces the event's earlier imported
        label. Analysts' labels are never touched."""
        wanted = {event.pk: self.wanted[id(event)] for _, event in rows if self.wanted[id(event)]["event_type"]}
        current = {
            event_id: dict(zip(DECISION_FIELDS, values, strict=True))
            for event_id, *values in EventLabel.objects.filter(
                event_id__in=list(wanted), source=EventLabel.Source.IMPORTED_REVIEW
            )
            .order_by("event_id", "created_at", "id")
            .values_list("event_id", *DECISION_FIELDS)
        }
        changed = [event_id for event_id, decision in wanted.items() if current.get(event_id) != decision]
        EventLabel.objects.filter(event_id__in=changed, source=EventLabel.Source.IMPORTED_REVIEW).delete()
        labels = [
            EventLabel(
                event_id=event_id,
                source=EventLabel.Source.IMPORTED_REVIEW,
                source_file=str(self.path)[:1024],
                **wanted[event_id],
            )
            for event_id in changed
        ]
        EventLabel.objects.bulk_create(labels)
        self.report.labels += len(wanted)


def event_children_delete(*, event_ids: list[int]) -> None:
    """Delete the events' origins, picks, magnitudes and amplitudes (and the origins' arrivals) before a re-import
    stores the file's, with what Django's cascade would do to rows outside them. In a few statements: Django's
    delete() loads every row it deletes or nulls first, which made a re-import slower than the import itself."""
    if not event_ids:
        return
    origins = Origin.objects.filter(event_id__in=event_ids).values("pk")
    picks = Pick.objects.filter(event_id__in=event_ids).values("pk")
    magnitudes = Magnitude.objects.filter(event_id__in=event_ids).values("pk")
    others = ~Q(pk__in=event_ids)
    # SET_NULL references from outside these events (none that an import makes; an edit could).
    Event.objects.filter(others, preferred_origin__in=origins).update(preferred_origin=None)
    Event.objects.filter(others, preferred_magnitude__in=magnitudes).update(preferred_magnitude=None)
    Magnitude.objects.filter(~Q(event_id__in=event_ids), origin__in=origins).update(origin=None)
    Amplitude.objects.filter(~Q(event_id__in=event_ids), pick__in=picks).update(pick=None)
    Arrival.objects.filter(~Q(origin__in=origins), pick__in=picks).update(pick=None)
    # These events' own references to the rows go with them, or are rewritten by the import (preferred ones).
    for model, condition in (
        (Arrival, Q(origin__in=origins)),
        (Amplitude, Q(event_id__in=event_ids)),
        (Magnitude, Q(event_id__in=event_ids)),
        (Pick, Q(event_id__in=event_ids)),
        (Origin, Q(event_id__in=event_ids)),
    ):
        model._default_manager.filter(condition)._raw_delete(model._default_manager.db)


def event_queue_columns_refresh(
    *,
    event: Event,
    origin_id: int,
    origin: OriginRecord,
    magnitude_id: int | None,
    magnitude: MagnitudeRecord | None,
) -> None:
    """Point the event at its stored preferred origin and magnitude and copy them onto its indexed queue columns
    (not saved)."""
    assert origin.time is not None and origin.latitude is not None and origin.longitude is not None
    event.preferred_origin_id = origin_id
    event.preferred_magnitude_id = magnitude_id
    event.origin_time = origin.time
    event.latitude = origin.latitude
    event.longitude = origin.longitude
    event.depth = _m_to_km(origin.depth)
    event.phase_count = origin.used_phase_count
    event.azimuthal_gap = origin.azimuthal_gap
    event.rms = origin.standard_error
    event.region = region_name(origin.latitude, origin.longitude)[:128]
    event.magnitude = magnitude.mag if magnitude is not None else None
    event.magnitude_type = _text(magnitude.magnitude_type, 16) if magnitude is not None else ""


def events_import_file(*, path: Path, format: str | None = None, reviewed: bool = False) -> EventImportReport:
    """Import one event file in one transaction; raise ImportFileError and write nothing on bad input.

    QuakeML 1.2 is read as a stream (settings.SEISTRIAGE_QUAKEML_STREAMING); where the stream meets something it
    leaves to ObsPy, the import starts again with ObsPy reading the whole file. Schedules nothing:
    analyst.ingest.services.events_ingest_file imports and sends the events to scoring."""
    path = Path(path).absolute()
    try:
        return _import(path, format, reviewed, streaming=settings.SEISTRIAGE_QUAKEML_STREAMING)
    except NotStreamable as reason:
        logger.info("%s: read by ObsPy instead of the QuakeML stream (%s)", path, reason)
        return _import(path, format, reviewed, streaming=False)


def _import(path: Path, format: str | None, reviewed: bool, *, streaming: bool) -> EventImportReport:
    with event_records_opened(path, format, streaming=streaming) as opened:
        importer = _FileImport(path, opened.format, reviewed)
        try:
            with transaction.atomic():
                report = importer.run(opened.records)
        except (DataError, IntegrityError, ValueError, TypeError, OverflowError) as error:
            # A value the checks above let through and the database (or a conversion) refused: one line, no
            # traceback; the transaction wrote nothing. A lost connection (OperationalError) is not the file's
            # fault and stays what it is, so callers can retry it.
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ImportFileError(path, f"{importer.where}: {reason}") from None
    logger.debug("%s", report.summary())
    return report
