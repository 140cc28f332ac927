"""The bulletins API: analysts ask a worker for drafts (or stream a small one), senior analysts ask a worker to
publish (the file kept with its SHA-256 and downloadable again byte for byte); both answer 202 with a job to poll.
An outsider gets 403. The page (analyst/views/bulletins.py) shares its input and responses."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
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
    ApiErrorSerializer,
    bad_request,
    forbidden,
    id_in_path,
    name_in_path,
    not_found,
    typed_response,
)
from analyst.bulletins.jobs import BulletinJobData, bulletin_job_create, bulletin_job_get, bulletin_visible
from analyst.bulletins.selection import EventCriteria, bulletin_get, bulletins_published, events_select
from analyst.bulletins.services import (
    STATUS_CHOICES,
    BulletinInputError,
    bulletin_criteria,
    bulletin_file,
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


def _download_name(bulletin: Bulletin) -> str:
    """A published bulletin keeps its stored name; a draft is named after its window, as a streamed draft is."""
    if bulletin.kind == Bulletin.Kind.PUBLISHED:
        return Path(bulletin.file_path).name
    start, end = (str(bulletin.filters.get(key, ""))[:10].replace("-", "") for key in ("start", "end"))
    return f"seistriage-draft-{start}-{end}.{WRITERS[bulletin.format].extension}"


def stored_file_response(bulletin: Bulletin, user: User) -> FileResponse:
    """The bulletin's file; 404 for a draft of another user, as for one whose file has gone."""
    if not bulletin_visible(bulletin=bulletin, user=user):
        raise Http404(f"no bulletin {bulletin.pk}")
    try:
        path = bulletin_file(bulletin=bulletin)
    except FileNotFoundError:
        raise Http404("the bulletin's file is no longer on disk") from None
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=_download_name(bulletin),
        content_type=WRITERS[bulletin.format].content_type,
    )


def bulletin_job_from(data: dict[str, Any], user: User, *, published: bool) -> BulletinJobData:
    return bulletin_job_create(
        user=user, format=data["format"], criteria=data["criteria"], status=data["status"], published=published
    )


def _accepted(job: BulletinJobData) -> Response:
    return Response(job, status=status.HTTP_202_ACCEPTED, headers={"Location": job["status_url"]})


_JOB_ACCEPTED = typed_response(BulletinJobData)
_JOB_HOW = (
    "A worker writes the file: the answer is 202 with the job; poll its `status_url` until `state` is `done` "
    "(then `file_url` downloads it) or `failed` (then `error` says why)."
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
        summary="Publish a bulletin: a worker writes the selected events to a file and records it",
        description=f"{SENIOR_ROLE} (reading the list needs any role). By default only accepted events; "
        "`status=all` adds unreviewed and rejected ones (rejected as type `not existing`). The file is kept and "
        f"can be downloaded again byte for byte. {_JOB_HOW} Errors: 400 naming the field (nothing is queued), 403.",
        request=BulletinRequestSerializer,
        responses={
            202: _JOB_ACCEPTED,
            400: bad_request("a field is invalid", example={"end": ["must be after start"]}),
            403: forbidden("or the user is not a senior analyst or admin (publishing needs that role)"),
        },
    )
    def post(self, request: Request) -> Response:
        form = BulletinRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        return _accepted(bulletin_job_from(form.validated_data, request.user, published=True))


class BulletinDraftApi(APIView):
    """POST: a worker writes a draft of the selected events for you (not published, kept a few days)."""

    permission_classes = [IsAuthenticated, HasSeistriageRole]

    @extend_schema(
        summary="Ask a worker for a draft bulletin of the selected events (any size)",
        description=f"{ANY_ROLE} The draft is not published: only you can download it, for "
        f"SEISTRIAGE_BULLETIN_DRAFT_DAYS days. {_JOB_HOW} Errors: 400 naming the field (nothing is queued), 403.",
        request=BulletinRequestSerializer,
        responses={
            202: _JOB_ACCEPTED,
            400: bad_request("a field is invalid", example={"end": ["must be after start"]}),
            403: FORBIDDEN,
        },
    )
    def post(self, request: Request) -> Response:
        form = BulletinRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        return _accepted(bulletin_job_from(form.validated_data, request.user, published=False))


class BulletinJobApi(APIView):
    """GET: a bulletin job's state, and its file once written (the user who asked for it only)."""

    permission_classes = [IsAuthenticated, HasSeistriageRole]

    @extend_schema(
        summary="A bulletin job's state; its file once the worker has written it",
        description=f"{ANY_ROLE} Only the user who asked for the job sees it. Errors: 403; 404 for an unknown job "
        "or another user's.",
        parameters=[name_in_path("bulletin_job_id", "the job id returned by the draft or publish request")],
        responses={200: _JOB_ACCEPTED, 403: FORBIDDEN, 404: not_found("no such job of yours")},
    )
    def get(self, request: Request, bulletin_job_id: str) -> Response:
        assert isinstance(request.user, User)
        job = bulletin_job_get(job_id=bulletin_job_id, user=request.user)
        if job is None:
            raise NotFound(f"no bulletin job {bulletin_job_id}")
        return Response(job)


class BulletinFileApi(APIView):
    """The stored file of a bulletin, byte for byte as published (its SHA-256 is in the bulletin record)."""

    permission_classes = [IsAuthenticated, HasSeistriageRole]

    @extend_schema(
        summary="Download a published bulletin's file, byte for byte",
        description=f"{ANY_ROLE} Its SHA-256 is in the bulletin record. A draft downloads for the user who asked "
        "for it only. Errors: 403; 404 for an unknown bulletin, another user's draft, or a file no longer on disk.",
        parameters=[id_in_path("bulletin_id", "the published bulletin's id")],
        responses={**_BULLETIN_FILES, 403: FORBIDDEN, 404: not_found("no such bulletin, or its file is gone")},
    )
    def get(self, request: Request, bulletin_id: int) -> FileResponse:
        bulletin = bulletin_get(bulletin_id=bulletin_id)
        if bulletin is None:
            raise NotFound(f"no bulletin {bulletin_id}")
        assert isinstance(request.user, User)
        return stored_file_response(bulletin, request.user)


class _FormatNamesTheBulletin(DefaultContentNegotiation):
    """Here `?format=` is the bulletin's format, not DRF's choice of renderer."""

    settings = APISettings(user_settings={"URL_FORMAT_OVERRIDE": None})  # type: ignore[assignment,arg-type]


class BulletinExportApi(APIView):
    """A draft bulletin of the selected events, streamed and not recorded (any role)."""

    permission_classes = [IsAuthenticated, HasSeistriageRole]
    content_negotiation_class = _FormatNamesTheBulletin

    @extend_schema(
        summary="Export a small draft bulletin of the selected events (streamed, not recorded)",
        description=f"{ANY_ROLE} Here `format` is the bulletin format, not a renderer choice. The file streams "
        "as it is written, within the request, so only up to SEISTRIAGE_BULLETIN_STREAM_MAX_EVENTS events (2,000 "
        "by default); ask a worker for larger drafts with POST /api/bulletins/drafts/. Errors: 400 naming the "
        "parameter, 403, 413 when the selection holds more events than that.",
        parameters=[BulletinRequestSerializer],
        responses={
            **_BULLETIN_FILES,
            400: bad_request("a parameter is invalid", example={"format": ['"pdf" is not a valid choice.']}),
            403: FORBIDDEN,
            413: OpenApiResponse(ApiErrorSerializer, description="too many events to stream: ask a worker"),
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse | Response:
        form = BulletinRequestSerializer(data=request.query_params)
        form.is_valid(raise_exception=True)
        assert isinstance(request.user, User)
        limit = settings.SEISTRIAGE_BULLETIN_STREAM_MAX_EVENTS
        count = events_select(criteria=form.validated_data["criteria"]).count()
        if count > limit:
            detail = (
                f"the selection holds {count} events, more than the {limit} a draft streams within the request: "
                "POST the same fields to /api/bulletins/drafts/ and a worker writes it"
            )
            return Response({"detail": detail}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        return draft_response(form.validated_data, request.user)
