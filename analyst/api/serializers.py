"""Shapes of the review API's answers and of what it accepts."""

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from analyst.models import AuditEntry, EventClaim, SavedFilter
from analyst.review import DECISIONS
from analyst.selectors.queue import QUEUE_COLUMNS
from events.models import Arrival, Event, EventLabel, Magnitude, Origin, Pick
from events.vocabulary import QUAKEML_EVENT_TYPES, TypeCertainty


class ReviewInputSerializer(serializers.Serializer[dict[str, Any]]):
    decision = serializers.ChoiceField(choices=list(DECISIONS))
    version = serializers.IntegerField(min_value=1, help_text="the event version the analyst saw")
    event_type = serializers.ChoiceField(choices=list(QUAKEML_EVENT_TYPES), required=False, allow_blank=True)
    certainty = serializers.ChoiceField(choices=TypeCertainty.values, required=False, allow_blank=True)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000)


def claim_data(claim: EventClaim | None, *, now: dt.datetime | None = None) -> dict[str, Any] | None:
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


def event_state_data(event: Event, claim: EventClaim | None) -> dict[str, Any]:
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


def event_evidence_data(event: Event) -> dict[str, Any]:
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
        "origins": OriginSerializer(origins, many=True).data,
        "magnitudes": MagnitudeSerializer(event.magnitudes.all(), many=True).data,
        "picks": PickSerializer(picks, many=True).data,
        "arrivals": ArrivalSerializer(arrivals, many=True).data,
        "stations": [{"network": network, "station": station} for network, station in stations],
        "labels": LabelSerializer(event.labels.all(), many=True).data,
        "history": AuditEntrySerializer(event.audit_entries.all(), many=True).data,
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
