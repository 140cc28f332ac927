"""Review services: decisions on an event (accept, reject, set type, comment) and claims on it.

Many analysts work the same queue at once. A decision carries the event version the analyst saw and
is written with a conditional UPDATE ... WHERE version = seen; when no row changes, somebody else was
first and the caller gets the current state (HTTP 409), never a silent overwrite. A claim marks who
is reviewing an event; it lapses unless renewed by a heartbeat, and only its holder may decide while
it lasts (a senior analyst may break it).
"""

import datetime as dt
from dataclasses import dataclass
from typing import TypedDict

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from analyst.audit import audit_entry_record, event_score_snapshot
from analyst.models import AuditAction, AuditEntry, EventClaim
from analyst.roles import user_is_senior_analyst
from events.models import Event, EventLabel
from events.vocabulary import QUAKEML_EVENT_TYPES, ReviewState, TypeCertainty
from ranking.training_runs import label_prediction_snapshot, training_after_labels_check

REVIEW_FIELDS = ("event_type", "event_type_certainty", "review_state")
DECISIONS = (AuditAction.ACCEPT, AuditAction.REJECT, AuditAction.SET_TYPE, AuditAction.COMMENT)


class ReviewInputError(ValueError):
    """A decision that cannot be made as asked; the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class EventVersionConflictError(Exception):
    """The event changed since the analyst saw it; `event` holds the current state."""

    def __init__(self, event: Event) -> None:
        super().__init__(f"event {event.pk} is at version {event.version}")
        self.event = event


class EventClaimedError(Exception):
    """Another analyst holds an unexpired claim on the event."""

    def __init__(self, claim: EventClaim) -> None:
        super().__init__(f"event {claim.event_id} is claimed by {claim.user}")
        self.claim = claim


class ClaimBreakForbiddenError(Exception):
    pass


class NothingToUndoError(Exception):
    """The analyst has no decision left to undo."""


class UndoConflictError(Exception):
    """The event was decided again after the decision (by anyone): undoing would overwrite that."""

    def __init__(self, event: Event, entry: AuditEntry) -> None:
        super().__init__(
            f"event {event.pk} changed after your {entry.get_action_display()} (it was version {entry.event_version}, "
            f"it is now version {event.version}, decided again since); look at it before changing it again"
        )
        self.event = event
        self.entry = entry


@dataclass(frozen=True)
class ClaimRelease:
    released: bool
    broken: bool


def claim_duration() -> dt.timedelta:
    return dt.timedelta(seconds=settings.SEISTRIAGE_CLAIM_SECONDS)


def event_claim_active(*, event_id: int, now: dt.datetime | None = None) -> EventClaim | None:
    """The claim on an event if it has not expired."""
    now = now or timezone.now()
    return EventClaim.objects.select_related("user").filter(event_id=event_id, expires_at__gt=now).first()


def _changes(event: Event, decision: str, event_type: str, certainty: str) -> dict[str, str]:
    if decision not in DECISIONS:
        raise ReviewInputError("decision", f"must be one of {', '.join(DECISIONS)}, got {decision!r}")
    if event_type and event_type not in QUAKEML_EVENT_TYPES:
        raise ReviewInputError("event_type", f"{event_type!r} is not a QuakeML 1.2 event type")
    if certainty and certainty not in TypeCertainty.values:
        raise ReviewInputError("certainty", f"must be one of {', '.join(TypeCertainty.values)}, got {certainty!r}")
    if decision == AuditAction.COMMENT:
        return {}
    if decision == AuditAction.REJECT:
        return {
            "event_type": "not existing",
            "event_type_certainty": certainty or TypeCertainty.KNOWN,
            "review_state": ReviewState.REJECTED,
        }
    chosen_type = event_type or (event.event_type if decision == AuditAction.ACCEPT else "")
    if not chosen_type:
        raise ReviewInputError("event_type", "choose an event type first (the event has none)")
    if decision == AuditAction.ACCEPT and chosen_type == "not existing":
        raise ReviewInputError("event_type", "an event of type 'not existing' is rejected, not accepted")
    state = event.review_state
    if decision == AuditAction.ACCEPT:
        state = ReviewState.ACCEPTED
    elif state in (ReviewState.NEW, ReviewState.SCORED):
        state = ReviewState.IN_REVIEW  # the importer leaves analyst-owned events' types alone
    return {
        "event_type": chosen_type,
        "event_type_certainty": certainty or event.event_type_certainty or TypeCertainty.KNOWN,
        "review_state": state,
    }


def event_review(
    *,
    event_id: int,
    user: User,
    version: int,
    decision: str,
    event_type: str = "",
    certainty: str = "",
    comment: str = "",
) -> Event:
    """Apply one decision in one transaction: the event, an audit entry and (for a type) a training label.

    Raises Event.DoesNotExist, ReviewInputError, EventClaimedError or EventVersionConflictError; the last two
    (HTTP 409) leave a `review_refused` audit entry, so the trail shows every attempt, the losing one included.
    """
    comment = comment.strip()
    if decision == AuditAction.COMMENT and not comment:
        raise ReviewInputError("comment", "a comment needs some text")
    attempted: ReviewAttempt = {
        "decision": decision,
        "event_type": event_type,
        "certainty": certainty,
        "version_seen": version,
    }
    try:
        return _event_review_apply(
            event_id=event_id,
            user=user,
            version=version,
            decision=decision,
            event_type=event_type,
            certainty=certainty,
            comment=comment,
        )
    except EventVersionConflictError as error:
        _review_refused_record(
            event=error.event, user=user, attempted=attempted, reason="stale version", comment=comment
        )
        raise
    except EventClaimedError as error:
        event = Event.objects.get(pk=event_id)
        holder = error.claim.user.get_username()
        _review_refused_record(
            event=event, user=user, attempted=attempted, reason=f"claimed by {holder}", comment=comment
        )
        raise


class ReviewAttempt(TypedDict):
    """A decision as asked for, kept in the audit trail when it is refused."""

    decision: str
    event_type: str
    certainty: str
    version_seen: int


def _review_refused_record(*, event: Event, user: User, attempted: ReviewAttempt, reason: str, comment: str) -> None:
    """Record a refused decision in the audit trail, in its own transaction after the failed one rolled back.

    The entry changes nothing: `before` is the state the event was in when it refused, `after` what was asked
    for, `event_version` the event's current version (the analyst saw `attempted["version_seen"]`).
    """
    state = {name: getattr(event, name) for name in REVIEW_FIELDS}
    with transaction.atomic():
        audit_entry_record(
            event=event,
            user=user,
            action=AuditAction.REVIEW_REFUSED,
            before=state,
            after={**attempted, "refused": reason},
            comment=comment,
        )


def _event_review_apply(
    *, event_id: int, user: User, version: int, decision: str, event_type: str, certainty: str, comment: str
) -> Event:
    with transaction.atomic():
        event = Event.objects.get(pk=event_id)
        claim = event_claim_active(event_id=event_id)
        if claim is not None and claim.user_id != user.pk:
            raise EventClaimedError(claim)
        if event.version != version:
            raise EventVersionConflictError(event)
        changes = _changes(event, decision, event_type, certainty)
        before = {name: getattr(event, name) for name in REVIEW_FIELDS}
        updated = Event.objects.filter(pk=event_id, version=version).update(
            **changes, version=F("version") + 1, updated_at=timezone.now()
        )
        if updated != 1:
            event.refresh_from_db()
            raise EventVersionConflictError(event)
        event.refresh_from_db()
        after = {name: getattr(event, name) for name in REVIEW_FIELDS}
        snapshot = event_score_snapshot(event=event)
        audit_entry_record(
            event=event, user=user, action=decision, before=before, after=after, comment=comment, snapshot=snapshot
        )
        if changes:
            EventLabel.objects.create(
                event=event,
                event_type=event.event_type,
                event_type_certainty=event.event_type_certainty,
                review_state=event.review_state,
                source=EventLabel.Source.ANALYST,
                analyst=user,
                predicted=label_prediction_snapshot(event=event, snapshot=snapshot),
            )
            transaction.on_commit(training_after_labels_check)  # retrain after SEISTRIAGE_RETRAIN_AFTER_LABELS
        if decision in (AuditAction.ACCEPT, AuditAction.REJECT):
            EventClaim.objects.filter(event_id=event_id, user_id=user.pk).delete()
    return event


def event_claim(*, event_id: int, user: User) -> EventClaim:
    """Claim an event, or renew one's own claim (the heartbeat). Raises EventClaimedError."""
    now = timezone.now()
    with transaction.atomic():
        # Lock the event row so two analysts claiming at once are served one after the other.
        Event.objects.select_for_update().only("id").get(pk=event_id)
        claim = EventClaim.objects.select_related("user").filter(event_id=event_id).first()
        if claim is not None and claim.user_id != user.pk and claim.expires_at > now:
            raise EventClaimedError(claim)
        if claim is None:
            claim = EventClaim(event_id=event_id)
        if claim.user_id != user.pk or claim.expires_at <= now:
            claim.claimed_at = now
        claim.user = user
        claim.heartbeat_at = now
        claim.expires_at = now + claim_duration()
        claim.save()
    return claim


def event_claim_release(*, event_id: int, user: User) -> ClaimRelease:
    """Release one's own claim; a senior analyst may break another analyst's (recorded in the audit trail)."""
    with transaction.atomic():
        event = Event.objects.select_for_update().get(pk=event_id)
        claim = EventClaim.objects.select_related("user").filter(event_id=event_id).first()
        if claim is None:
            return ClaimRelease(released=False, broken=False)
        if claim.user_id == user.pk or claim.expires_at <= timezone.now():
            claim.delete()
            return ClaimRelease(released=True, broken=False)
        if not user_is_senior_analyst(user):
            raise ClaimBreakForbiddenError(f"only a senior analyst may break {claim.user}'s claim")
        holder = {"claimed_by": claim.user.get_username(), "claimed_at": claim.claimed_at.isoformat()}
        claim.delete()
        audit_entry_record(event=event, user=user, action=AuditAction.CLAIM_BREAK, before=holder, after={})
    return ClaimRelease(released=True, broken=True)


# Decisions `u` can undo (a comment changes nothing; an undo is undone by deciding again).
UNDOABLE = (AuditAction.ACCEPT, AuditAction.REJECT, AuditAction.SET_TYPE)
UNDO_LOOKBACK = 500  # the analyst's newest decisions and undos searched for the decision to undo


def _decision_to_undo(*, user: User) -> AuditEntry:
    """The analyst's newest decision that no later undo of theirs has undone. Raises NothingToUndoError."""
    entries = AuditEntry.objects.filter(user=user, action__in=(*UNDOABLE, AuditAction.UNDO)).order_by(
        "-created_at", "-id"
    )[:UNDO_LOOKBACK]
    undone: set[int] = set()
    for entry in entries:
        if entry.action == AuditAction.UNDO:
            undone.add(int(entry.after.get("undoes", 0)))
        elif entry.pk not in undone:
            return entry
    raise NothingToUndoError("you have no decision left to undo")


def event_decision_undo(*, user: User) -> tuple[Event, AuditEntry]:
    """Undo the analyst's last decision: a new audited decision that puts back the event's type, certainty and
    review state as they were before it, and withdraws the training label that decision made.

    Refused (UndoConflictError) when the event was decided again since (its type or state is no longer what that
    decision left), so an undo never overwrites someone's later decision; a pick or a comment since does not block
    it; EventClaimedError when another analyst holds the event now. Returns the event and
    the undo's audit entry.
    """
    target = _decision_to_undo(user=user)
    with transaction.atomic():
        event = Event.objects.select_for_update().get(pk=target.event_id)
        claim = event_claim_active(event_id=event.pk)
        if claim is not None and claim.user_id != user.pk:
            raise EventClaimedError(claim)
        # A pick or a comment since leaves the decision standing; another decision (or a re-import) does not.
        decided_since = AuditEntry.objects.filter(
            event=event, pk__gt=target.pk, action__in=(*UNDOABLE, AuditAction.UNDO)
        ).exists()
        left = {name: target.after.get(name) for name in REVIEW_FIELDS}
        if decided_since or {name: getattr(event, name) for name in REVIEW_FIELDS} != left:
            raise UndoConflictError(event, target)
        restored = {name: target.before.get(name, "") for name in REVIEW_FIELDS}
        before = {name: getattr(event, name) for name in REVIEW_FIELDS}
        Event.objects.filter(pk=event.pk).update(**restored, version=F("version") + 1, updated_at=timezone.now())
        event.refresh_from_db()
        # The decision's label: the newest of this analyst's on the event (nobody has decided on it since).
        label = (
            EventLabel.objects.filter(event=event, source=EventLabel.Source.ANALYST, analyst=user)
            .order_by("-created_at", "-id")
            .first()
        )
        if label is not None:
            label.delete()
        entry = audit_entry_record(
            event=event,
            user=user,
            action=AuditAction.UNDO,
            before=before,
            after={**restored, "undoes": target.pk, "undone_action": target.action},
            comment=f"undo of {target.get_action_display()} (audit entry {target.pk})",
        )
    return event, entry


class BatchOutcome(TypedDict):
    id: int
    ok: bool
    version: int | None
    detail: str


def events_review_batch(
    *,
    user: User,
    events: list[tuple[int, int]],
    decision: str,
    event_type: str = "",
    certainty: str = "",
    comment: str = "",
) -> list[BatchOutcome]:
    """One decision for several events, given as (event id, version seen): each is its own audited decision
    (event_review), so a conflict on one event refuses that event alone and the others go through."""
    outcomes: list[BatchOutcome] = []
    for event_id, version in events:
        try:
            event = event_review(
                event_id=event_id,
                user=user,
                version=version,
                decision=decision,
                event_type=event_type,
                certainty=certainty,
                comment=comment,
            )
        except Event.DoesNotExist:
            outcomes.append({"id": event_id, "ok": False, "version": None, "detail": "no such event"})
        except EventClaimedError as error:
            holder = error.claim.user.get_username()
            outcomes.append({"id": event_id, "ok": False, "version": None, "detail": f"claimed by {holder}"})
        except EventVersionConflictError as error:
            detail = f"changed since you saw it (version {version}, now {error.event.version})"
            outcomes.append({"id": event_id, "ok": False, "version": error.event.version, "detail": detail})
        else:
            outcomes.append({"id": event_id, "ok": True, "version": event.version, "detail": ""})
    return outcomes
