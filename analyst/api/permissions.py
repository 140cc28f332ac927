from typing import Any

from django.contrib.auth.models import User
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from analyst.roles import ROLE_NAMES, SENIOR_ROLES, user_role_names


def _request_roles(request: Request) -> frozenset[str]:
    """The user's roles, asked once per request (one small query, none for a superuser): both permission classes
    of a senior endpoint read the same answer, and a role change counts from the next request."""
    roles: frozenset[str] | None = getattr(request, "_seistriage_roles", None)
    if roles is None:
        roles = user_role_names(request.user)
        request._seistriage_roles = roles  # type: ignore[attr-defined]
    return roles


class HasSeistriageRole(BasePermission):
    """Analysts, senior analysts and admins; an outsider with no role gets 403 everywhere."""

    message = "Seistriage needs a role (analyst, senior analyst or admin)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return not _request_roles(request).isdisjoint(ROLE_NAMES)


class HasSeniorRole(BasePermission):
    """Senior analysts and admins (imports, breaking others' claims)."""

    message = "This needs the senior analyst or admin role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return not _request_roles(request).isdisjoint(SENIOR_ROLES)


class RoleApi(APIView):
    """An endpoint for anyone with a role."""

    permission_classes = [IsAuthenticated, HasSeistriageRole]


class SeniorApi(APIView):
    """An endpoint for senior analysts and admins."""

    permission_classes = [IsAuthenticated, HasSeistriageRole, HasSeniorRole]


def request_user(request: Request) -> User:
    assert isinstance(request.user, User)  # HasSeistriageRole let only a logged-in user through
    return request.user
