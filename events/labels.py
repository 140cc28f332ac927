"""Which of an event's labels is in force (its training label and its reviewer): the newest analyst decision,
else the newest imported one. A re-imported reviewed catalogue adds its label beside an analyst's, never over it.
"""

from collections.abc import Iterable
from typing import Any

from django.db.models import Case, IntegerField, Value, When

from events.models import EventLabel


def labels_in_force_order() -> tuple[Any, ...]:
    """`order_by` arguments that put each event's label in force first (after "event_id", where grouping)."""
    analyst_first = Case(
        When(source=EventLabel.Source.ANALYST, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return (analyst_first, "-created_at", "-id")


def label_in_force(labels: Iterable[EventLabel]) -> EventLabel | None:
    """The label in force among one event's labels (any order)."""
    ranked = sorted(labels, key=lambda label: (label.created_at, label.pk or 0), reverse=True)
    analysts = [label for label in ranked if label.source == EventLabel.Source.ANALYST]
    chosen = analysts or ranked
    return chosen[0] if chosen else None
