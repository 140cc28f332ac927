"""The review queue: filtered, ordered, keyset-paginated reads of the event table.

Keyset ("seek") pagination: a page starts after the last row of the previous one, identified by its
sort value and id, so page 10,000 costs what page 1 costs. Nulls always sort last; to keep every
query on a plain (column, id) index the non-null rows and the null rows are read as two sections,
the second only when the first runs out.
"""

import datetime as dt
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any, TypedDict, cast

from django.db import connection
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    DateTimeField,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from analyst.models import AuditAction, AuditEntry
from analyst.selectors.compiled_query import CompiledQuery, QueryParameter, query_compile
from events.filters import EventFilter, events_filter
from events.models import Arrival, Event, EventLabel, Magnitude, Origin, Pick
from events.vocabulary import REVIEWED_STATES
from ranking.ml.classes import NOT_EXISTING
from ranking.models import EventScore

# Sort keys of the queue (the API's `ordering`, with "-" for descending) -> the column they sort on.
QUEUE_ORDERINGS: dict[str, str] = {
    "importance": "importance",
    "origin_time": "origin_time",
    "region": "region",
    "latitude": "latitude",
    "longitude": "longitude",
    "depth": "depth",
    "magnitude": "magnitude",
    "magnitude_type": "magnitude_type",
    "phase_count": "phase_count",
    "azimuthal_gap": "azimuthal_gap",
    "rms": "rms",
    "predicted_class": "predicted_class",
    "predicted_probability": "predicted_probability",
    "event_type": "event_type",
    "review_state": "review_state",
    "agency": "agency_id",
    "claimed_by": "claimed_by",
    "id": "id",
}
DEFAULT_ORDERING = "-importance"
_DATETIME_COLUMNS = {"origin_time"}
_NULLABLE_COLUMNS = {
    "importance",
    "origin_time",
    "latitude",
    "longitude",
    "depth",
    "magnitude",
    "phase_count",
    "azimuthal_gap",
    "rms",
    "predicted_probability",
    "claimed_by",
}


class QueueRow(TypedDict):
    """One row of the queue: Event fields (`.values()`) and the claim annotations."""

    id: int
    public_id: str
    origin_time: dt.datetime | None
    region: str
    latitude: float | None
    longitude: float | None
    depth: float | None
    magnitude: float | None
    magnitude_type: str
    phase_count: int | None
    azimuthal_gap: float | None
    rms: float | None
    importance: float | None
    predicted_class: str
    predicted_probability: float | None
    triage: Annotated[str | None, "confident, needs_review, or null before scoring"]
    triage_class: Annotated[str | None, "the confident class, else null"]
    event_type: str
    event_type_certainty: str
    review_state: str
    agency_id: str
    version: int
    claimed_by: Annotated[str | None, "holder of an active claim, or null"]
    claimed_at: dt.datetime | None
    author: Annotated[str, "who made the event (QuakeML creationInfo.author); may be empty"]
    evaluation_mode: Annotated[str, "the preferred origin's: automatic or manual; empty when unknown"]
    evaluation_status: Annotated[str, "the preferred origin's: preliminary, confirmed, reviewed, final or rejected"]
    origin_count: Annotated[int, "origins the event holds (scolv's 'origins' column)"]


QUEUE_ROW_FIELDS = tuple(QueueRow.__annotations__)


@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters: which events (`where`) and what only the queue filters on."""

    where: EventFilter = field(default_factory=EventFilter)
    region: str = ""  # the region name contains this text, any case
    importance_min: float | None = None
    importance_max: float | None = None
    predicted_class: tuple[str, ...] = ()
    claimed_by: str = ""  # a username, "nobody" or "anyone"
    hide_false: bool = False


@dataclass(frozen=True)
class QueueCursor:
    """Where a page starts: after the row with this sort value and id, in this ordering."""

    ordering: str
    value: Any
    id: int
    in_nulls: bool = False


@dataclass
class QueuePage:
    ordering: str
    rows: list[QueueRow]
    next: QueueCursor | None
    approximate_total: int
    total_is_exact: bool
    generated_at: dt.datetime = field(default_factory=timezone.now)


class QueueOrderingError(ValueError):
    pass


def queue_ordering_parse(ordering: str) -> tuple[str, bool]:
    """`-importance` -> ("importance", True); raises QueueOrderingError naming the choices."""
    key = ordering.removeprefix("-")
    if key not in QUEUE_ORDERINGS:
        raise QueueOrderingError(f"unknown ordering {ordering!r}; choose from {', '.join(QUEUE_ORDERINGS)}")
    return key, ordering.startswith("-")


_FLOAT_COLUMNS = {
    "importance",
    "latitude",
    "longitude",
    "depth",
    "magnitude",
    "azimuthal_gap",
    "rms",
    "predicted_probability",
}
_INTEGER_COLUMNS = {"phase_count", "id"}


def queue_cursor_value_parse(*, ordering: str, value: Any) -> Any:
    """A sort value read back from a cursor, as the column's Python type; ValueError for a value of another type
    (a cursor this API did not write: the database would refuse to compare it)."""
    key, _ = queue_ordering_parse(ordering)
    if value is None:
        return None
    if key in _DATETIME_COLUMNS:
        return dt.datetime.fromisoformat(value)
    if key in _FLOAT_COLUMNS and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if key in _INTEGER_COLUMNS and isinstance(value, int) and not isinstance(value, bool):
        return value
    if key not in _FLOAT_COLUMNS | _INTEGER_COLUMNS and isinstance(value, str) and "\x00" not in value:
        return value
    raise ValueError(f"a cursor value of the wrong type for ordering {ordering!r}")


# Keyword arguments for QuerySet.annotate: ORM expressions by name. `now` may be left open (a QueryParameter).
def _claim_annotations(now: dt.datetime | Expression) -> dict[str, Any]:
    active = Q(claim__expires_at__gt=now)
    return {
        "claimed_by": Case(When(active, then=F("claim__user__username")), default=None),
        "claimed_at": Case(When(active, then=F("claim__claimed_at")), default=None),
    }


def _row_annotations() -> dict[str, Any]:
    """scolv's columns: the preferred origin's evaluation mode and status, and how many origins the event holds."""
    origins = Origin.objects.filter(event=OuterRef("pk")).order_by().values("event").annotate(n=Count("id")).values("n")
    return {
        "evaluation_mode": Coalesce(F("preferred_origin__evaluation_mode"), Value("")),
        "evaluation_status": Coalesce(F("preferred_origin__evaluation_status"), Value("")),
        "origin_count": Coalesce(Subquery(origins, output_field=IntegerField()), Value(0)),
    }


def event_queue_filter(*, filters: QueueFilters, now: dt.datetime | Expression | None = None) -> QuerySet[Event]:
    """The events the queue shows under these filters (unordered); claims count as active after `now`."""
    now = now or timezone.now()
    queryset = events_filter(where=filters.where)
    bounds = {"importance__gte": filters.importance_min, "importance__lte": filters.importance_max}
    queryset = queryset.filter(**{lookup: value for lookup, value in bounds.items() if value is not None})
    if filters.region:
        queryset = queryset.filter(region__icontains=filters.region)
    if filters.predicted_class:
        queryset = queryset.filter(predicted_class__in=filters.predicted_class)
    if filters.hide_false:
        # Decided false (typed or rejected), or predicted false by the ranker (docs/false_events.md).
        queryset = (
            queryset.exclude(event_type="not existing")
            .exclude(review_state="rejected")
            .exclude(predicted_class=NOT_EXISTING)
        )
    if filters.claimed_by:
        active = Q(claim__expires_at__gt=now)
        if filters.claimed_by == "nobody":
            queryset = queryset.exclude(active)
        elif filters.claimed_by == "anyone":
            queryset = queryset.filter(active)
        else:
            queryset = queryset.filter(active, claim__user__username=filters.claimed_by)
    return queryset


def _section(
    queryset: QuerySet[Event], column: str, *, nulls: bool, descending: bool, after: tuple[Any, Any] | None
) -> QuerySet[Event]:
    """The rows of one section (the column's non-null values, or its nulls by id) in order, after the row whose
    (sort value, id) is `after` when given."""
    if nulls:
        queryset = queryset.filter(**{f"{column}__isnull": True})
        if after is not None:
            queryset = queryset.filter(id__lt=after[1]) if descending else queryset.filter(id__gt=after[1])
        return queryset.order_by("-id" if descending else "id")
    if column in _NULLABLE_COLUMNS:
        queryset = queryset.filter(**{f"{column}__isnull": False})
    if after is not None:
        value, id_ = after
        # (column, id) beyond (value, id) written so a btree range scan on (column, id) serves it.
        if descending:
            queryset = queryset.filter(**{f"{column}__lte": value}).exclude(**{column: value, "id__gte": id_})
        else:
            queryset = queryset.filter(**{f"{column}__gte": value}).exclude(**{column: value, "id__lte": id_})
    if column == "id":
        return queryset.order_by("-id" if descending else "id")
    return queryset.order_by(F(column).desc(), "-id") if descending else queryset.order_by(F(column).asc(), "id")


def _column_field(column: str) -> Any:
    return CharField() if column == "claimed_by" else Event._meta.get_field(column)


@lru_cache(maxsize=512)
def _section_query(
    filters: QueueFilters, column: str, *, nulls: bool, descending: bool, seek: bool, size: int
) -> CompiledQuery:
    """A section's rows query for one shape of request, compiled once: the time claims are compared with (`now`)
    and the cursor's row (`value`, `id`, when `seek`) are filled in at each run. The ORM spent ten times longer
    building and compiling it than PostgreSQL spends answering it (bench/bench_queue.py)."""
    now = QueryParameter("now", DateTimeField())
    queryset = event_queue_filter(filters=filters, now=now).annotate(**_claim_annotations(now), **_row_annotations())
    after = (QueryParameter("value", _column_field(column)), QueryParameter("id", BigIntegerField())) if seek else None
    part = _section(queryset, column, nulls=nulls, descending=descending, after=after)
    return query_compile(part.values(*QUEUE_ROW_FIELDS)[:size])


def event_queue_rows(
    *,
    filters: QueueFilters,
    ordering: str,
    after: QueueCursor | None,
    limit: int,
    backward: bool = False,
    now: dt.datetime | None = None,
) -> tuple[list[QueueRow], bool]:
    """Up to `limit` rows after the cursor in this ordering (before it when `backward`) and whether more follow."""
    key, descending = queue_ordering_parse(ordering)
    column = QUEUE_ORDERINGS[key]
    descending ^= backward
    sections = [False, True] if column in _NULLABLE_COLUMNS else [False]
    if backward:
        sections.reverse()
    if after is not None:
        sections = sections[sections.index(after.in_nulls) :] if after.in_nulls in sections else sections
    values: dict[str, Any] = {"now": now or timezone.now()}
    rows: list[QueueRow] = []
    for nulls in sections:
        seek = after is not None and after.in_nulls == nulls
        if after is not None and seek:
            values.update(value=after.value, id=after.id)
        part = _section_query(
            filters, column, nulls=nulls, descending=descending, seek=seek, size=limit + 1 - len(rows)
        )
        rows.extend(cast(list[QueueRow], part.rows(values)))
        if len(rows) > limit:
            break
        after = None  # the next section starts from its beginning
    return rows[:limit], len(rows) > limit


# Below this many matching events the queue counts them exactly; above, it shows the planner's estimate.
EXACT_COUNT_BELOW = 100_000


def event_queue_total_estimate(
    *, queryset: QuerySet[Event], exact_below: int = EXACT_COUNT_BELOW, cap: int = EXACT_COUNT_BELOW
) -> tuple[int, bool]:
    """How many events match, never an exact COUNT of a big table: the planner's estimate on PostgreSQL
    (counted exactly when it is below `exact_below`, where a count stays cheap), a count capped at `cap`
    elsewhere. Returns (total, is_exact); a count that reaches the cap is the cap, not exact."""
    ids = queryset.order_by().values("id")
    if connection.vendor == "postgresql":
        sql, params = ids.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        if estimate >= exact_below:
            return estimate, False
        cap = exact_below
    counted = ids[: cap + 1].count()
    return min(counted, cap), counted <= cap


# A big view's estimated total is kept this long per filter set: the planner's estimate moves only when the table's
# statistics do, and asking for it (an EXPLAIN) cost a page 1 more than its rows did.
ESTIMATE_SECONDS = 10.0
_estimates: dict[tuple[QueueFilters, int], tuple[float, int]] = {}


def event_queue_total(
    *, filters: QueueFilters, now: dt.datetime | None = None, exact_below: int = EXACT_COUNT_BELOW
) -> tuple[int, bool]:
    """How many events the queue holds under these filters, and whether that is exact (see
    event_queue_total_estimate); an estimate is reused for ESTIMATE_SECONDS, an exact count never."""
    key = (filters, exact_below)
    kept = _estimates.get(key)
    if kept is not None and kept[0] > time.monotonic():
        return kept[1], False
    queryset = event_queue_filter(filters=filters, now=now)
    total, exact = event_queue_total_estimate(queryset=queryset, exact_below=exact_below, cap=exact_below)
    if not exact:
        if len(_estimates) >= 256:
            _estimates.clear()
        _estimates[key] = (time.monotonic() + ESTIMATE_SECONDS, total)
    return total, exact


def queue_cursor_for_event(*, ordering: str, event_id: int, now: dt.datetime | None = None) -> QueueCursor | None:
    """A cursor positioned on an event, to find its neighbours in a queue ordering."""
    key, _ = queue_ordering_parse(ordering)
    column = QUEUE_ORDERINGS[key]
    row = Event.objects.annotate(**_claim_annotations(now or timezone.now())).filter(pk=event_id).values(column).first()
    if row is None:
        return None
    return QueueCursor(ordering=ordering, value=row[column], id=event_id, in_nulls=row[column] is None)


def event_queue_page(
    *,
    filters: QueueFilters,
    ordering: str = DEFAULT_ORDERING,
    after: QueueCursor | None = None,
    limit: int = 50,
    backward: bool = False,
    with_total: bool = True,
) -> QueuePage:
    """One page of the review queue."""
    now = timezone.now()
    if after is not None and after.ordering != ordering:
        after = None
    rows, more = event_queue_rows(
        filters=filters, ordering=ordering, after=after, limit=limit, backward=backward, now=now
    )
    following = None
    if more and rows:
        column = QUEUE_ORDERINGS[queue_ordering_parse(ordering)[0]]
        last = cast(Mapping[str, Any], rows[-1])  # the sort column is chosen at run time
        following = QueueCursor(ordering=ordering, value=last[column], id=last["id"], in_nulls=last[column] is None)
    total, exact = event_queue_total(filters=filters, now=now) if with_total else (len(rows), False)
    return QueuePage(ordering=ordering, rows=rows, next=following, approximate_total=total, total_is_exact=exact)


class QueueProgress(TypedDict):
    reviewed_today: Annotated[int, "events this analyst decided since 00:00 UTC"]
    left_in_view: Annotated[int, "events under these filters not yet accepted or rejected"]
    left_is_exact: Annotated[bool, "false: left_in_view is the planner's estimate (a big view)"]


def queue_progress_get(*, filters: QueueFilters, user_id: int, now: dt.datetime | None = None) -> QueueProgress:
    """The analyst's progress line: how many events they decided today (UTC), how many are left in this view."""
    now = now or timezone.now()
    day_start = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    decided = AuditEntry.objects.filter(
        user_id=user_id,
        created_at__gte=day_start,
        action__in=(AuditAction.ACCEPT, AuditAction.REJECT, AuditAction.SET_TYPE),
    )
    left = event_queue_filter(filters=filters, now=now).exclude(review_state__in=REVIEWED_STATES)
    total, exact = event_queue_total_estimate(queryset=left)
    return {
        "reviewed_today": decided.values("event_id").distinct().count(),
        "left_in_view": total,
        "left_is_exact": exact,
    }


# The queue page's columns (key -> heading); `ordering` says which queue ordering a column sorts by.
QUEUE_COLUMNS: dict[str, str] = {
    "rank": "Rank",
    "importance": "Importance",
    "origin_time": "Origin time (UTC)",
    "region": "Region",
    "latitude": "Lat",
    "longitude": "Lon",
    "depth": "Depth",
    "magnitude": "Mag",
    "phase_count": "Phases",
    "azimuthal_gap": "Gap °",
    "rms": "RMS s",
    "predicted_class": "Predicted",
    "event_type": "Type",
    "review_state": "State",
    "agency": "Agency",
    "claimed_by": "Claim",
    "evaluation": "Mode/status",
    "origin_count": "Origins",
    "author": "Author",
    "triage": "Triage",
}
# What fits a 1,366 px screen; the rest stay one click away in the column chooser.
DEFAULT_QUEUE_COLUMNS = (
    "rank",
    "importance",
    "origin_time",
    "region",
    "depth",
    "magnitude",
    "phase_count",
    "predicted_class",
    "triage",
    "event_type",
    "evaluation",
    "review_state",
    "claimed_by",
)


def event_evidence_get(*, event_id: int) -> Event:
    """An event with everything the review page and API show about it, in a fixed number of queries."""
    return (
        Event.objects.select_related("claim__user")
        .prefetch_related(
            Prefetch("origins", queryset=Origin.objects.order_by("time", "id")),
            Prefetch("origins__arrivals", queryset=Arrival.objects.select_related("pick").order_by("distance", "id")),
            Prefetch("magnitudes", queryset=Magnitude.objects.order_by("id")),
            Prefetch("picks", queryset=Pick.objects.order_by("time", "id")),
            Prefetch("labels", queryset=EventLabel.objects.select_related("analyst").order_by("-created_at", "-id")),
            Prefetch("scores", queryset=EventScore.objects.order_by("-scored_at", "-id")[:1], to_attr="latest_scores"),
            Prefetch("audit_entries", queryset=AuditEntry.objects.select_related("user").order_by("created_at", "id")),
        )
        .get(pk=event_id)
    )
