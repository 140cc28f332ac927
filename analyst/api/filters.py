"""Queue filters from query parameters, validated with a clear message per parameter."""

from dataclasses import replace
from functools import lru_cache
from typing import Any

from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from obspy.geodetics import kilometers2degrees
from rest_framework import serializers

from analyst.selectors.queue import DEFAULT_ORDERING, QUEUE_ORDERINGS, QueueFilters
from events.filters import EventFilter
from events.vocabulary import QUAKEML_EVENT_TYPES, ReviewState, Triage
from ranking.ml.classes import DECISION_CLASSES


@extend_schema_field(OpenApiTypes.STR)
class CommaSeparatedChoices(serializers.Field[tuple[str, ...], str, str, Any]):
    """`a,b,c` -> ("a", "b", "c"), each checked against the allowed values (when there are some)."""

    def __init__(self, *, choices: tuple[str, ...] | None = None, **kwargs: Any) -> None:
        self.allowed = choices
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> tuple[str, ...]:
        if "\x00" in str(data):  # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the query
            raise serializers.ValidationError("NUL characters are not allowed")
        values = tuple(part.strip() for part in str(data).split(",") if part.strip())
        if self.allowed is not None:
            unknown = [value for value in values if value not in self.allowed]
            if unknown:
                raise serializers.ValidationError(f"unknown value {unknown[0]!r}; allowed: {', '.join(self.allowed)}")
        return values

    def to_representation(self, value: tuple[str, ...]) -> str:
        return ",".join(value)


# The queue's parameters that select events -> their EventFilter fields (the distance filter is mapped apart).
_EVENT_FILTER_PARAMETERS = {
    "time_min": "time_min",
    "time_max": "time_max",
    "magnitude_min": "magnitude_min",
    "magnitude_max": "magnitude_max",
    "depth_min": "depth_min",
    "depth_max": "depth_max",
    "latitude_min": "latitude_min",
    "latitude_max": "latitude_max",
    "longitude_min": "longitude_min",
    "longitude_max": "longitude_max",
    "event_type": "event_types",
    "review_state": "review_states",
    "agency": "agencies",
    "triage": "triages",
}


def _ordering_choices() -> list[str]:
    return [prefix + key for key in QUEUE_ORDERINGS for prefix in ("", "-")]


class QueueQuerySerializer(serializers.Serializer[QueueFilters]):
    time_min = serializers.DateTimeField(required=False, help_text="origin time from (ISO 8601, UTC)")
    time_max = serializers.DateTimeField(required=False, help_text="origin time until (ISO 8601, UTC)")
    magnitude_min = serializers.FloatField(required=False, help_text="smallest magnitude")
    magnitude_max = serializers.FloatField(required=False, help_text="largest magnitude")
    depth_min = serializers.FloatField(required=False, help_text="shallowest depth, km")
    depth_max = serializers.FloatField(required=False, help_text="deepest depth, km")
    latitude_min = serializers.FloatField(
        required=False, min_value=-90, max_value=90, help_text="box: southern edge, degrees"
    )
    latitude_max = serializers.FloatField(
        required=False, min_value=-90, max_value=90, help_text="box: northern edge, degrees"
    )
    longitude_min = serializers.FloatField(
        required=False,
        min_value=-180,
        max_value=180,
        help_text="box: western edge, degrees (west > east crosses the antimeridian)",
    )
    longitude_max = serializers.FloatField(
        required=False, min_value=-180, max_value=180, help_text="box: eastern edge, degrees"
    )
    near_latitude = serializers.FloatField(
        required=False,
        min_value=-90,
        max_value=90,
        help_text="distance filter: latitude of the point (with near_longitude and radius_km)",
    )
    near_longitude = serializers.FloatField(
        required=False,
        min_value=-180,
        max_value=180,
        help_text="distance filter: longitude of the point (with near_latitude and radius_km)",
    )
    radius_km = serializers.FloatField(
        required=False,
        min_value=0,
        max_value=20100,
        help_text="distance filter: events within this many km of the point",
    )
    region = serializers.CharField(
        required=False, max_length=128, help_text="region name contains this text (any case)"
    )
    importance_min = serializers.FloatField(required=False, help_text="lowest importance score")
    importance_max = serializers.FloatField(required=False, help_text="highest importance score")
    predicted_class = CommaSeparatedChoices(
        required=False, choices=tuple(DECISION_CLASSES), help_text=f"comma-separated, of: {', '.join(DECISION_CLASSES)}"
    )
    triage = CommaSeparatedChoices(
        required=False,
        choices=tuple(Triage.values),
        help_text=f"conformal triage, comma-separated, of: {', '.join(Triage.values)}",
    )
    event_type = CommaSeparatedChoices(
        required=False, choices=QUAKEML_EVENT_TYPES, help_text="comma-separated QuakeML event types"
    )
    review_state = CommaSeparatedChoices(
        required=False,
        choices=tuple(ReviewState.values),
        help_text=f"comma-separated, of: {', '.join(ReviewState.values)}",
    )
    agency = CommaSeparatedChoices(required=False, help_text="comma-separated agency ids")
    claimed_by = serializers.CharField(
        required=False, max_length=150, help_text="claimed by this username; `me` (yourself), `anyone` or `nobody`"
    )
    hide_false = serializers.BooleanField(
        required=False, default=False, help_text="true: leave out rejected events and those typed `not existing`"
    )
    ordering = serializers.ChoiceField(
        required=False,
        choices=_ordering_choices(),
        default=DEFAULT_ORDERING,
        help_text="sort column; a leading '-' sorts descending (default -importance)",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        near = [attrs.get(name) is not None for name in ("near_latitude", "near_longitude", "radius_km")]
        if any(near) and not all(near):
            raise serializers.ValidationError(
                {"radius_km": "distance from a point needs near_latitude, near_longitude and radius_km together"}
            )
        return attrs


@lru_cache(maxsize=1)
def _query_fields() -> frozenset[str]:
    return frozenset(QueueQuerySerializer().fields)  # building a serializer's fields costs; do it once


def queue_query_parse(*, params: QueryDict, username: str) -> tuple[QueueFilters, str]:
    """(filters, ordering) from the query string; raises serializers.ValidationError naming the parameter.

    `claimed_by=me` stands for the asking user, so a "my claims" view can be bookmarked and shared."""
    present = tuple(sorted((key, value) for key, value in params.items() if value != "" and key in _query_fields()))
    filters, ordering = _queue_query_validated(present)
    if filters.claimed_by == "me":
        filters = replace(filters, claimed_by=username)
    return filters, ordering


# An analyst pages through one filter set many times; validating it through a REST framework serializer (fields
# deep-copied per instance) cost more than the page's query, so the answer is kept per query string. Errors are
# raised again each time (lru_cache keeps no exception).
@lru_cache(maxsize=512)
def _queue_query_validated(present: tuple[tuple[str, str], ...]) -> tuple[QueueFilters, str]:
    serializer = QueueQuerySerializer(data=dict(present))
    serializer.is_valid(raise_exception=True)
    data = dict(serializer.validated_data)
    ordering = str(data.pop("ordering"))
    where = {field: data.pop(name) for name, field in _EVENT_FILTER_PARAMETERS.items() if name in data}
    near_latitude, near_longitude, radius_km = (
        data.pop(name, None) for name in ("near_latitude", "near_longitude", "radius_km")
    )
    if radius_km is not None:  # validate() saw the point given with it
        where.update(
            centre_latitude=near_latitude,
            centre_longitude=near_longitude,
            radius_max=float(kilometers2degrees(radius_km)),
        )
    return QueueFilters(where=EventFilter(**where), **data), ordering
