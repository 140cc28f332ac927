"""API tokens for scripts: a logged-in user with a role creates (or replaces) and revokes their own token."""

from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analyst.api.permissions import HasSeistriageRole

_TokenOut = inline_serializer("ApiToken", {"key": serializers.CharField(), "created": serializers.DateTimeField()})
_TokenState = inline_serializer("ApiTokenState", {"exists": serializers.BooleanField()})


class ApiTokenApi(APIView):
    """GET: whether you have a token. POST: a new token (replacing any old one; shown once). DELETE: revoke it."""

    permission_classes = [IsAuthenticated, HasSeistriageRole]

    @extend_schema(responses={200: _TokenState})
    def get(self, request: Request) -> Response:
        assert isinstance(request.user, User)
        return Response({"exists": Token.objects.filter(user=request.user).exists()})

    @extend_schema(request=None, responses={201: _TokenOut})
    def post(self, request: Request) -> Response:
        assert isinstance(request.user, User)
        Token.objects.filter(user=request.user).delete()
        token = Token.objects.create(user=request.user)
        return Response({"key": token.key, "created": token.created}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        assert isinstance(request.user, User)
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
