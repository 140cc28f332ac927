"""Which events a bulletin or an FDSN query contains, and iterating them in prefetched chunks."""

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import CharField, F, Model, Prefetch, QuerySet, TextField

from analyst.bulletins.conversion import ExportItem, event_to_obspy, provenance_for
from analyst.models import Bulletin
from events.filters import EventFilter, events_filter
from events.models import Amplitude, Arrival, Event, EventLabel, Magnitude, Origin, Pick
from events.vocabulary import ReviewState
from fileimport.text import text_has_controls, text_without_controls
from ranking.models import EventScore

CHUNK_SIZE = 200


def _accepted() -> EventFilter:
    return EventFilter(review_states=(ReviewState.ACCEPTED,))


@dataclass(frozen=True)
class EventCriteria:
    """A bulletin's or an FDSN query's selection: which events (`where`, accepted ones unless it says otherwise),
    in which order (a key of ORDERINGS) and which slice of them."""

    where: EventFilter = field(default_factory=_accepted)
    order: str = "time-asc"
    limit: int | None = None
    offset: int = 0


ORDERINGS = {
    "time": ("-origin_time", "-id"),
    "time-asc": ("origin_time", "id"),
    "magnitude": (F("magnitude").desc(nulls_last=True), "-origin_time", "-id"),
    "magnitude-asc": (F("magnitude").asc(nulls_last=True), "origin_time", "id"),
}


def events_select(*, criteria: EventCriteria) -> QuerySet[Event]:
    """The located events matching `criteria`, ordered, not yet limited (see events_page)."""
    located = Event.objects.filter(origin_time__isnull=False, latitude__isnull=False, longitude__isnull=False)
    return events_filter(queryset=located, where=criteria.where).order_by(*ORDERINGS[criteria.order])


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
            queryset=EventScore.objects.only(
                "id", "event_id", "ranker_version", "model_versions", "scored_at"
            ).order_by("-scored_at", "-id"),
        ),
    )


def _row_text_without_controls(row: Model) -> None:
    for stored in row._meta.concrete_fields:
        if isinstance(stored, CharField | TextField):
            value = getattr(row, stored.attname)
            if value and text_has_controls(value):
                setattr(row, stored.attname, text_without_controls(value))


def event_text_without_controls(*, event: Event) -> None:
    """Replace C0 control characters in the event's and its prefetched children's text (in memory, not saved).

    Importers drop them now, but rows stored before could hold one, and XML writers refuse it mid-document."""
    _row_text_without_controls(event)
    for origin in event.origins.all():
        _row_text_without_controls(origin)
        for arrival in origin.arrivals.all():
            _row_text_without_controls(arrival)
    for children in (event.magnitudes, event.picks, event.amplitudes):
        for child in children.all():
            _row_text_without_controls(child)


def export_chunks(queryset: QuerySet[Event], *, chunk_size: int = CHUNK_SIZE) -> Iterator[list[ExportItem]]:
    """Yield lists of at most `chunk_size` export items; only one chunk is in memory at a time."""
    chunk: list[ExportItem] = []
    for event in with_export_relations(queryset).iterator(chunk_size=chunk_size):
        event_text_without_controls(event=event)
        provenance = provenance_for(event)
        chunk.append(ExportItem(obspy_event=event_to_obspy(event, provenance), event=event, provenance=provenance))
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def bulletins_published(*, limit: int = 200) -> QuerySet[Bulletin]:
    return (
        Bulletin.objects.filter(kind=Bulletin.Kind.PUBLISHED)
        .select_related("created_by")
        .order_by("-created_at", "-id")[:limit]
    )


def bulletin_get(*, bulletin_id: int) -> Bulletin | None:
    return Bulletin.objects.filter(pk=bulletin_id).first()
