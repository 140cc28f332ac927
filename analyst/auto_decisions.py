"""Automatic decisions from the conformal triage, only when SEISTRIAGE_TRIAGE_AUTO_COMMIT is on.

A scored event whose prediction set holds one class ("confident: class") is decided as that class: accepted
with the class's plain event type, or rejected for a false event. Each is one audit entry with the action
`auto_decision`, no user, and the alpha and class in its comment, so the trail tells it from an analyst's.
It makes no training label: a ranker must not learn from its own predictions. An event an analyst has
claimed or opened meanwhile (no longer new/scored, or a newer version) is left alone.
"""

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from analyst.audit import audit_entry_record
from analyst.models import AuditAction, EventClaim
from analyst.review import REVIEW_FIELDS
from events.models import Event
from events.vocabulary import UNREVIEWED_STATES, ReviewState, Triage, TypeCertainty
from ranking.ml.classes import EARTHQUAKE, EXPLOSION_LIKE, NOT_EXISTING, OTHER_NATURAL

EVENT_TYPE_OF_CLASS = {
    EARTHQUAKE: "earthquake",
    EXPLOSION_LIKE: "explosion",
    OTHER_NATURAL: "other event",
    NOT_EXISTING: "not existing",
}


def events_auto_decide(*, event_ids: Sequence[int]) -> list[int]:
    """Decide the confident unreviewed events among ``event_ids`` (when enabled); returns the ids decided."""
    if not settings.SEISTRIAGE_TRIAGE_AUTO_COMMIT:
        return []
    claimed = set(
        EventClaim.objects.filter(event_id__in=list(event_ids), expires_at__gt=timezone.now()).values_list(
            "event_id", flat=True
        )
    )
    decided: list[int] = []
    candidates = Event.objects.filter(
        pk__in=list(event_ids), review_state__in=UNREVIEWED_STATES, triage=Triage.CONFIDENT
    ).exclude(pk__in=claimed)
    for event in candidates:
        if event.triage_class in EVENT_TYPE_OF_CLASS and _decide(event):
            decided.append(event.pk)
    return decided


def _decide(event: Event) -> bool:
    decided_class = event.triage_class or ""
    rejected = decided_class == NOT_EXISTING
    changes: dict[str, Any] = {
        "event_type": EVENT_TYPE_OF_CLASS[decided_class],
        "event_type_certainty": TypeCertainty.SUSPECTED,
        "review_state": ReviewState.REJECTED if rejected else ReviewState.ACCEPTED,
    }
    before = {name: getattr(event, name) for name in REVIEW_FIELDS}
    with transaction.atomic():
        updated = Event.objects.filter(
            pk=event.pk, version=event.version, review_state__in=UNREVIEWED_STATES, triage=Triage.CONFIDENT
        ).update(**changes, version=F("version") + 1, updated_at=timezone.now())
        if updated != 1:
            return False  # an analyst got there first
        event.refresh_from_db()
        audit_entry_record(
            event=event,
            user=None,
            action=AuditAction.AUTO_DECISION,
            before=before,
            after={name: getattr(event, name) for name in REVIEW_FIELDS},
            comment=(
                f"automatic: conformal triage confident '{decided_class}' at alpha "
                f"{settings.SEISTRIAGE_TRIAGE_ALPHA} (SEISTRIAGE_TRIAGE_AUTO_COMMIT)"
            ),
        )
    return True
