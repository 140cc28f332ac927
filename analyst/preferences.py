"""Per-user queue settings: the columns shown and named saved filters."""

from django.contrib.auth.models import User

from analyst.models import QueuePreference, SavedFilter
from analyst.selectors.queue import DEFAULT_QUEUE_COLUMNS


def queue_columns_get(*, user: User) -> list[str]:
    preference = QueuePreference.objects.filter(user=user).first()
    return list(preference.columns) if preference is not None else list(DEFAULT_QUEUE_COLUMNS)


def queue_columns_set(*, user: User, columns: list[str]) -> list[str]:
    QueuePreference.objects.update_or_create(user=user, defaults={"columns": columns})
    return columns


def saved_filters_get(*, user: User) -> list[SavedFilter]:
    """The user's saved queue views, by name."""
    return list(SavedFilter.objects.filter(user=user).order_by("name"))


def saved_filter_save(*, user: User, name: str, query: str) -> SavedFilter:
    """Save a named queue view; saving under an existing name replaces that view."""
    saved, _ = SavedFilter.objects.update_or_create(user=user, name=name, defaults={"query": query})
    return saved


def saved_filter_delete(*, user: User, saved_filter_id: int) -> bool:
    deleted, _ = SavedFilter.objects.filter(user=user, pk=saved_filter_id).delete()
    return deleted > 0
