"""Roles are groups with permissions: analyst reviews, senior analyst also promotes models,
publishes final bulletins and breaks others' claims; admin is a superuser."""

from functools import lru_cache

from django.contrib.auth.models import Group
from django.db.models import BigIntegerField

from analyst.selectors.compiled_query import CompiledQuery, QueryParameter, query_compile

ROLE_NAMES = ("analyst", "senior analyst", "admin")
SENIOR_ROLES = ("senior analyst", "admin")


def roles_ensure() -> dict[str, Group]:
    """Create the role groups if they are missing and return them by name."""
    return {name: Group.objects.get_or_create(name=name)[0] for name in ROLE_NAMES}


def user_is_analyst(user: object) -> bool:
    """Anyone with a role sees the events; a logged-in user without one (an outsider) sees nothing."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    groups = user.groups  # type: ignore[attr-defined]
    return bool(groups.filter(name__in=ROLE_NAMES).exists())


def user_is_senior_analyst(user: object) -> bool:
    """Senior analysts and admins: they also import files, promote models, publish and break claims."""
    if not user_is_analyst(user):
        return False
    if getattr(user, "is_superuser", False):
        return True
    groups = user.groups  # type: ignore[attr-defined]
    return bool(groups.filter(name__in=SENIOR_ROLES).exists())


def user_role_names(user: object) -> frozenset[str]:
    """The roles a user holds, in one query ("admin" for a superuser, no query); empty for an outsider or an
    inactive or anonymous user. The API's permission classes ask this once per request and keep the answer."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return frozenset()
    if getattr(user, "is_superuser", False):
        return frozenset({"admin"})
    rows = _role_names_query().rows({"user": user.pk})  # type: ignore[attr-defined]
    return frozenset(row["name"] for row in rows)


@lru_cache(maxsize=1)
def _role_names_query() -> CompiledQuery:
    """Every API request asks it: compiled once, so the check costs its round trip and little more."""
    user = QueryParameter("user", BigIntegerField())
    return query_compile(Group.objects.filter(user__id=user, name__in=ROLE_NAMES).values("name"))
