from typing import Any

from django.contrib.auth.models import User
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from analyst.roles import user_is_analyst, user_is_senior_analyst


class HasSeistriageRole(BasePermission):
    """Analysts, senior analysts and admins; an outsider with no role gets 403 everywhere."""

    message = "Seistriage needs a role (analyst, senior analyst or admin)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return user_is_analyst(request.user)


class HasSeniorRole(BasePermission):
    """Senior analysts and admins (imports, breaking others' claims)."""

    message = "This needs the senior analyst or admin role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return user_is_senior_analyst(request.user)


class RoleApi(APIView):
    """An endpoint for anyone with a role."""

    permission_classes = [IsAuthenticated, HasSeistriageRole]


class SeniorApi(APIView):
    """An endpoint for senior analysts and admins."""

    permission_classes = [IsAuthenticated, HasSeistriageRole, HasSeniorRole]


def request_user(request: Request) -> User:
    assert isinstance(request.user, User)  # HasSeistriageRole let only a logged-in user through
    return request.user
