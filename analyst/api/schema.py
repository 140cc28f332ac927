"""OpenAPI declarations of the API (drf-spectacular): the shapes of answers built as plain dicts, the error
answers every endpoint shares, and path parameters described once. Documentation only: no view reads these.

Every endpoint needs a logged-in user (session or `Authorization: Token <key>`) with a Seistriage role; DRF
answers 403 both to a stranger (session authentication comes first, so no 401 challenge) and to an outsider.
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from analyst.api.serializers import (
    ArrivalSerializer,
    AuditEntrySerializer,
    LabelSerializer,
    MagnitudeSerializer,
    OriginSerializer,
    PickSerializer,
)
from analyst.selectors.queue import QUEUE_ROW_FIELDS
from events.models import Event
from ranking.models import ModelVersion

ANY_ROLE = "Who: any Seistriage role (analyst, senior analyst or admin)."
SENIOR_ROLE = "Who: senior analysts and admins."


# ---- errors ------------------------------------------------------------------------------------------------


class ApiErrorSerializer(serializers.Serializer[dict[str, Any]]):
    detail = serializers.CharField(help_text="what went wrong, in words")


class WaveformErrorSerializer(serializers.Serializer[dict[str, Any]]):
    error = serializers.CharField(help_text="the bad parameter and what it should be")


# DRF's validation errors: each invalid field (or query parameter) mapped to its message or messages (a list
# field's items by index).
FIELD_ERRORS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {
        "anyOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        ]
    },
    "description": "each invalid field or query parameter mapped to its message(s)",
}


def forbidden(description: str = "") -> OpenApiResponse:
    who = "no Seistriage role (analyst, senior analyst or admin)"
    text = f"not logged in (no session or token), or {who}" + (f"; {description}" if description else "")
    return OpenApiResponse(ApiErrorSerializer, description=text)


FORBIDDEN = forbidden()
FORBIDDEN_SENIOR = OpenApiResponse(
    ApiErrorSerializer,
    description="not logged in (no session or token), or the user is not a senior analyst or admin",
)


def bad_request(description: str, *, example: dict[str, Any] | None = None) -> OpenApiResponse:
    """400 from validation: `{"<field>": ["<message>"]}` (or a single message for a query parameter)."""
    examples = [OpenApiExample(next(iter(example)), value=example, status_codes=["400"])] if example else []
    return OpenApiResponse(FIELD_ERRORS, description=f"{description}; the answer names the field", examples=examples)


def not_found(description: str) -> OpenApiResponse:
    return OpenApiResponse(ApiErrorSerializer, description=description)


# A published or exported bulletin in GeoJSON (the other formats are files).
GEOJSON_BULLETIN: dict[str, Any] = {
    "type": "object",
    "description": "a GeoJSON FeatureCollection: one Point feature per event, the selection in `metadata`",
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "metadata": {"type": "object", "additionalProperties": True},
        "features": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
    },
}


# ---- path parameters ---------------------------------------------------------------------------------------


def id_in_path(name: str, description: str) -> OpenApiParameter:
    """An integer id in the path (the URL pattern takes digits only: anything else is not an API address)."""
    return OpenApiParameter(name, {"type": "integer", "minimum": 1}, OpenApiParameter.PATH, description=description)


def name_in_path(name: str, description: str) -> OpenApiParameter:
    """A text segment of the path (no "/")."""
    return OpenApiParameter(
        name, {"type": "string", "pattern": "^[^/]+$"}, OpenApiParameter.PATH, description=description
    )


EVENT_ID = id_in_path("event_id", "the event's id")
SEED_ID = name_in_path("seed_id", "a channel's SEED id NET.STA.LOC.CHA (400 if not)")
MODEL_KIND = OpenApiParameter(
    "kind",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=ModelVersion.Kind.values,
    description="model kind: ranker (the tabular ranker) or cnn (the waveform CNN); 404 for any other",
)
MODEL_VERSION = name_in_path("version", "a version name of that kind (404 if unknown)")
LIMIT_1000 = OpenApiParameter(
    "limit", OpenApiTypes.INT, description="at most this many rows, 1-1000 (default 100); 400 otherwise"
)


# ---- review queue and events -------------------------------------------------------------------------------


class ClaimSerializer(serializers.Serializer[dict[str, Any]]):
    claimed_by = serializers.CharField(help_text="username of the holder")
    claimed_at = serializers.DateTimeField()
    heartbeat_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(help_text="the claim lapses then unless renewed")
    age_s = serializers.FloatField(help_text="seconds since the claim was taken")


class EventStateSerializer(serializers.ModelSerializer[Event]):
    claim = ClaimSerializer(allow_null=True, help_text="who is reviewing the event now; null when nobody")

    class Meta:
        model = Event
        fields = ("id", "version", "event_type", "event_type_certainty", "review_state", "updated_at", "claim")


class QueueRowSerializer(serializers.ModelSerializer[Event]):
    claimed_by = serializers.CharField(allow_null=True, help_text="holder of an active claim, or null")
    claimed_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        model = Event
        fields = QUEUE_ROW_FIELDS


class QueuePageSerializer(serializers.Serializer[dict[str, Any]]):
    ordering = serializers.CharField(help_text="the ordering of this page, e.g. -importance")
    results = QueueRowSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="`cursor` of the next page; null on the last")
    approximate_total = serializers.IntegerField(help_text="events matching the filters (estimated when large)")
    total_is_exact = serializers.BooleanField()
    generated_at = serializers.DateTimeField()


class StationCodeSerializer(serializers.Serializer[dict[str, Any]]):
    network = serializers.CharField()
    station = serializers.CharField()


class EventScoreSerializer(serializers.Serializer[dict[str, Any]]):
    importance = serializers.FloatField()
    predicted_class = serializers.CharField()
    class_probabilities = serializers.DictField(child=serializers.FloatField())
    class_weights = serializers.DictField(child=serializers.FloatField())
    explanation = serializers.JSONField(help_text="the features that moved the score most")
    ranker_version = serializers.CharField()
    model_versions = serializers.JSONField()
    scored_at = serializers.DateTimeField()


class EventEvidenceSerializer(serializers.ModelSerializer[Event]):
    claim = ClaimSerializer(allow_null=True)
    score = EventScoreSerializer(allow_null=True, help_text="the latest score; null until scored")
    origins = OriginSerializer(many=True)
    magnitudes = MagnitudeSerializer(many=True)
    picks = PickSerializer(many=True)
    arrivals = ArrivalSerializer(many=True)
    stations = StationCodeSerializer(many=True)
    labels = LabelSerializer(many=True)
    history = AuditEntrySerializer(many=True)

    class Meta:
        model = Event
        fields = (
            "id",
            "version",
            "event_type",
            "event_type_certainty",
            "review_state",
            "updated_at",
            "claim",
            "public_id",
            "region",
            "description",
            "agency_id",
            "author",
            "origin_time",
            "latitude",
            "longitude",
            "depth",
            "magnitude",
            "magnitude_type",
            "phase_count",
            "azimuthal_gap",
            "rms",
            "preferred_origin",
            "preferred_magnitude",
            "importance",
            "predicted_class",
            "predicted_probability",
            "score",
            "origins",
            "magnitudes",
            "picks",
            "arrivals",
            "stations",
            "labels",
            "history",
        )


class ReviewConflictSerializer(serializers.Serializer[dict[str, Any]]):
    detail = serializers.CharField()
    event = EventStateSerializer(help_text="the event as it is now")


class ClaimConflictSerializer(serializers.Serializer[dict[str, Any]]):
    detail = serializers.CharField()
    claim = ClaimSerializer(allow_null=True, help_text="the other analyst's claim")


class ClaimReleaseSerializer(serializers.Serializer[dict[str, Any]]):
    released = serializers.BooleanField(help_text="a claim of yours was released")
    broken = serializers.BooleanField(help_text="someone else's claim was broken (senior analysts only)")


class EventPresenceSerializer(serializers.Serializer[dict[str, Any]]):
    others = serializers.ListField(child=serializers.CharField(), help_text="the other users looking at the event")
    seconds = serializers.IntegerField(help_text="a heartbeat older than this many seconds counts as gone")


class PresenceMapSerializer(serializers.Serializer[dict[str, Any]]):
    events = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="event id -> usernames looking at it (events nobody looks at are left out)",
    )


# ---- imports -----------------------------------------------------------------------------------------------


class ImportUploadSerializer(serializers.Serializer[dict[str, Any]]):
    events = serializers.ListField(child=serializers.FileField(), required=False, help_text="event catalogues")
    stations = serializers.ListField(child=serializers.FileField(), required=False, help_text="StationXML etc.")
    waveforms = serializers.ListField(child=serializers.FileField(), required=False, help_text="miniSEED etc.")
    reviewed = serializers.BooleanField(required=False, help_text="true: the catalogue's decisions are reviews")


class ImportFileSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField()
    kind = serializers.CharField(help_text="events, stations or waveforms")
    size = serializers.IntegerField(help_text="bytes")
    status = serializers.CharField(help_text="waiting, running, done or failed")
    summary = serializers.CharField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    skipped = serializers.IntegerField()
    error = serializers.CharField(help_text="the file and the reason when it failed; empty otherwise")


class ImportJobSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.CharField()
    user = serializers.CharField()
    state = serializers.CharField(help_text="queued, running, done or failed")
    reviewed = serializers.BooleanField()
    files = ImportFileSerializer(many=True)
    done = serializers.IntegerField(help_text="files finished so far")
    total = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    seconds = serializers.FloatField(required=False, help_text="import time, once finished")


# ---- waveforms ---------------------------------------------------------------------------------------------


class WaveformWindowSerializer(serializers.Serializer[dict[str, Any]]):
    start = serializers.CharField(help_text="UTC, ISO 8601")
    end = serializers.CharField(help_text="UTC, ISO 8601")
    origin_time = serializers.CharField(help_text="the reference time (x = 0), UTC")


class WaveformRowSerializer(serializers.Serializer[dict[str, Any]]):
    row = serializers.IntegerField()
    seed_id = serializers.CharField()
    distance_deg = serializers.FloatField(allow_null=True)
    scale = serializers.FloatField(help_text="peak |amplitude| in the window, trace units")
    first_pick_s = serializers.FloatField(allow_null=True, help_text="seconds after the reference time")
    points = serializers.IntegerField()


_FIGURE_HELP = "a Plotly figure (data and layout), ready for Plotly.react"


class RecordSectionSerializer(serializers.Serializer[dict[str, Any]]):
    event = serializers.IntegerField()
    figure = serializers.JSONField(help_text=_FIGURE_HELP)
    rows = WaveformRowSerializer(many=True)
    problems = serializers.ListField(child=serializers.CharField(), help_text="channels that could not be drawn")
    message = serializers.CharField(allow_null=True, help_text="why the figure is empty, or null")
    filter = serializers.CharField(allow_null=True)
    from_summaries = serializers.ListField(child=serializers.CharField(), help_text="channels drawn from summaries")
    window = WaveformWindowSerializer()


class TraceSegmentSerializer(serializers.Serializer[dict[str, Any]]):
    start = serializers.CharField()
    sampling_rate = serializers.FloatField(help_text="Hz")
    npts = serializers.IntegerField()
    start_s = serializers.FloatField(help_text="seconds after the reference time")


class TraceFigureSerializer(serializers.Serializer[dict[str, Any]]):
    event = serializers.IntegerField()
    seed_id = serializers.CharField()
    figure = serializers.JSONField(help_text=_FIGURE_HELP)
    rows = WaveformRowSerializer(many=True)
    segments = TraceSegmentSerializer(many=True)
    problems = serializers.ListField(child=serializers.CharField())
    message = serializers.CharField(allow_null=True)
    window = WaveformWindowSerializer()
    saliency = serializers.JSONField(allow_null=True, help_text="the CNN's saliency curve (0-1), when predicted")


class SpectrogramFigureSerializer(serializers.Serializer[dict[str, Any]]):
    event = serializers.IntegerField()
    seed_id = serializers.CharField()
    figure = serializers.JSONField(allow_null=True, help_text=_FIGURE_HELP + "; null without data")
    problems = serializers.ListField(child=serializers.CharField())
    message = serializers.CharField(allow_null=True)


# ---- models and the learning loop --------------------------------------------------------------------------


class TrainingRunSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField(help_text="queued, running, succeeded or failed")
    trigger = serializers.CharField()
    requested_by = serializers.CharField()
    progress = serializers.FloatField(help_text="0-1")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_s = serializers.FloatField(allow_null=True)
    error = serializers.CharField()
    log = serializers.CharField(help_text="the last 4000 characters")
    candidate = serializers.CharField(allow_null=True, help_text="the version it trained")
    compared_with = serializers.CharField(allow_null=True, help_text="the active version it was compared with")
    data_summary = serializers.JSONField()
    promotion_decision = serializers.JSONField()


class TrainingRunDetailSerializer(TrainingRunSerializer):
    candidate_metrics = serializers.JSONField()
    active_metrics = serializers.JSONField(allow_null=True)


class TrainingBusySerializer(serializers.Serializer[dict[str, Any]]):
    detail = serializers.CharField()
    run = TrainingRunSerializer(help_text="the run already queued or running")


class ModelVersionDataSerializer(serializers.Serializer[dict[str, Any]]):
    version = serializers.CharField()
    status = serializers.CharField(help_text="candidate, active or retired")
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField()
    estimator = serializers.CharField()
    promoted_at = serializers.DateTimeField(allow_null=True)
    training_summary = serializers.JSONField()
    trained_on = serializers.IntegerField(allow_null=True, help_text="events (ranker) or windows (CNN)")


class PromotionDataSerializer(serializers.Serializer[dict[str, Any]]):
    action = serializers.CharField()
    version = serializers.CharField()
    previous = serializers.CharField(allow_null=True)
    by = serializers.CharField()
    reason = serializers.CharField()
    at = serializers.DateTimeField()


class ModelDashboardSerializer(serializers.Serializer[dict[str, Any]]):
    kind = serializers.CharField()
    active = ModelVersionDataSerializer(allow_null=True)
    versions = ModelVersionDataSerializer(many=True)
    runs = TrainingRunSerializer(many=True)
    comparison = serializers.JSONField(allow_null=True, help_text="the latest successful run against the active")
    promotions = PromotionDataSerializer(many=True)
    labels = serializers.JSONField(help_text="labels per day (by source) and per decision class")


class PromoteInputSerializer(serializers.Serializer[dict[str, Any]]):
    reason = serializers.CharField(required=False, allow_blank=True, help_text="kept with the promotion (2000 chars)")


class PromoteResultSerializer(serializers.Serializer[dict[str, Any]]):
    action = serializers.CharField(help_text="promote or rollback")
    active = serializers.CharField(help_text="the version now active")
    by = serializers.CharField()


class _EventRowSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    public_id = serializers.CharField()
    origin_time = serializers.DateTimeField(allow_null=True)
    magnitude = serializers.FloatField(allow_null=True)
    event_type = serializers.CharField()
    review_state = serializers.CharField()
    importance = serializers.FloatField(allow_null=True)


class InformativeRowSerializer(_EventRowSerializer):
    entropy = serializers.FloatField()
    margin = serializers.FloatField()
    probabilities = serializers.DictField(child=serializers.FloatField())


class InformativeEventsSerializer(serializers.Serializer[dict[str, Any]]):
    measure = serializers.ChoiceField(choices=["entropy", "margin"])
    results = InformativeRowSerializer(many=True)


class MislabelledRowSerializer(_EventRowSerializer):
    label = serializers.CharField(help_text="the decision class of the analysts' label")  # type: ignore[assignment]  # a field named like Field.label
    model_class = serializers.CharField(help_text="the class the ranker prefers")
    model_probability = serializers.FloatField()
    label_probability = serializers.FloatField()


class MislabelledEventsSerializer(serializers.Serializer[dict[str, Any]]):
    confidence = serializers.FloatField()
    results = MislabelledRowSerializer(many=True)


class RaterAgreementSerializer(serializers.Serializer[dict[str, Any]]):
    pairs = serializers.IntegerField()
    percent_agreement = serializers.FloatField(allow_null=True)
    cohen_kappa = serializers.FloatField(allow_null=True)


class AgreementSerializer(serializers.Serializer[dict[str, Any]]):
    events_decided_more_than_once = serializers.IntegerField()
    events_with_disagreement = serializers.IntegerField()
    between_analysts = RaterAgreementSerializer()
    analyst_vs_catalogue = RaterAgreementSerializer()


class DecisionSerializer(serializers.Serializer[dict[str, Any]]):
    analyst = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.source
    at = serializers.DateTimeField()
    event_type = serializers.CharField()
    certainty = serializers.CharField()
    review_state = serializers.CharField()
    decision_class = serializers.CharField(allow_null=True)
    predicted = serializers.JSONField()


class EventDecisionsSerializer(serializers.Serializer[dict[str, Any]]):
    event_id = serializers.IntegerField()
    public_id = serializers.CharField()
    decisions = DecisionSerializer(many=True)
    label = DecisionSerializer(help_text="the latest decision")  # type: ignore[assignment]  # as above
    disagree = serializers.BooleanField(help_text="the decisions stand for different decision classes")


class LabelAgreementSerializer(serializers.Serializer[dict[str, Any]]):
    agreement = AgreementSerializer()
    events = EventDecisionsSerializer(many=True)
