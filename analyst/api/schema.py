"""OpenAPI declarations of the API (drf-spectacular): answers' components generated from the TypedDicts the code
returns (`typed_response`), the error answers every endpoint shares, and path parameters described once.

Every endpoint needs a logged-in user (session or `Authorization: Token <key>`) with a Seistriage role; DRF
answers 403 both to a stranger (session authentication comes first, so no 401 challenge) and to an outsider.
"""

import datetime as dt
import functools
import types
import typing
from collections.abc import Callable
from typing import Any

from django.db.models import Model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from analyst.api.serializers import EventEvidence, EventState
from analyst.selectors.queue import QueueRow
from events.models import Event
from ranking.models import ModelVersion

ANY_ROLE = "Who: any Seistriage role (analyst, senior analyst or admin)."
SENIOR_ROLE = "Who: senior analysts and admins."


# ---- errors ------------------------------------------------------------------------------------------------


class ApiErrorSerializer(serializers.Serializer[dict[str, Any]]):
    detail = serializers.CharField(help_text="what went wrong, in words")


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


# ---- request bodies (the views read these themselves; documented here) -------------------------------------


class ImportUploadSerializer(serializers.Serializer[dict[str, Any]]):
    events = serializers.ListField(child=serializers.FileField(), required=False, help_text="event catalogues")
    stations = serializers.ListField(child=serializers.FileField(), required=False, help_text="StationXML etc.")
    waveforms = serializers.ListField(child=serializers.FileField(), required=False, help_text="miniSEED etc.")
    reviewed = serializers.BooleanField(required=False, help_text="true: the catalogue's decisions are reviews")


class PromoteInputSerializer(serializers.Serializer[dict[str, Any]]):
    reason = serializers.CharField(required=False, allow_blank=True, help_text="kept with the promotion (2000 chars)")


# ---- answers from their types ------------------------------------------------------------------------------
# An answer's shape is the TypedDict its selector or service returns; its OpenAPI component is generated from that
# type here, so the code and its documentation cannot drift apart. In a payload's TypedDict:
# - `Annotated[T, "text"]` gives the field a description; `Annotated[str, "date-time"]` is an ISO 8601 string;
#   `Annotated[list[...], SomeModelSerializer]`: rows that model serializer wrote, described by it;
# - `T | None` is nullable, `NotRequired[T]` optional, `Literal[...]` an enum, `Any` arbitrary JSON.

_SCALAR_FIELDS: dict[object, type[serializers.Field[Any, Any, Any, Any]]] = {
    bool: serializers.BooleanField,
    int: serializers.IntegerField,
    float: serializers.FloatField,
    str: serializers.CharField,
    dt.datetime: serializers.DateTimeField,
    dt.date: serializers.DateField,
}


def _is_typeddict(hint: object) -> bool:
    return isinstance(hint, type) and typing.is_typeddict(hint)


def _field(hint: object, **options: Any) -> serializers.Field[Any, Any, Any, Any]:
    """The serializer field documenting a value of type `hint`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        metadata = hint.__metadata__  # type: ignore[attr-defined]
        if "date-time" in metadata:  # an ISO 8601 string the code formatted itself
            nullable = type(None) in typing.get_args(args[0])
            return _field(dt.datetime | None if nullable else dt.datetime, **options)
        texts = [meta for meta in metadata if isinstance(meta, str)]
        options |= {"help_text": texts[0]} if texts else {}
        made_by = [meta for meta in metadata if isinstance(meta, type) and issubclass(meta, serializers.BaseSerializer)]
        if made_by:  # rows a model serializer wrote: that serializer describes them
            return made_by[0](many=typing.get_origin(args[0]) is list, **options)
        return _field(args[0], **options)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = [arg for arg in args if arg is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"a payload value is one type or None, got {hint}")
        return _field(rest[0], allow_null=True, **options)
    if _is_typeddict(hint):
        return typed_response(typing.cast(type, hint))(**options)
    if origin is list:
        if _is_typeddict(args[0]):
            return typed_response(args[0])(many=True, **options)
        return serializers.ListField(child=_field(args[0]), **options)
    if origin is dict:
        if args[1] is Any:  # arbitrary JSON objects (feature vectors, metrics): any values
            return serializers.DictField(**options)
        return serializers.DictField(child=_field(args[1]), **options)
    if origin is typing.Literal:
        return serializers.ChoiceField(choices=list(args), **options)
    if hint is Any:  # JSON whose shape the code does not fix (Plotly figures, stored JSON)
        return serializers.JSONField(**options)
    if hint in _SCALAR_FIELDS:
        return _SCALAR_FIELDS[hint](**options)
    raise TypeError(f"no OpenAPI field for the payload type {hint}")


# Payloads that carry a model's fields: the model field describes them (its enum, length and help text).
PAYLOAD_MODELS: dict[type, type[Model]] = {EventState: Event, EventEvidence: Event, QueueRow: Event}


@functools.cache
def typed_response(payload: type) -> type[serializers.Serializer[Any]]:
    """A serializer documenting the TypedDict `payload` (component named after it), for `extend_schema`.
    Documentation only: the views return the TypedDict itself."""
    model = PAYLOAD_MODELS.get(payload)
    hints = typing.get_type_hints(payload, include_extras=True)
    required = payload.__required_keys__  # type: ignore[attr-defined]
    model_fields = {field.name for field in model._meta.concrete_fields} if model else set()
    declared: dict[str, Any] = {}
    for name, hint in hints.items():
        if typing.get_origin(hint) is typing.NotRequired:
            hint = typing.get_args(hint)[0]
        if name not in model_fields:
            declared[name] = _field(hint, required=name in required)
    if model is None:
        return type(f"{payload.__name__}Serializer", (serializers.Serializer,), declared)
    meta = type("Meta", (), {"model": model, "fields": tuple(hints)})
    body = {**declared, "Meta": meta, "get_fields": _all_required(frozenset(required))}
    return typing.cast(
        type[serializers.Serializer[Any]],
        type(f"{payload.__name__}Serializer", (serializers.ModelSerializer,), body),
    )


def _all_required(required: frozenset[str]) -> Callable[[serializers.ModelSerializer[Any]], dict[str, Any]]:
    """A model field the payload always carries is required in the answer, whatever its default."""

    def get_fields(self: serializers.ModelSerializer[Any]) -> dict[str, Any]:
        fields: dict[str, Any] = serializers.ModelSerializer.get_fields(self)
        for name, field in fields.items():
            field.required = name in required
        return fields

    return get_fields
