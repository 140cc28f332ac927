"""Queue filters from query parameters, validated with a clear message per parameter."""

from functools import lru_cache
from typing import Any

from django.http import QueryDict
from rest_framework import serializers

from analyst.selectors_queue import DEFAULT_ORDERING, QUEUE_ORDERINGS, QueueFilters
from analyst.vocabulary import QUAKEML_EVENT_TYPES, ReviewState
from ranking.classes import DECISION_CLASSES


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


def _ordering_choices() -> list[str]:
    return [prefix + key for key in QUEUE_ORDERINGS for prefix in ("", "-")]


class QueueQuerySerializer(serializers.Serializer[QueueFilters]):
    time_min = serializers.DateTimeField(required=False)
    time_max = serializers.DateTimeField(required=False)
    magnitude_min = serializers.FloatField(required=False)
    magnitude_max = serializers.FloatField(required=False)
    depth_min = serializers.FloatField(required=False)
    depth_max = serializers.FloatField(required=False)
    latitude_min = serializers.FloatField(required=False, min_value=-90, max_value=90)
    latitude_max = serializers.FloatField(required=False, min_value=-90, max_value=90)
    longitude_min = serializers.FloatField(required=False, min_value=-180, max_value=180)
    longitude_max = serializers.FloatField(required=False, min_value=-180, max_value=180)
    near_latitude = serializers.FloatField(required=False, min_value=-90, max_value=90)
    near_longitude = serializers.FloatField(required=False, min_value=-180, max_value=180)
    radius_km = serializers.FloatField(required=False, min_value=0, max_value=20100)
    region = serializers.CharField(required=False, max_length=128)
    importance_min = serializers.FloatField(required=False)
    importance_max = serializers.FloatField(required=False)
    predicted_class = CommaSeparatedChoices(required=False, choices=tuple(DECISION_CLASSES))
    event_type = CommaSeparatedChoices(required=False, choices=QUAKEML_EVENT_TYPES)
    review_state = CommaSeparatedChoices(required=False, choices=tuple(ReviewState.values))
    agency = CommaSeparatedChoices(required=False)
    claimed_by = serializers.CharField(required=False, max_length=150)
    hide_false = serializers.BooleanField(required=False, default=False)
    ordering = serializers.ChoiceField(required=False, choices=_ordering_choices(), default=DEFAULT_ORDERING)

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
    present = {key: value for key, value in params.items() if value != "" and key in _query_fields()}
    serializer = QueueQuerySerializer(data=present)
    serializer.is_valid(raise_exception=True)
    data = dict(serializer.validated_data)
    ordering = str(data.pop("ordering"))
    if data.get("claimed_by") == "me":
        data["claimed_by"] = username
    return QueueFilters(**data), ordering
