"""Picks an analyst makes on the review page: add a P or S pick on a trace, or move the one made there."""

from typing import Annotated, Any, TypedDict

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from analyst.api.permissions import RoleApi, request_user
from analyst.api.schema import ANY_ROLE, EVENT_ID, FORBIDDEN, bad_request, not_found, typed_response
from analyst.picks import PICK_PHASES, PickInputError, event_pick_set
from analyst.review import EventClaimedError
from events.models import Event


class PickInputSerializer(serializers.Serializer[dict[str, Any]]):
    seed_id = serializers.CharField(max_length=40, help_text="the trace picked: NET.STA.LOC.CHA")
    phase = serializers.ChoiceField(choices=list(PICK_PHASES))
    time = serializers.DateTimeField(help_text="the onset, UTC, ISO 8601")


class PickSaved(TypedDict):
    id: int
    public_id: str
    seed_id: str
    phase: str
    time: Annotated[str, "UTC, ISO 8601"]
    author: str
    evaluation_mode: Annotated[str, "always manual"]
    moved: Annotated[bool, "an earlier pick of this analyst's on the station and phase was moved"]
    version: Annotated[int, "the event's version after the pick"]


class PickConflict(TypedDict):
    detail: str


class EventPicksApi(RoleApi):
    @extend_schema(
        summary="Add a manual P or S pick on a trace, or move the one made on the review page",
        description=f"{ANY_ROLE} Stored as a manual pick (evaluation mode manual, status preliminary) with the "
        "analyst as author, audited, and exported in bulletins. A second pick of the same phase on the same "
        "station moves it. Imported picks are never changed. Errors: 400 naming the field, 403, 404 for an "
        "unknown event, 409 when another analyst holds a claim on the event.",
        parameters=[EVENT_ID],
        request=PickInputSerializer,
        responses={
            201: OpenApiResponse(typed_response(PickSaved), description="the pick as stored"),
            400: bad_request("a field is invalid", example={"phase": ['"Pn" is not a valid choice.']}),
            403: FORBIDDEN,
            404: not_found("no event with this id"),
            409: OpenApiResponse(typed_response(PickConflict), description="claimed by another analyst"),
        },
    )
    def post(self, request: Request, event_id: int) -> Response:
        given = PickInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        user = request_user(request)
        try:
            change = event_pick_set(
                event_id=event_id, user=user, seed_id=data["seed_id"], phase=data["phase"], time=data["time"]
            )
        except Event.DoesNotExist:
            raise NotFound(f"no event {event_id}") from None
        except PickInputError as error:
            raise ValidationError({error.field: [error.message]}) from None
        except EventClaimedError as error:
            holder = error.claim.user.get_username()
            return Response({"detail": f"{holder} is reviewing this event (claimed)"}, status=status.HTTP_409_CONFLICT)
        pick = change.pick
        saved: PickSaved = {
            "id": pick.pk,
            "public_id": pick.public_id,
            "seed_id": pick.seed_id,
            "phase": pick.phase_hint,
            "time": pick.time.isoformat(),
            "author": pick.author,
            "evaluation_mode": pick.evaluation_mode,
            "moved": change.moved,
            "version": change.version,
        }
        return Response(saved, status=status.HTTP_201_CREATED)
