"""Each analyst's saved queue filters and queue columns."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from analyst.api.permissions import RoleApi, request_user
from analyst.api.schema import (
    ANY_ROLE,
    FORBIDDEN,
    bad_request,
    id_in_path,
    not_found,
)
from analyst.api.serializers import (
    QueueColumnsSerializer,
    SavedFilterSerializer,
)
from analyst.preferences import (
    queue_columns_get,
    queue_columns_set,
    saved_filter_delete,
    saved_filter_save,
    saved_filters_get,
)


class SavedFilterListApi(RoleApi):
    @extend_schema(
        summary="Your saved queue filters",
        description=f"{ANY_ROLE} Only the asking user's filters, by name. Errors: 403.",
        responses={200: SavedFilterSerializer(many=True), 403: FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        saved = saved_filters_get(user=request_user(request))
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
        saved = saved_filter_save(
            user=request_user(request), name=given.validated_data["name"], query=given.validated_data.get("query", "")
        )
        return Response(SavedFilterSerializer(saved).data, status=status.HTTP_201_CREATED)


class SavedFilterApi(RoleApi):
    @extend_schema(
        summary="Delete one of your saved filters",
        description=f"{ANY_ROLE} Errors: 403; 404 when the filter is not yours or does not exist.",
        parameters=[id_in_path("saved_filter_id", "the saved filter's id")],
        request=None,
        responses={
            204: OpenApiResponse(description="deleted"),
            403: FORBIDDEN,
            404: not_found("no saved filter of yours with this id"),
        },
    )
    def delete(self, request: Request, saved_filter_id: int) -> Response:
        if not saved_filter_delete(user=request_user(request), saved_filter_id=saved_filter_id):
            raise NotFound(f"no saved filter {saved_filter_id} of yours")
        return Response(status=status.HTTP_204_NO_CONTENT)


class QueueColumnsApi(RoleApi):
    @extend_schema(
        summary="Your queue columns, in order",
        description=f"{ANY_ROLE} Errors: 403.",
        responses={200: QueueColumnsSerializer, 403: FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        return Response({"columns": queue_columns_get(user=request_user(request))})

    @extend_schema(
        summary="Choose and order your queue columns",
        description=f"{ANY_ROLE} Each column once, from the queue's columns. Errors: 400 naming the field, 403.",
        request=QueueColumnsSerializer,
        responses={
            200: QueueColumnsSerializer,
            400: bad_request(
                "an unknown, repeated or missing column", example={"columns": ["a column is listed twice"]}
            ),
            403: FORBIDDEN,
        },
    )
    def put(self, request: Request) -> Response:
        given = QueueColumnsSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        return Response(
            {"columns": queue_columns_set(user=request_user(request), columns=given.validated_data["columns"])}
        )
