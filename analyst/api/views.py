"""Review API endpoints: each parses input, calls one selector or service, and answers."""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analyst.api.filters import QueueQuerySerializer, queue_query_parse
from analyst.api.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    CursorError,
    page_size_parse,
    queue_cursor_decode,
    queue_cursor_encode,
)
from analyst.api.permissions import HasSeistriageRole, HasSeniorRole
from analyst.api.schema import (
    ANY_ROLE,
    EVENT_ID,
    FORBIDDEN,
    FORBIDDEN_SENIOR,
    SENIOR_ROLE,
    ApiErrorSerializer,
    ClaimConflictSerializer,
    ClaimReleaseSerializer,
    ClaimSerializer,
    EventEvidenceSerializer,
    EventPresenceSerializer,
    EventStateSerializer,
    ImportJobSerializer,
    ImportUploadSerializer,
    PresenceMapSerializer,
    QueuePageSerializer,
    ReviewConflictSerializer,
    bad_request,
    forbidden,
    id_in_path,
    name_in_path,
    not_found,
)
from analyst.api.serializers import (
    QueueColumnsSerializer,
    ReviewInputSerializer,
    SavedFilterSerializer,
    claim_data,
    event_evidence_data,
    event_state_data,
)
from analyst.models import Event, SavedFilter
from analyst.preferences import queue_columns_get, queue_columns_set, saved_filter_delete, saved_filter_save
from analyst.presence import event_presence_leave, event_presence_record, events_presence_get, presence_seconds
from analyst.review import (
    ClaimBreakForbiddenError,
    EventClaimedError,
    EventVersionConflictError,
    ReviewInputError,
    event_claim,
    event_claim_active,
    event_claim_release,
    event_review,
)
from analyst.selectors_queue import QueueCursor, event_evidence_get, event_queue_page, queue_cursor_for_event
from analyst.uploads import UPLOAD_KINDS, UploadedPart, UploadError, import_job_create, import_job_get


def _user(request: Request) -> User:
    assert isinstance(request.user, User)  # HasSeistriageRole let only a logged-in user through
    return request.user


class RoleApi(APIView):
    permission_classes = [IsAuthenticated, HasSeistriageRole]


def _neighbour_cursor(request: Request, ordering: str) -> tuple[QueueCursor | None, bool]:
    """`after_event`/`before_event`: the queue continues from an event, forwards or backwards."""
    for name, backward in (("after_event", False), ("before_event", True)):
        raw = request.query_params.get(name)
        if raw:
            if not raw.isdigit():
                raise ValidationError({name: f"an event id, got {raw!r}"})
            cursor = queue_cursor_for_event(ordering=ordering, event_id=int(raw))
            if cursor is None:
                raise NotFound(f"{name}: no event {raw}")
            return cursor, backward
    token = request.query_params.get("cursor")
    if not token:
        return None, False
    try:
        return queue_cursor_decode(token, ordering=ordering), False
    except CursorError as error:
        raise ValidationError({"cursor": str(error)}) from None


class EventQueueApi(RoleApi):
    @extend_schema(
        operation_id="events_list",
        summary="The review queue: events filtered and ordered, one keyset page at a time",
        description=f"{ANY_ROLE} Filters combine (AND); pages continue with `cursor` (the previous page's "
        "`next`) or from an event with `after_event`/`before_event`. Errors: 400 naming the parameter (bad "
        "filter, limit or cursor), 403, 404 when `after_event`/`before_event` names no event in this ordering.",
        parameters=[
            QueueQuerySerializer,
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"page size, 1-{MAX_PAGE_SIZE} "
                             f"(default {DEFAULT_PAGE_SIZE})"),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="the `next` of the previous page (same "
                             "ordering); opaque"),
            OpenApiParameter("after_event", OpenApiTypes.INT, description="start after this event id "
                             "(its place in this ordering)"),
            OpenApiParameter("before_event", OpenApiTypes.INT, description="the page before this event id"),
            OpenApiParameter("total", OpenApiTypes.STR, enum=["0", "1"], description="0: skip counting the "
                             "matching events (faster); approximate_total is then the page's row count"),
        ],
        responses={
            200: QueuePageSerializer,
            400: bad_request("a filter, limit or cursor is invalid",
                             example={"limit": f"limit: a whole number from 1 to {MAX_PAGE_SIZE}, got '0'"}),
            403: FORBIDDEN,
            404: not_found("after_event/before_event names no event"),
        },
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        filters, ordering = queue_query_parse(params=request.query_params, username=_user(request).get_username())
        try:
            limit = page_size_parse(request.query_params.get("limit"))
        except CursorError as error:
            raise ValidationError({"limit": str(error)}) from None
        after, backward = _neighbour_cursor(request, ordering)
        page = event_queue_page(
            filters=filters, ordering=ordering, after=after, limit=limit, backward=backward,
            with_total=request.query_params.get("total", "1") != "0",
        )  # fmt: skip
        return Response({
            "ordering": page.ordering,
            "results": page.rows,
            "next": queue_cursor_encode(page.next) if page.next is not None else None,
            "approximate_total": page.approximate_total,
            "total_is_exact": page.total_is_exact,
            "generated_at": page.generated_at,
        })  # fmt: skip


class EventEvidenceApi(RoleApi):
    @extend_schema(
        operation_id="events_retrieve",
        summary="One event with all its evidence",
        description=f"{ANY_ROLE} Origins, magnitudes, picks, arrivals, stations, the latest score, labels, the "
        "review history and the current claim. Errors: 403; 404 for an unknown event.",
        parameters=[EVENT_ID],
        responses={200: EventEvidenceSerializer, 403: FORBIDDEN, 404: not_found("no event with this id")},
    )
    def get(self, request: Request, event_id: int) -> Response:
        try:
            event = event_evidence_get(event_id=event_id)
        except Event.DoesNotExist:
            raise NotFound(f"no event {event_id}") from None
        return Response(event_evidence_data(event))


def _conflict(detail: str, event_id: int, **extra: Any) -> Response:
    event = Event.objects.get(pk=event_id)
    state = event_state_data(event, event_claim_active(event_id=event_id))
    return Response({"detail": detail, "event": state, **extra}, status=status.HTTP_409_CONFLICT)


class EventReviewApi(RoleApi):
    @extend_schema(
        summary="Decide on an event: accept (with a type and certainty) or reject",
        description=f"{ANY_ROLE} Send the `version` you looked at; the decision is refused with 409 when the event "
        "changed since (the answer carries its current state) or another analyst holds a claim on it. Errors: "
        "400 naming the field, 403, 404 for an unknown event, 409.",
        parameters=[EVENT_ID],
        request=ReviewInputSerializer,
        responses={
            200: OpenApiResponse(EventStateSerializer, description="the event after the decision"),
            400: bad_request("a field is invalid", example={"decision": ['"maybe" is not a valid choice.']}),
            403: FORBIDDEN,
            404: not_found("no event with this id"),
            409: OpenApiResponse(ReviewConflictSerializer, description="stale version, or claimed by another"),
        },
    )  # fmt: skip
    def post(self, request: Request, event_id: int) -> Response:
        given = ReviewInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            event = event_review(
                event_id=event_id, user=_user(request), version=data["version"], decision=data["decision"],
                event_type=data.get("event_type", ""), certainty=data.get("certainty", ""),
                comment=data.get("comment", ""),
            )  # fmt: skip
        except Event.DoesNotExist:
            raise NotFound(f"no event {event_id}") from None
        except ReviewInputError as error:
            raise ValidationError({error.field: [error.message]}) from None
        except EventClaimedError as error:
            holder = error.claim.user.get_username()
            return _conflict(f"{holder} is reviewing this event (claimed); wait or ask a senior analyst", event_id)
        except EventVersionConflictError as error:
            return _conflict(
                f"this event changed since you opened it (you saw version {data['version']}, it is now at "
                f"version {error.event.version}); look at the current state before deciding again",
                event_id,
            )
        return Response(event_state_data(event, event_claim_active(event_id=event_id)))


class EventClaimApi(RoleApi):
    @extend_schema(
        summary="Claim an event while reviewing it (or renew your claim)",
        description=f"{ANY_ROLE} Other analysts see the claim and cannot decide on the event until it is "
        "released or expires. Errors: 403; 404 for an unknown event; 409 when someone else holds it.",
        parameters=[EVENT_ID],
        request=None,
        responses={
            200: ClaimSerializer,
            403: FORBIDDEN,
            404: not_found("no event with this id"),
            409: OpenApiResponse(ClaimConflictSerializer, description="another analyst holds the event"),
        },
    )
    def post(self, request: Request, event_id: int) -> Response:
        try:
            claim = event_claim(event_id=event_id, user=_user(request))
        except Event.DoesNotExist:
            raise NotFound(f"no event {event_id}") from None
        except EventClaimedError as error:
            holder = error.claim.user.get_username()
            return Response(
                {"detail": f"{holder} holds this event", "claim": claim_data(error.claim)},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(claim_data(claim))

    @extend_schema(
        summary="Release your claim on an event (senior analysts: break anyone's)",
        description=f"{ANY_ROLE} Releasing another analyst's claim needs the senior analyst or admin role. "
        "Errors: 403 (no role, or someone else's claim without the senior role); 404 for an unknown event.",
        parameters=[EVENT_ID],
        request=None,
        responses={
            200: ClaimReleaseSerializer,
            403: forbidden("or the claim is someone else's and the user is not a senior analyst"),
            404: not_found("no event with this id"),
        },
    )
    def delete(self, request: Request, event_id: int) -> Response:
        try:
            outcome = event_claim_release(event_id=event_id, user=_user(request))
        except Event.DoesNotExist:
            raise NotFound(f"no event {event_id}") from None
        except ClaimBreakForbiddenError as error:
            return Response({"detail": str(error)}, status=status.HTTP_403_FORBIDDEN)
        return Response({"released": outcome.released, "broken": outcome.broken})


class SavedFilterListApi(RoleApi):
    @extend_schema(
        summary="Your saved queue filters",
        description=f"{ANY_ROLE} Only the asking user's filters, by name. Errors: 403.",
        responses={200: SavedFilterSerializer(many=True), 403: FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        saved = SavedFilter.objects.filter(user=_user(request)).order_by("name")
        return Response(SavedFilterSerializer(saved, many=True).data)

    @extend_schema(
        summary="Save a queue filter under a name (replacing yours of that name)",
        description=f"{ANY_ROLE} `query` is the queue's query string (a leading '?' is dropped). Errors: 400 "
        "naming the field, 403.",
        request=SavedFilterSerializer,
        responses={201: SavedFilterSerializer, 400: bad_request("a field is invalid"), 403: FORBIDDEN},
    )
    def post(self, request: Request) -> Response:
        given = SavedFilterSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        saved = saved_filter_save(user=_user(request), name=given.validated_data["name"],
                                  query=given.validated_data.get("query", ""))  # fmt: skip
        return Response(SavedFilterSerializer(saved).data, status=status.HTTP_201_CREATED)


class SavedFilterApi(RoleApi):
    @extend_schema(
        summary="Delete one of your saved filters",
        description=f"{ANY_ROLE} Errors: 403; 404 when the filter is not yours or does not exist.",
        parameters=[id_in_path("saved_filter_id", "the saved filter's id")],
        request=None,
        responses={204: OpenApiResponse(description="deleted"), 403: FORBIDDEN,
                   404: not_found("no saved filter of yours with this id")},
    )  # fmt: skip
    def delete(self, request: Request, saved_filter_id: int) -> Response:
        if not saved_filter_delete(user=_user(request), saved_filter_id=saved_filter_id):
            raise NotFound(f"no saved filter {saved_filter_id} of yours")
        return Response(status=status.HTTP_204_NO_CONTENT)


class QueueColumnsApi(RoleApi):
    @extend_schema(
        summary="Your queue columns, in order",
        description=f"{ANY_ROLE} Errors: 403.",
        responses={200: QueueColumnsSerializer, 403: FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        return Response({"columns": queue_columns_get(user=_user(request))})

    @extend_schema(
        summary="Choose and order your queue columns",
        description=f"{ANY_ROLE} Each column once, from the queue's columns. Errors: 400 naming the field, 403.",
        request=QueueColumnsSerializer,
        responses={
            200: QueueColumnsSerializer,
            400: bad_request("an unknown, repeated or missing column",
                             example={"columns": ["a column is listed twice"]}),
            403: FORBIDDEN,
        },
    )  # fmt: skip
    def put(self, request: Request) -> Response:
        given = QueueColumnsSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        return Response({"columns": queue_columns_set(user=_user(request), columns=given.validated_data["columns"])})


class EventPresenceApi(RoleApi):
    """Heartbeat of an open event page: answers who else is looking at the event."""

    @extend_schema(
        summary="Heartbeat: I am looking at this event; who else is?",
        description=f"{ANY_ROLE} Send every few seconds while the event page is open. Errors: 403; 404 for an "
        "unknown event.",
        parameters=[EVENT_ID],
        request=None,
        responses={200: EventPresenceSerializer, 403: FORBIDDEN, 404: not_found("no event with this id")},
    )
    def post(self, request: Request, event_id: int) -> Response:
        if not Event.objects.filter(pk=event_id).exists():
            raise NotFound(f"no event {event_id}")
        others = event_presence_record(event_id=event_id, username=_user(request).get_username())
        return Response({"others": others, "seconds": presence_seconds()})

    @extend_schema(
        summary="I left this event's page",
        description=f"{ANY_ROLE} Errors: 403.",
        parameters=[EVENT_ID],
        request=None,
        responses={204: OpenApiResponse(description="noted"), 403: FORBIDDEN},
    )
    def delete(self, request: Request, event_id: int) -> Response:
        event_presence_leave(event_id=event_id, username=_user(request).get_username())
        return Response(status=status.HTTP_204_NO_CONTENT)


MAX_PRESENCE_EVENTS = 500


class PresenceApi(RoleApi):
    """`?events=1,2,3`: who is looking at each of these events (those nobody looks at are left out)."""

    @extend_schema(
        summary="Who is looking at each of these events",
        description=f"{ANY_ROLE} Errors: 400 (`events` not a list of ids, or too many), 403.",
        parameters=[OpenApiParameter("events", OpenApiTypes.STR, description=f"up to {MAX_PRESENCE_EVENTS} "
                                     "event ids separated by commas, e.g. 12,15,40")],
        responses={200: PresenceMapSerializer, 400: bad_request("`events` is not a list of event ids"),
                   403: FORBIDDEN},
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        raw = [part.strip() for part in request.query_params.get("events", "").split(",") if part.strip()]
        if not all(part.isdigit() for part in raw) or len(raw) > MAX_PRESENCE_EVENTS:
            raise ValidationError({"events": f"up to {MAX_PRESENCE_EVENTS} event ids separated by commas"})
        found = events_presence_get(event_ids=[int(part) for part in raw])
        return Response({"events": {str(event_id): names for event_id, names in found.items()}})


# An upload body far beyond what its files may weigh is refused before Django spools it to disk.
MAX_FILES_PER_UPLOAD = 50


class ImportJobListApi(APIView):
    """POST multipart files under `events`, `stations` and `waveforms` (and `reviewed=true` for a reviewed
    catalogue): 202 with the job, imported in the background; 400 naming the file when one is refused."""

    permission_classes = [IsAuthenticated, HasSeniorRole]
    parser_classes = [MultiPartParser]

    @extend_schema(
        summary="Upload event, station and waveform files to import in the background",
        description=f"{SENIOR_ROLE} Every file is checked before any is kept; the import runs in a worker "
        "(follow it at /api/imports/{job_id}/). Errors: 400 naming the refused file, 403, 413 when the upload "
        "is too large.",
        request={"multipart/form-data": ImportUploadSerializer},
        responses={
            202: OpenApiResponse(ImportJobSerializer, description="the job, queued"),
            400: bad_request("no files, too many files, or a file refused (named)", example={
                "files": ["quakes.txt: not a waveform file (no ObsPy waveform reader recognises it)"]}),
            403: FORBIDDEN_SENIOR,
            413: OpenApiResponse(ApiErrorSerializer, description="the upload is too large"),
        },
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > MAX_FILES_PER_UPLOAD * settings.SEISTRIAGE_MAX_UPLOAD_BYTES:
            return Response({"detail": "the upload is too large"}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        parts = [UploadedPart(kind, upload) for kind in UPLOAD_KINDS for upload in request.FILES.getlist(kind)]
        if len(parts) > MAX_FILES_PER_UPLOAD:
            raise ValidationError({"files": [f"at most {MAX_FILES_PER_UPLOAD} files per upload"]})
        reviewed = str(request.data.get("reviewed", "")).lower() in ("true", "on", "1")
        try:
            job = import_job_create(user=_user(request), parts=parts, reviewed=reviewed)
        except UploadError as error:
            raise ValidationError({"files": [str(error)]}) from None
        return Response(job, status=status.HTTP_202_ACCEPTED)


class ImportJobApi(APIView):
    permission_classes = [IsAuthenticated, HasSeniorRole]

    @extend_schema(
        summary="An import job's progress and per-file outcome",
        description=f"{SENIOR_ROLE} Jobs are kept for a week. Errors: 403; 404 for an unknown or expired job.",
        parameters=[name_in_path("job_id", "the job id returned by the upload")],
        responses={200: ImportJobSerializer, 403: FORBIDDEN_SENIOR, 404: not_found("no such job (or expired)")},
    )  # fmt: skip
    def get(self, request: Request, job_id: str) -> Response:
        job = import_job_get(job_id=job_id)
        if job is None:
            raise NotFound(f"no import job {job_id} (jobs are kept for a week)")
        return Response(job)
