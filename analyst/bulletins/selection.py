"""Which events a bulletin or an FDSN query contains, and iterating them in prefetched chunks."""

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import F, FloatField, Prefetch, Q, QuerySet
from django.db.models.functions import ACos, Cos, Greatest, Least, Radians, Sin

from analyst.bulletins.conversion import ExportItem, event_to_obspy, provenance_for
from events.models import Amplitude, Arrival, Event, EventLabel, Magnitude, Origin, Pick
from events.vocabulary import ReviewState
from ranking.models import EventScore

CHUNK_SIZE = 200


@dataclass(frozen=True)
class EventCriteria:
    """A selection of events; every bound is optional and inclusive. Depth in km, distances in degrees."""

    review_states: tuple[str, ...] = (ReviewState.ACCEPTED,)
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    min_latitude: float | None = None
    max_latitude: float | None = None
    min_longitude: float | None = None
    max_longitude: float | None = None
    latitude: float | None = None
    longitude: float | None = None
    min_radius: float | None = None
    max_radius: float | None = None
    min_depth: float | None = None
    max_depth: float | None = None
    min_magnitude: float | None = None
    max_magnitude: float | None = None
    magnitude_type: str = ""
    event_types: tuple[str, ...] = ()
    updated_after: dt.datetime | None = None
    public_ids: tuple[str, ...] = ()
    event_ids: tuple[int, ...] = ()
    agencies: tuple[str, ...] = ()
    order: str = "time-asc"
    limit: int | None = None
    offset: int = 0


ORDERINGS = {
    "time": ("-origin_time", "-id"),
    "time-asc": ("origin_time", "id"),
    "magnitude": (F("magnitude").desc(nulls_last=True), "-origin_time", "-id"),
    "magnitude-asc": (F("magnitude").asc(nulls_last=True), "origin_time", "id"),
}


def _great_circle_degrees(latitude: float, longitude: float) -> ACos:
    cosine = Sin(Radians(F("latitude"))) * Sin(Radians(latitude)) + Cos(Radians(F("latitude"))) * Cos(
        Radians(latitude)
    ) * Cos(Radians(F("longitude")) - Radians(longitude))
    return ACos(Greatest(Least(cosine, 1.0), -1.0), output_field=FloatField())


def events_select(*, criteria: EventCriteria) -> QuerySet[Event]:
    """The events matching `criteria`, ordered, not yet limited (see events_page)."""
    queryset = Event.objects.filter(origin_time__isnull=False, latitude__isnull=False, longitude__isnull=False)
    if criteria.review_states:
        queryset = queryset.filter(review_state__in=criteria.review_states)
    bounds = {
        "origin_time__gte": criteria.start,
        "origin_time__lte": criteria.end,
        "latitude__gte": criteria.min_latitude,
        "latitude__lte": criteria.max_latitude,
        "depth__gte": criteria.min_depth,
        "depth__lte": criteria.max_depth,
        "magnitude__gte": criteria.min_magnitude,
        "magnitude__lte": criteria.max_magnitude,
        "updated_at__gt": criteria.updated_after,
    }
    queryset = queryset.filter(**{name: value for name, value in bounds.items() if value is not None})
    if (
        criteria.min_longitude is not None
        and criteria.max_longitude is not None
        and (criteria.min_longitude > criteria.max_longitude)
    ):  # a box across the antimeridian
        queryset = queryset.filter(Q(longitude__gte=criteria.min_longitude) | Q(longitude__lte=criteria.max_longitude))
    else:
        if criteria.min_longitude is not None:
            queryset = queryset.filter(longitude__gte=criteria.min_longitude)
        if criteria.max_longitude is not None:
            queryset = queryset.filter(longitude__lte=criteria.max_longitude)
    if criteria.magnitude_type:
        queryset = queryset.filter(magnitude_type__iexact=criteria.magnitude_type)
    if criteria.event_types:
        queryset = queryset.filter(event_type__in=criteria.event_types)
    if criteria.public_ids:
        queryset = queryset.filter(public_id__in=criteria.public_ids)
    if criteria.event_ids:
        queryset = queryset.filter(pk__in=criteria.event_ids)
    if criteria.agencies:
        queryset = queryset.filter(agency_id__in=criteria.agencies)
    if (
        criteria.latitude is not None
        and criteria.longitude is not None
        and (criteria.min_radius is not None or criteria.max_radius is not None)
    ):
        queryset = queryset.annotate(distance_radians=_great_circle_degrees(criteria.latitude, criteria.longitude))
        if criteria.min_radius is not None:
            queryset = queryset.filter(distance_radians__gte=_radians(criteria.min_radius))
        if criteria.max_radius is not None:
            queryset = queryset.filter(distance_radians__lte=_radians(criteria.max_radius))
    return queryset.order_by(*ORDERINGS[criteria.order])


def _radians(degrees: float) -> float:
    return math.radians(degrees)


def events_page(*, criteria: EventCriteria) -> QuerySet[Event]:
    queryset = events_select(criteria=criteria)
    if criteria.limit is not None:
        return queryset[criteria.offset : criteria.offset + criteria.limit]
    return queryset[criteria.offset :] if criteria.offset else queryset


def with_export_relations(queryset: QuerySet[Event]) -> QuerySet[Event]:
    """Everything a writer touches, fetched per chunk (a few queries per chunk, none per event)."""
    return queryset.prefetch_related(
        Prefetch("origins", queryset=Origin.objects.order_by("id")),
        Prefetch("origins__arrivals", queryset=Arrival.objects.order_by("id")),
        # Exports keep the stored order (PostgreSQL returns unordered rows in any order it likes).
        Prefetch("magnitudes", queryset=Magnitude.objects.order_by("id")),
        Prefetch("picks", queryset=Pick.objects.order_by("id")),
        Prefetch("amplitudes", queryset=Amplitude.objects.order_by("id")),
        Prefetch("labels", queryset=EventLabel.objects.select_related("analyst").order_by("-created_at", "-id")),
        Prefetch(
            "scores",
            queryset=EventScore.objects.only("id", "event_id", "ranker_version", "model_versions", "scored_at")
            .order_by("-scored_at", "-id"),
        ),
    )  # fmt: skip


def export_chunks(queryset: QuerySet[Event], *, chunk_size: int = CHUNK_SIZE) -> Iterator[list[ExportItem]]:
    """Yield lists of at most `chunk_size` export items; only one chunk is in memory at a time."""
    chunk: list[ExportItem] = []
    for event in with_export_relations(queryset).iterator(chunk_size=chunk_size):
        provenance = provenance_for(event)
        chunk.append(ExportItem(obspy_event=event_to_obspy(event, provenance), event=event, provenance=provenance))
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
