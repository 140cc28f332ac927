from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

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
