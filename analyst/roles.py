"""Roles are groups with permissions: analyst reviews, senior analyst also promotes models,
publishes final bulletins and breaks others' claims; admin is a superuser."""

from django.contrib.auth.models import Group

ROLE_NAMES = ("analyst", "senior analyst", "admin")


def roles_ensure() -> dict[str, Group]:
    """Create the role groups if they are missing and return them by name."""
    return {name: Group.objects.get_or_create(name=name)[0] for name in ROLE_NAMES}
