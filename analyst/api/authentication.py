"""API authentication: sessions for the browser, tokens for scripts.

A token has a lifetime: REST framework's TokenAuthentication, refusing a token older than
SEISTRIAGE_API_TOKEN_DAYS with a message that says so (make a new one with POST /api/token/). A token is also
deleted when its user's password changes, and a token made from a browser session is bound to it: logging out of
that session deletes it (analyst/signals.py; a token a script made with its own token is not bound). A request
that sent a token and was refused gets 401 with ``WWW-Authenticate: Token`` (REST framework asks the first
authenticator, the session's, which has no header to offer and so would answer 403); a browser without a
session still gets 403.
"""

import datetime as dt
import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone
from drf_spectacular.authentication import SessionScheme
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.request import Request


class TokenAwareSessionAuthentication(SessionAuthentication):
    def authenticate_header(self, request: Request) -> str | None:
        sent = request.META.get("HTTP_AUTHORIZATION", "").split()
        return "Token" if sent and sent[0].lower() == "token" else None


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        user, token = super().authenticate_credentials(key)
        days = settings.SEISTRIAGE_API_TOKEN_DAYS
        if token.created + dt.timedelta(days=days) <= timezone.now():
            raise exceptions.AuthenticationFailed(
                f"API token expired: tokens last {days} days; make a new one with POST /api/token/."
            )
        return user, token


class TokenAwareSessionScheme(SessionScheme):  # type: ignore[no-untyped-call]
    """The OpenAPI description of the session authenticator above (drf-spectacular's matches no subclass)."""

    target_class = "analyst.api.authentication.TokenAwareSessionAuthentication"


def api_token_exists(*, user: User) -> bool:
    return Token.objects.filter(user=user).exists()


SESSION_TOKEN_KEY = "seistriage_api_token_sha256"  # noqa: S105  (a session key name)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, user: User, session: SessionBase | None = None) -> Token:
    """A new token for the user's scripts; any older one stops working. Made from a browser ``session``, the
    token is bound to it (its hash kept in the session): logging out of that session deletes it."""
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    if session is not None:
        session[SESSION_TOKEN_KEY] = _digest(token.key)
    return token


def api_token_revoke_session_bound(*, user: User, session: SessionBase) -> bool:
    """At logout: delete the user's token if this session made it; whether one was deleted."""
    bound = session.get(SESSION_TOKEN_KEY)
    if not bound:
        return False
    keys = [key for key in Token.objects.filter(user=user).values_list("key", flat=True) if _digest(key) == bound]
    deleted, _ = Token.objects.filter(user=user, key__in=keys).delete()
    return deleted > 0


def api_token_revoke(*, user: User) -> None:
    Token.objects.filter(user=user).delete()
