from dataclasses import dataclass
from typing import TypedDict

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from analyst.selectors.queue import QueueFilters, QueueRow, event_queue_page, queue_cursor_for_event
from events.models import Amplitude, Arrival, Event, EventLabel, Magnitude, Origin, Pick

EVENT_LIST_ORDERING = "-origin_time"


class EventListError(LookupError):
    """An event list position (``after``/``before``) that names no event."""


@dataclass(frozen=True)
class EventListPage:
    """One page of the plain event list, newest first. ``rows`` are queue rows in display order;
    ``older``/``newer`` are the event ids to continue from (None at either end); ``total`` is approximate on big
    tables (never an exact COUNT of them) and ``total_is_exact`` says which."""

    rows: list[QueueRow]
    older: int | None
    newer: int | None
    total: int
    total_is_exact: bool


def event_list_page(*, after: int | None = None, before: int | None = None, per_page: int = 100) -> EventListPage:
    """Events newest first, one keyset page at a time: after the event ``after`` (older ones), or the page just
    before the event ``before`` (newer ones), else the newest page. A seek on (origin_time, id), so a page deep in
    a million events costs what the first one does. Raises EventListError for an id that is no event."""
    position = after if after is not None else before
    cursor = None
    if position is not None:
        cursor = queue_cursor_for_event(ordering=EVENT_LIST_ORDERING, event_id=position)
        if cursor is None:
            raise EventListError(f"no event {position}")
    backward = before is not None
    page = event_queue_page(
        filters=QueueFilters(), ordering=EVENT_LIST_ORDERING, after=cursor, limit=per_page, backward=backward
    )
    rows, more = list(page.rows), page.next is not None
    if backward:
        rows.reverse()
        older, newer = position, (rows[0]["id"] if more and rows else None)
    else:
        older = rows[-1]["id"] if more and rows else None
        newer = rows[0]["id"] if position is not None and rows else None
    return EventListPage(
        rows=rows, older=older, newer=newer, total=page.approximate_total, total_is_exact=page.total_is_exact
    )


class EventDetail(TypedDict):
    """The event page's context: the event and its evidence, as querysets the template iterates."""

    event: Event
    origins: QuerySet[Origin]
    magnitudes: QuerySet[Magnitude]
    picks: QuerySet[Pick]
    amplitudes: QuerySet[Amplitude]
    labels: QuerySet[EventLabel]


def event_detail_get(*, event_id: int) -> EventDetail:
    event = get_object_or_404(Event.objects.select_related("preferred_origin", "preferred_magnitude"), pk=event_id)
    origins = Origin.objects.filter(event=event).prefetch_related(
        Prefetch("arrivals", queryset=Arrival.objects.select_related("pick").order_by("distance"))
    )
    return {
        "event": event,
        "origins": origins,
        "magnitudes": event.magnitudes.select_related("origin").all(),
        "picks": event.picks.order_by("time"),
        "amplitudes": event.amplitudes.all(),
        "labels": event.labels.select_related("analyst").order_by("-created_at"),
    }


def event_exists(*, event_id: int) -> bool:
    return Event.objects.filter(pk=event_id).exists()


def event_get(*, event_id: int) -> Event:
    """The event (Event.DoesNotExist when there is none)."""
    return Event.objects.get(pk=event_id)
