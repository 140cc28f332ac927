"""Shapes of the review API's answers and of what it accepts."""

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, TypedDict

from django.utils import timezone
from rest_framework import serializers

from analyst.models import AuditEntry, EventClaim, SavedFilter
from analyst.review import DECISIONS
from analyst.selectors.queue import QUEUE_COLUMNS, QueuePage, QueueRow
from events.models import Arrival, Event, EventLabel, Magnitude, Origin, Pick
from events.vocabulary import QUAKEML_EVENT_TYPES, TypeCertainty


class ReviewInputSerializer(serializers.Serializer[dict[str, Any]]):
    decision = serializers.ChoiceField(choices=list(DECISIONS))
    version = serializers.IntegerField(min_value=1, help_text="the event version the analyst saw")
    event_type = serializers.ChoiceField(choices=list(QUAKEML_EVENT_TYPES), required=False, allow_blank=True)
    certainty = serializers.ChoiceField(choices=TypeCertainty.values, required=False, allow_blank=True)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class BatchEventSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField(min_value=1)
    version = serializers.IntegerField(min_value=1, help_text="the event version the analyst saw")


class BatchReviewInputSerializer(serializers.Serializer[dict[str, Any]]):
    decision = serializers.ChoiceField(choices=list(DECISIONS))
    event_type = serializers.ChoiceField(choices=list(QUAKEML_EVENT_TYPES), required=False, allow_blank=True)
    certainty = serializers.ChoiceField(choices=TypeCertainty.values, required=False, allow_blank=True)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    events = serializers.ListField(child=BatchEventSerializer(), min_length=1, max_length=500)


class Claim(TypedDict):
    claimed_by: Annotated[str, "username of the holder"]
    claimed_at: dt.datetime
    heartbeat_at: dt.datetime
    expires_at: Annotated[dt.datetime, "the claim lapses then unless renewed"]
    age_s: Annotated[float, "seconds since the claim was taken"]


class EventState(TypedDict):
    """The event's review state (the other keys are Event fields)."""

    id: int
    version: int
    event_type: str
    event_type_certainty: str
    review_state: str
    updated_at: dt.datetime
    claim: Annotated[Claim | None, "who is reviewing the event now; null when nobody"]


def claim_data(claim: EventClaim | None, *, now: dt.datetime | None = None) -> Claim | None:
    """Who holds an event and for how long; None when nobody does (an expired claim holds nothing)."""
    now = now or timezone.now()
    if claim is None or claim.expires_at <= now:
        return None
    return {
        "claimed_by": claim.user.get_username(),
        "claimed_at": claim.claimed_at,
        "heartbeat_at": claim.heartbeat_at,
        "expires_at": claim.expires_at,
        "age_s": round((now - claim.claimed_at).total_seconds(), 1),
    }


def event_state_data(event: Event, claim: EventClaim | None) -> EventState:
    return {
        "id": event.pk,
        "version": event.version,
        "event_type": event.event_type,
        "event_type_certainty": event.event_type_certainty,
        "review_state": event.review_state,
        "updated_at": event.updated_at,
        "claim": claim_data(claim),
    }


class OriginSerializer(serializers.ModelSerializer[Origin]):
    class Meta:
        model = Origin
        exclude = ("event",)


class MagnitudeSerializer(serializers.ModelSerializer[Magnitude]):
    class Meta:
        model = Magnitude
        exclude = ("event",)


class PickSerializer(serializers.ModelSerializer[Pick]):
    seed_id = serializers.CharField(read_only=True)

    class Meta:
        model = Pick
        exclude = ("event",)


class ArrivalSerializer(serializers.ModelSerializer[Arrival]):
    station = serializers.CharField(source="pick.station", default="", read_only=True)

    class Meta:
        model = Arrival
        fields = (
            "id",
            "origin",
            "pick",
            "station",
            "phase",
            "distance",
            "azimuth",
            "takeoff_angle",
            "time_residual",
            "time_weight",
        )


class LabelSerializer(serializers.ModelSerializer[EventLabel]):
    analyst = serializers.CharField(source="analyst.username", default=None, read_only=True)

    class Meta:
        model = EventLabel
        fields = (
            "id",
            "event_type",
            "event_type_certainty",
            "review_state",
            "source",
            "analyst",
            "predicted",
            "created_at",
        )


class AuditEntrySerializer(serializers.ModelSerializer[AuditEntry]):
    user = serializers.CharField(source="user.username", default=None, read_only=True)
    action_display = serializers.CharField(source="get_action_display", read_only=True)

    class Meta:
        model = AuditEntry
        fields = (
            "id",
            "created_at",
            "user",
            "action",
            "action_display",
            "before",
            "after",
            "comment",
            "event_version",
            "importance",
            "predicted_class",
            "model_versions",
        )


class StationCode(TypedDict):
    network: str
    station: str


class EventScoreData(TypedDict):
    importance: float
    predicted_class: str
    class_probabilities: dict[str, float]
    class_weights: dict[str, float]
    explanation: Annotated[Any, "the features that moved the score most"]  # stored JSON
    ranker_version: str
    model_versions: Any  # stored JSON: the versions of the models behind the score
    scored_at: dt.datetime


# A model serializer's output: its serializer describes it (Annotated beside each use).
SerializedRow = Mapping[str, object]


class EventEvidence(EventState):
    public_id: str
    region: str
    description: str
    agency_id: str
    author: str
    origin_time: dt.datetime | None
    latitude: float | None
    longitude: float | None
    depth: float | None
    magnitude: float | None
    magnitude_type: str
    phase_count: int | None
    azimuthal_gap: float | None
    rms: float | None
    preferred_origin: int | None
    preferred_magnitude: int | None
    importance: float | None
    predicted_class: str
    predicted_probability: float | None
    score: Annotated[EventScoreData | None, "the latest score; null until scored"]
    origins: Annotated[list[SerializedRow], OriginSerializer]
    magnitudes: Annotated[list[SerializedRow], MagnitudeSerializer]
    picks: Annotated[list[SerializedRow], PickSerializer]
    arrivals: Annotated[list[SerializedRow], ArrivalSerializer]
    stations: list[StationCode]
    labels: Annotated[list[SerializedRow], LabelSerializer]
    history: Annotated[list[SerializedRow], AuditEntrySerializer]


class QueuePageData(TypedDict):
    ordering: Annotated[str, "the ordering of this page, e.g. -importance"]
    results: list[QueueRow]
    next: Annotated[str | None, "`cursor` of the next page; null on the last"]
    approximate_total: Annotated[int, "events matching the filters (estimated when large)"]
    total_is_exact: bool
    generated_at: dt.datetime


def queue_page_data(page: QueuePage, *, next_cursor: str | None) -> QueuePageData:
    return {
        "ordering": page.ordering,
        "results": page.rows,
        "next": next_cursor,
        "approximate_total": page.approximate_total,
        "total_is_exact": page.total_is_exact,
        "generated_at": page.generated_at,
    }


def _rows(serialized: serializers.BaseSerializer[Any]) -> list[SerializedRow]:
    return list(serialized.data)  # a ListSerializer's data (the stubs type it as one dict)


def event_evidence_data(event: Event) -> EventEvidence:
    """The event, its origins, magnitudes, picks, arrivals, stations, score, labels and review history."""
    origins = list(event.origins.all())
    arrivals = [arrival for origin in origins for arrival in origin.arrivals.all()]
    picks = list(event.picks.all())
    stations = sorted({(pick.network, pick.station) for pick in picks})
    latest = getattr(event, "latest_scores", [])
    score = latest[0] if latest else None
    claim = getattr(event, "claim", None)
    return {
        **event_state_data(event, claim),
        "public_id": event.public_id,
        "region": event.region,
        "description": event.description,
        "agency_id": event.agency_id,
        "author": event.author,
        "origin_time": event.origin_time,
        "latitude": event.latitude,
        "longitude": event.longitude,
        "depth": event.depth,
        "magnitude": event.magnitude,
        "magnitude_type": event.magnitude_type,
        "phase_count": event.phase_count,
        "azimuthal_gap": event.azimuthal_gap,
        "rms": event.rms,
        "preferred_origin": event.preferred_origin_id,
        "preferred_magnitude": event.preferred_magnitude_id,
        "importance": event.importance,
        "predicted_class": event.predicted_class,
        "predicted_probability": event.predicted_probability,
        "score": None
        if score is None
        else {
            "importance": score.importance,
            "predicted_class": score.predicted_class,
            "class_probabilities": score.class_probabilities,
            "class_weights": score.class_weights,
            "explanation": score.explanation,
            "ranker_version": score.ranker_version,
            "model_versions": score.model_versions,
            "scored_at": score.scored_at,
        },
        "origins": _rows(OriginSerializer(origins, many=True)),
        "magnitudes": _rows(MagnitudeSerializer(event.magnitudes.all(), many=True)),
        "picks": _rows(PickSerializer(picks, many=True)),
        "arrivals": _rows(ArrivalSerializer(arrivals, many=True)),
        "stations": [{"network": network, "station": station} for network, station in stations],
        "labels": _rows(LabelSerializer(event.labels.all(), many=True)),
        "history": _rows(AuditEntrySerializer(event.audit_entries.all(), many=True)),
    }


class SavedFilterSerializer(serializers.ModelSerializer[SavedFilter]):
    class Meta:
        model = SavedFilter
        fields = ("id", "name", "query", "created_at")
        read_only_fields = ("id", "created_at")

    def validate_query(self, value: str) -> str:
        return value.lstrip("?")


class QueueColumnsSerializer(serializers.Serializer[dict[str, Any]]):
    columns = serializers.ListField(
        child=serializers.ChoiceField(choices=list(QUEUE_COLUMNS)), min_length=1, max_length=len(QUEUE_COLUMNS)
    )

    def validate_columns(self, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("a column is listed twice")
        return value
