"""The event API: the queue, an event's evidence, reviews and claims."""

from typing import Annotated, TypedDict

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from analyst.api.filters import QueueQuerySerializer, queue_query_parse
from analyst.api.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    CursorError,
    page_size_parse,
    queue_cursor_decode,
    queue_cursor_encode,
)
from analyst.api.permissions import RoleApi, request_user
from analyst.api.rendering import OrjsonResponse
from analyst.api.schema import (
    ANY_ROLE,
    EVENT_ID,
    FORBIDDEN,
    bad_request,
    forbidden,
    not_found,
    typed_response,
)
from analyst.api.serializers import (
    BatchReviewInputSerializer,
    Claim,
    EventEvidence,
    EventState,
    QueuePageData,
    ReviewInputSerializer,
    claim_data,
    event_evidence_data,
    event_state_data,
    queue_page_data,
)
from analyst.review import (
    BatchOutcome,
    ClaimBreakForbiddenError,
    ClaimRelease,
    EventClaimedError,
    EventVersionConflictError,
    NothingToUndoError,
    ReviewInputError,
    UndoConflictError,
    event_claim,
    event_claim_active,
    event_claim_release,
    event_decision_undo,
    event_review,
    events_review_batch,
)
from analyst.selectors.events import event_get
from analyst.selectors.queue import (
    QueueCursor,
    QueueProgress,
    event_evidence_get,
    event_queue_page,
    queue_cursor_for_event,
    queue_progress_get,
)
from analyst.web.parameters import ParameterError, integer_parse
from events.models import Event


class ReviewConflict(TypedDict):
    detail: str
    event: Annotated[EventState, "the event as it is now"]


class ClaimConflict(TypedDict):
    detail: str
    claim: Annotated[Claim | None, "the other analyst's claim"]


class ClaimReleased(TypedDict):
    released: Annotated[bool, "a claim of yours was released"]
    broken: Annotated[bool, "someone else's claim was broken (senior analysts only)"]


def _claim_released(outcome: ClaimRelease) -> ClaimReleased:
    return {"released": outcome.released, "broken": outcome.broken}


def _neighbour_cursor(request: Request, ordering: str) -> tuple[QueueCursor | None, bool]:
    """`after_event`/`before_event`: the queue continues from an event, forwards or backwards."""
    for name, backward in (("after_event", False), ("before_event", True)):
        raw = request.query_params.get(name)
        if raw:
            try:
                event_id = integer_parse(name=name, raw=raw)
            except ParameterError as error:
                raise ValidationError({name: f"an event id: {error}"}) from None
            cursor = queue_cursor_for_event(ordering=ordering, event_id=event_id)
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
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description=f"page size, 1-{MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})"
            ),
            OpenApiParameter(
                "cursor", OpenApiTypes.STR, description="the `next` of the previous page (same ordering); opaque"
            ),
            OpenApiParameter(
                "after_event", OpenApiTypes.INT, description="start after this event id (its place in this ordering)"
            ),
            OpenApiParameter("before_event", OpenApiTypes.INT, description="the page before this event id"),
            OpenApiParameter(
                "total",
                OpenApiTypes.STR,
                enum=["0", "1"],
                description="0: skip counting the "
                "matching events (faster); approximate_total is then the page's row count",
            ),
        ],
        responses={
            200: typed_response(QueuePageData),
            400: bad_request(
                "a filter, limit or cursor is invalid",
                example={"limit": f"limit: a whole number from 1 to {MAX_PAGE_SIZE}, got '0'"},
            ),
            403: FORBIDDEN,
            404: not_found("after_event/before_event names no event"),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        filters, ordering = queue_query_parse(
            params=request.query_params, username=request_user(request).get_username()
        )
        try:
            limit = page_size_parse(request.query_params.get("limit"))
        except CursorError as error:
            raise ValidationError({"limit": str(error)}) from None
        after, backward = _neighbour_cursor(request, ordering)
        page = event_queue_page(
            filters=filters,
            ordering=ordering,
            after=after,
            limit=limit,
            backward=backward,
            with_total=request.query_params.get("total", "1") != "0",
        )
        next_cursor = queue_cursor_encode(page.next) if page.next is not None else None
        # orjson straight from the typed rows: REST framework's renderer cost more than the query (bench_queue.py)
        return OrjsonResponse(queue_page_data(page, next_cursor=next_cursor))


class QueueProgressApi(RoleApi):
    @extend_schema(
        operation_id="events_progress",
        summary="The analyst's progress: events decided today (UTC) and events left under these queue filters",
        description=f"{ANY_ROLE} Takes the queue's filters. Errors: 400 naming the parameter, 403.",
        parameters=[QueueQuerySerializer],
        responses={200: typed_response(QueueProgress), 400: bad_request("a filter is invalid"), 403: FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        user = request_user(request)
        filters, _ = queue_query_parse(params=request.query_params, username=user.get_username())
        return Response(queue_progress_get(filters=filters, user_id=user.pk))


class UndoneDecision(TypedDict):
    event: Annotated[EventState, "the event after the undo"]
    undone_action: Annotated[str, "the decision undone: accept, reject or set_type"]
    audit_entry: Annotated[int, "the undo's audit entry"]


class EventUndoApi(RoleApi):
    @extend_schema(
        summary="Undo your last decision (the `u` key)",
        description=f"{ANY_ROLE} A new audited decision puts back the event's type, certainty and review state as "
        "they were before your last accept, reject or type change, and withdraws that decision's training label. "
        "Pressed again, it undoes the decision before. Errors: 403; 404 when you have nothing to undo; 409 when "
        "the event changed after your decision or another analyst holds it.",
        request=None,
        responses={
            200: typed_response(UndoneDecision),
            403: FORBIDDEN,
            404: not_found("no decision of yours to undo"),
            409: OpenApiResponse(typed_response(ReviewConflict), description="the event changed since, or is claimed"),
        },
    )
    def post(self, request: Request) -> Response:
        try:
            event, entry = event_decision_undo(user=request_user(request))
        except NothingToUndoError as error:
            raise NotFound(str(error)) from None
        except UndoConflictError as error:
            return _conflict(str(error), error.event.pk)
        except EventClaimedError as error:
            holder = error.claim.user.get_username()
            return _conflict(f"{holder} is reviewing this event (claimed); the undo waits", error.claim.event_id)
        undone: UndoneDecision = {
            "event": event_state_data(event, event_claim_active(event_id=event.pk)),
            "undone_action": str(entry.after.get("undone_action", "")),
            "audit_entry": entry.pk,
        }
        return Response(undone)


class BatchReviewResult(TypedDict):
    decided: Annotated[int, "events the decision was applied to"]
    refused: Annotated[int, "events refused (changed since, claimed by another, unknown)"]
    results: list[BatchOutcome]


class EventBatchReviewApi(RoleApi):
    @extend_schema(
        summary="One decision for several events (a batch of blasts from one site, say)",
        description=f"{ANY_ROLE} Each event is its own audited decision with the `version` the analyst saw: one "
        "that changed since or that another analyst holds is refused alone, the others go through. Up to 500 "
        "events. Errors: 400 naming the field, 403.",
        request=BatchReviewInputSerializer,
        responses={
            200: typed_response(BatchReviewResult),
            400: bad_request("a field is invalid", example={"events": ["This list may not be empty."]}),
            403: FORBIDDEN,
        },
    )
    def post(self, request: Request) -> Response:
        given = BatchReviewInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            results = events_review_batch(
                user=request_user(request),
                events=[(item["id"], item["version"]) for item in data["events"]],
                decision=data["decision"],
                event_type=data.get("event_type", ""),
                certainty=data.get("certainty", ""),
                comment=data.get("comment", ""),
            )
        except ReviewInputError as error:
            raise ValidationError({error.field: [error.message]}) from None
        decided = sum(1 for item in results if item["ok"])
        result: BatchReviewResult = {"decided": decided, "refused": len(results) - decided, "results": results}
        return Response(result)


class EventEvidenceApi(RoleApi):
    @extend_schema(
        operation_id="events_retrieve",
        summary="One event with all its evidence",
        description=f"{ANY_ROLE} Origins, magnitudes, picks, arrivals, stations, the latest score, labels, the "
        "review history and the current claim. Errors: 403; 404 for an unknown event.",
        parameters=[EVENT_ID],
        responses={200: typed_response(EventEvidence), 403: FORBIDDEN, 404: not_found("no event with this id")},
    )
    def get(self, request: Request, event_id: int) -> Response:
        try:
            event = event_evidence_get(event_id=event_id)
        except Event.DoesNotExist:
            raise NotFound(f"no event {event_id}") from None
        return Response(event_evidence_data(event))


def _conflict(detail: str, event_id: int) -> Response:
    event = event_get(event_id=event_id)
    conflict: ReviewConflict = {
        "detail": detail,
        "event": event_state_data(event, event_claim_active(event_id=event_id)),
    }
    return Response(conflict, status=status.HTTP_409_CONFLICT)


class EventReviewApi(RoleApi):
    @extend_schema(
        summary="Decide on an event: accept (with a type and certainty) or reject",
        description=f"{ANY_ROLE} Send the `version` you looked at; the decision is refused with 409 when the event "
        "changed since (the answer carries its current state) or another analyst holds a claim on it. Errors: "
        "400 naming the field, 403, 404 for an unknown event, 409.",
        parameters=[EVENT_ID],
        request=ReviewInputSerializer,
        responses={
            200: OpenApiResponse(typed_response(EventState), description="the event after the decision"),
            400: bad_request("a field is invalid", example={"decision": ['"maybe" is not a valid choice.']}),
            403: FORBIDDEN,
            404: not_found("no event with this id"),
            409: OpenApiResponse(typed_response(ReviewConflict), description="stale version, or claimed by another"),
        },
    )
    def post(self, request: Request, event_id: int) -> Response:
        given = ReviewInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            event = event_review(
                event_id=event_id,
                user=request_user(request),
                version=data["version"],
                decision=data["decision"],
                event_type=data.get("event_type", ""),
                certainty=data.get("certainty", ""),
                comment=data.get("comment", ""),
            )
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
            200: typed_response(Claim),
            403: FORBIDDEN,
            404: not_found("no event with this id"),
            409: OpenApiResponse(typed_response(ClaimConflict), description="another analyst holds the event"),
        },
    )
    def post(self, request: Request, event_id: int) -> Response:
        try:
            claim = event_claim(event_id=event_id, user=request_user(request))
        except Event.DoesNotExist:
            raise NotFound(f"no event {event_id}") from None
        except EventClaimedError as error:
            holder = error.claim.user.get_username()
            conflict: ClaimConflict = {"detail": f"{holder} holds this event", "claim": claim_data(error.claim)}
            return Response(conflict, status=status.HTTP_409_CONFLICT)
        return Response(claim_data(claim))

    @extend_schema(
        summary="Release your claim on an event (senior analysts: break anyone's)",
        description=f"{ANY_ROLE} Releasing another analyst's claim needs the senior analyst or admin role. "
        "Errors: 403 (no role, or someone else's claim without the senior role); 404 for an unknown event.",
        parameters=[EVENT_ID],
        request=None,
        responses={
            200: typed_response(ClaimReleased),
            403: forbidden("or the claim is someone else's and the user is not a senior analyst"),
            404: not_found("no event with this id"),
        },
    )
    def delete(self, request: Request, event_id: int) -> Response:
        try:
            outcome = event_claim_release(event_id=event_id, user=request_user(request))
        except Event.DoesNotExist:
            raise NotFound(f"no event {event_id}") from None
        except ClaimBreakForbiddenError as error:
            return Response({"detail": str(error)}, status=status.HTTP_403_FORBIDDEN)
        return Response(_claim_released(outcome))
