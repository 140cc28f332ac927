"""The append-only audit trail: every change an analyst makes, with the score behind the event then."""

from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet

from analyst.models import AuditEntry
from events.models import Event
from ranking.models import EventScore
from ranking.training_runs import ScoreSnapshot


def event_score_snapshot(*, event: Event) -> ScoreSnapshot:
    """What the active models said about the event: its queue columns plus the latest score's versions."""
    latest = (
        EventScore.objects.filter(event=event)
        .order_by("-scored_at", "-id")
        .values("ranker_version", "model_versions", "class_probabilities")
        .first()
    )
    return {
        "importance": event.importance,
        "predicted_class": event.predicted_class,
        "predicted_probability": event.predicted_probability,
        "ranker_version": latest["ranker_version"] if latest else "",
        "model_versions": latest["model_versions"] if latest else {},
        "class_probabilities": latest["class_probabilities"] if latest else {},
    }


def audit_entry_record(
    *,
    event: Event,
    user: User | None,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
    comment: str = "",
    snapshot: ScoreSnapshot | None = None,
) -> AuditEntry:
    """Append one entry; `event` must already carry its new version."""
    snapshot = snapshot if snapshot is not None else event_score_snapshot(event=event)
    versions = dict(snapshot["model_versions"])
    if snapshot["ranker_version"]:
        versions.setdefault("ranker", snapshot["ranker_version"])
    return AuditEntry.objects.create(
        event=event,
        user=user,
        action=action,
        before=before,
        after=after,
        comment=comment,
        event_version=event.version,
        importance=snapshot["importance"],
        predicted_class=snapshot["predicted_class"] or "",
        model_versions=versions,
    )


def event_audit_list(*, event_id: int) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(event_id=event_id).select_related("user").order_by("created_at", "id")
