"""The bulletins API: analysts download drafts (streamed, not recorded), senior analysts publish
(the file kept with its SHA-256 and downloadable again byte for byte); an outsider gets 403.
The page (analyst/views/bulletins.py) shares its input and responses."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import APISettings
from rest_framework.views import APIView

from analyst.api.permissions import HasSeistriageRole, HasSeniorRole
from analyst.api.schema import (
    ANY_ROLE,
    FORBIDDEN,
    GEOJSON_BULLETIN,
    SENIOR_ROLE,
    bad_request,
    forbidden,
    id_in_path,
    not_found,
)
from analyst.bulletins.selection import EventCriteria, bulletin_get, bulletins_published
from analyst.bulletins.services import (
    STATUS_CHOICES,
    BulletinInputError,
    bulletin_criteria,
    bulletin_file,
    bulletin_publish,
    bulletin_stream,
)
from analyst.bulletins.writers import BULLETIN_FORMATS, WRITERS
from analyst.models import Bulletin
from events.vocabulary import QUAKEML_EVENT_TYPES

# The media types bulletins are served as (one per format; QuakeML and SC3ML share application/xml); GeoJSON is
# a JSON object, the others are files.
_BULLETIN_FILES = {
    (200, media): GEOJSON_BULLETIN if media.endswith("json") else OpenApiTypes.BINARY
    for media in sorted({writer.content_type for writer in WRITERS.values()})
}


class BulletinRequestSerializer(serializers.Serializer[dict[str, Any]]):
    """What to put in a bulletin: a time window (UTC, inclusive), a format, which review states and filters."""

    start = serializers.DateTimeField(help_text="origin time from (UTC, inclusive)")
    end = serializers.DateTimeField(help_text="origin time until (UTC, inclusive)")
    format = serializers.ChoiceField(choices=BULLETIN_FORMATS, help_text="the bulletin's file format")
    status = serializers.ChoiceField(
        choices=tuple(STATUS_CHOICES), default="accepted", help_text="accepted, or all: also unreviewed and rejected"
    )
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=QUAKEML_EVENT_TYPES),
        required=False,
        help_text="only these QuakeML event types (repeat the parameter for several); default all",
    )
    min_magnitude = serializers.FloatField(
        required=False, allow_null=True, min_value=-10, max_value=12, help_text="smallest preferred magnitude"
    )
    max_magnitude = serializers.FloatField(
        required=False, allow_null=True, min_value=-10, max_value=12, help_text="largest preferred magnitude"
    )
    min_latitude = serializers.FloatField(
        required=False, allow_null=True, min_value=-90, max_value=90, help_text="box: southern edge, degrees"
    )
    max_latitude = serializers.FloatField(
        required=False, allow_null=True, min_value=-90, max_value=90, help_text="box: northern edge, degrees"
    )
    min_longitude = serializers.FloatField(
        required=False, allow_null=True, min_value=-180, max_value=180, help_text="box: western edge, degrees"
    )
    max_longitude = serializers.FloatField(
        required=False, allow_null=True, min_value=-180, max_value=180, help_text="box: eastern edge, degrees"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        filters = {k: v for k, v in attrs.items() if k not in {"start", "end", "format", "status"} and v is not None}
        filters["event_types"] = tuple(filters.get("event_types", ()))
        try:
            attrs["criteria"] = bulletin_criteria(
                start=attrs["start"], end=attrs["end"], status=attrs["status"], **filters
            )
        except BulletinInputError as error:
            field, _, message = str(error).partition(": ")
            raise serializers.ValidationError({field: message}) from None
        return attrs


class BulletinSerializer(serializers.ModelSerializer[Bulletin]):
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(slug_field="username", read_only=True)
    file_url = serializers.SerializerMethodField()

    class Meta:
        model = Bulletin
        fields = [
            "id",
            "public_id",
            "kind",
            "format",
            "created_by",
            "created_at",
            "filters",
            "event_count",
            "sha256",
            "size_bytes",
            "file_url",
        ]

    def get_file_url(self, bulletin: Bulletin) -> str:
        return reverse("api-bulletin-file", args=[bulletin.pk])


def draft_response(data: dict[str, Any], user: User) -> StreamingHttpResponse:
    criteria: EventCriteria = data["criteria"]
    pieces: Iterator[bytes] = bulletin_stream(
        format=data["format"], criteria=criteria, status=data["status"], author=user.get_username()
    )
    writer = WRITERS[data["format"]]
    start: dt.datetime = data["start"]
    end: dt.datetime = data["end"]
    response = StreamingHttpResponse(pieces, content_type=writer.content_type)
    name = f"seistriage-draft-{start:%Y%m%d}-{end:%Y%m%d}.{writer.extension}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def stored_file_response(bulletin: Bulletin) -> FileResponse:
    try:
        path = bulletin_file(bulletin=bulletin)
    except FileNotFoundError:
        raise Http404("the bulletin's file is no longer on disk") from None
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=Path(bulletin.file_path).name,
        content_type=WRITERS[bulletin.format].content_type,
    )


def bulletin_publish_from(data: dict[str, Any], user: User) -> Bulletin:
    return bulletin_publish(
        user=user, format=data["format"], criteria=data["criteria"], status=data["status"], published=True
    )


class BulletinListApi(APIView):
    """GET: the published bulletins, newest first (any role). POST: publish one (senior analysts)."""

    def get_permissions(self) -> list[BasePermission]:
        senior = [HasSeniorRole()] if self.request.method == "POST" else []
        return [IsAuthenticated(), HasSeistriageRole(), *senior]

    @extend_schema(
        summary="Published bulletins, newest first",
        description=f"{ANY_ROLE} Each with who published it and when, its selection, event count, size and SHA-256, "
        "and the URL of its stored file. Errors: 403.",
        responses={200: BulletinSerializer(many=True), 403: FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        return Response(BulletinSerializer(bulletins_published(), many=True).data)

    @extend_schema(
        summary="Publish a bulletin: write the selected events to a file and record it",
        description=f"{SENIOR_ROLE} (reading the list needs any role). By default only accepted events; "
        "`status=all` adds unreviewed and rejected ones (rejected as type `not existing`). The file is kept and "
        "can be downloaded again byte for byte. Errors: 400 naming the field (nothing is written), 403.",
        request=BulletinRequestSerializer,
        responses={
            201: BulletinSerializer,
            400: bad_request("a field is invalid", example={"end": ["must be after start"]}),
            403: forbidden("or the user is not a senior analyst or admin (publishing needs that role)"),
        },
    )
    def post(self, request: Request) -> Response:
        form = BulletinRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        bulletin = bulletin_publish_from(form.validated_data, request.user)
        return Response(BulletinSerializer(bulletin).data, status=status.HTTP_201_CREATED)


class BulletinFileApi(APIView):
    """The stored file of a bulletin, byte for byte as published (its SHA-256 is in the bulletin record)."""

    permission_classes = [IsAuthenticated, HasSeistriageRole]

    @extend_schema(
        summary="Download a published bulletin's file, byte for byte",
        description=f"{ANY_ROLE} Its SHA-256 is in the bulletin record. Errors: 403; 404 for an unknown bulletin "
        "or one whose file is no longer on disk.",
        parameters=[id_in_path("bulletin_id", "the published bulletin's id")],
        responses={**_BULLETIN_FILES, 403: FORBIDDEN, 404: not_found("no such bulletin, or its file is gone")},
    )
    def get(self, request: Request, bulletin_id: int) -> FileResponse:
        bulletin = bulletin_get(bulletin_id=bulletin_id)
        if bulletin is None:
            raise NotFound(f"no bulletin {bulletin_id}")
        return stored_file_response(bulletin)


class _FormatNamesTheBulletin(DefaultContentNegotiation):
    """Here `?format=` is the bulletin's format, not DRF's choice of renderer."""

    settings = APISettings(user_settings={"URL_FORMAT_OVERRIDE": None})  # type: ignore[assignment,arg-type]


class BulletinExportApi(APIView):
    """A draft bulletin of the selected events, streamed and not recorded (any role)."""

    permission_classes = [IsAuthenticated, HasSeistriageRole]
    content_negotiation_class = _FormatNamesTheBulletin

    @extend_schema(
        summary="Export a draft bulletin of the selected events (streamed, not recorded)",
        description=f"{ANY_ROLE} Here `format` is the bulletin format, not a renderer choice. The file streams "
        "as it is written, so a long window does not load into memory. Errors: 400 naming the parameter, 403.",
        parameters=[BulletinRequestSerializer],
        responses={
            **_BULLETIN_FILES,
            400: bad_request("a parameter is invalid", example={"format": ['"pdf" is not a valid choice.']}),
            403: FORBIDDEN,
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        form = BulletinRequestSerializer(data=request.query_params)
        form.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        return draft_response(form.validated_data, request.user)
