"""API tokens for scripts: a logged-in user with a role creates (or replaces) and revokes their own token."""

from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analyst.api.authentication import api_token_create, api_token_exists, api_token_revoke
from analyst.api.permissions import HasSeistriageRole
from analyst.api.schema import ANY_ROLE, FORBIDDEN

_TokenOut = inline_serializer("ApiToken", {"key": serializers.CharField(), "created": serializers.DateTimeField()})
_TokenState = inline_serializer("ApiTokenState", {"exists": serializers.BooleanField()})


class ApiTokenApi(APIView):
    """GET: whether you have a token. POST: a new token (replacing any old one; shown once). DELETE: revoke it."""

    permission_classes = [IsAuthenticated, HasSeistriageRole]

    @extend_schema(
        summary="Whether you have an API token",
        description=f"{ANY_ROLE} The key itself is shown only when it is made. Errors: 403.",
        responses={200: _TokenState, 403: FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        assert isinstance(request.user, User)
        return Response({"exists": api_token_exists(user=request.user)})

    @extend_schema(
        summary="Make a new API token for scripts (replacing your old one)",
        description=f"{ANY_ROLE} The key is shown once; send it as `Authorization: Token <key>`. Any older token of "
        "yours stops working. A token made from a browser session ends when that session logs out; every token ends "
        "when the password changes or after its lifetime. Errors: 403.",
        request=None,
        responses={201: _TokenOut, 403: FORBIDDEN},
    )
    def post(self, request: Request) -> Response:
        assert isinstance(request.user, User)
        # Made from a browser session, the token ends with that session's logout; a script's own token is not.
        from_session = not isinstance(request.auth, Token)
        token = api_token_create(user=request.user, session=request.session if from_session else None)
        return Response({"key": token.key, "created": token.created}, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke your API token",
        description=f"{ANY_ROLE} Errors: 403.",
        request=None,
        responses={204: OpenApiResponse(description="revoked (or there was none)"), 403: FORBIDDEN},
    )
    def delete(self, request: Request) -> Response:
        assert isinstance(request.user, User)
        api_token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
