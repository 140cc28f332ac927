"""Who has which event open (heartbeats from the review page)."""

from typing import Annotated, TypedDict

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from analyst.api.permissions import RoleApi, request_user
from analyst.api.schema import (
    ANY_ROLE,
    EVENT_ID,
    FORBIDDEN,
    bad_request,
    not_found,
    typed_response,
)
from analyst.presence import event_presence_leave, event_presence_record, events_presence_get, presence_seconds
from analyst.selectors.events import event_exists
from analyst.web.parameters import ParameterError, integers_parse


class EventPresence(TypedDict):
    others: Annotated[list[str], "the other users looking at the event"]
    seconds: Annotated[int, "a heartbeat older than this many seconds counts as gone"]


class PresenceMap(TypedDict):
    events: Annotated[dict[str, list[str]], "event id -> usernames looking at it (events nobody looks at are left out)"]


class EventPresenceApi(RoleApi):
    """Heartbeat of an open event page: answers who else is looking at the event."""

    @extend_schema(
        summary="Heartbeat: I am looking at this event; who else is?",
        description=f"{ANY_ROLE} Send every few seconds while the event page is open. Errors: 403; 404 for an "
        "unknown event.",
        parameters=[EVENT_ID],
        request=None,
        responses={200: typed_response(EventPresence), 403: FORBIDDEN, 404: not_found("no event with this id")},
    )
    def post(self, request: Request, event_id: int) -> Response:
        if not event_exists(event_id=event_id):
            raise NotFound(f"no event {event_id}")
        others = event_presence_record(event_id=event_id, username=request_user(request).get_username())
        presence: EventPresence = {"others": others, "seconds": presence_seconds()}
        return Response(presence)

    @extend_schema(
        summary="I left this event's page",
        description=f"{ANY_ROLE} Errors: 403.",
        parameters=[EVENT_ID],
        request=None,
        responses={204: OpenApiResponse(description="noted"), 403: FORBIDDEN},
    )
    def delete(self, request: Request, event_id: int) -> Response:
        event_presence_leave(event_id=event_id, username=request_user(request).get_username())
        return Response(status=status.HTTP_204_NO_CONTENT)


MAX_PRESENCE_EVENTS = 500


class PresenceApi(RoleApi):
    """`?events=1,2,3`: who is looking at each of these events (those nobody looks at are left out)."""

    @extend_schema(
        summary="Who is looking at each of these events",
        description=f"{ANY_ROLE} Errors: 400 (`events` not a list of ids, or too many), 403.",
        parameters=[
            OpenApiParameter(
                "events",
                OpenApiTypes.STR,
                description=f"up to {MAX_PRESENCE_EVENTS} event ids separated by commas, e.g. 12,15,40",
            )
        ],
        responses={
            200: typed_response(PresenceMap),
            400: bad_request("`events` is not a list of event ids"),
            403: FORBIDDEN,
        },
    )
    def get(self, request: Request) -> Response:
        try:
            event_ids = integers_parse(
                name="events", raw=request.query_params.get("events", ""), most=MAX_PRESENCE_EVENTS
            )
        except ParameterError as error:
            raise ValidationError(
                {"events": f"up to {MAX_PRESENCE_EVENTS} event ids separated by commas: {error}"}
            ) from None
        found = events_presence_get(event_ids=event_ids)
        presence: PresenceMap = {"events": {str(event_id): names for event_id, names in found.items()}}
        return Response(presence)


# An upload body far beyond what its files may weigh is refused before Django spools it to disk.
