"""Review API endpoints: each parses input, calls one selector or service, and answers."""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analyst.api.filters import queue_query_parse
from analyst.api.pagination import CursorError, page_size_parse, queue_cursor_decode, queue_cursor_encode
from analyst.api.permissions import HasSeistriageRole, HasSeniorRole
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

    def delete(self, request: Request, event_id: int) -> Response:
        try:
            outcome = event_claim_release(event_id=event_id, user=_user(request))
        except Event.DoesNotExist:
            raise NotFound(f"no event {event_id}") from None
        except ClaimBreakForbiddenError as error:
            return Response({"detail": str(error)}, status=status.HTTP_403_FORBIDDEN)
        return Response({"released": outcome.released, "broken": outcome.broken})


class SavedFilterListApi(RoleApi):
    def get(self, request: Request) -> Response:
        saved = SavedFilter.objects.filter(user=_user(request)).order_by("name")
        return Response(SavedFilterSerializer(saved, many=True).data)

    def post(self, request: Request) -> Response:
        given = SavedFilterSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        saved = saved_filter_save(user=_user(request), name=given.validated_data["name"],
                                  query=given.validated_data.get("query", ""))  # fmt: skip
        return Response(SavedFilterSerializer(saved).data, status=status.HTTP_201_CREATED)


class SavedFilterApi(RoleApi):
    def delete(self, request: Request, saved_filter_id: int) -> Response:
        if not saved_filter_delete(user=_user(request), saved_filter_id=saved_filter_id):
            raise NotFound(f"no saved filter {saved_filter_id} of yours")
        return Response(status=status.HTTP_204_NO_CONTENT)


class QueueColumnsApi(RoleApi):
    def get(self, request: Request) -> Response:
        return Response({"columns": queue_columns_get(user=_user(request))})

    def put(self, request: Request) -> Response:
        given = QueueColumnsSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        return Response({"columns": queue_columns_set(user=_user(request), columns=given.validated_data["columns"])})


class EventPresenceApi(RoleApi):
    """Heartbeat of an open event page: answers who else is looking at the event."""

    def post(self, request: Request, event_id: int) -> Response:
        if not Event.objects.filter(pk=event_id).exists():
            raise NotFound(f"no event {event_id}")
        others = event_presence_record(event_id=event_id, username=_user(request).get_username())
        return Response({"others": others, "seconds": presence_seconds()})

    def delete(self, request: Request, event_id: int) -> Response:
        event_presence_leave(event_id=event_id, username=_user(request).get_username())
        return Response(status=status.HTTP_204_NO_CONTENT)


MAX_PRESENCE_EVENTS = 500


class PresenceApi(RoleApi):
    """`?events=1,2,3`: who is looking at each of these events (those nobody looks at are left out)."""

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

    def get(self, request: Request, job_id: str) -> Response:
        job = import_job_get(job_id=job_id)
        if job is None:
            raise NotFound(f"no import job {job_id} (jobs are kept for a week)")
        return Response(job)
