"""Picks made on the review page: an analyst adds a P or S pick on a trace, or moves the one they made there.

A workbench pick is stored as a QuakeML manual pick (evaluation mode manual, status preliminary) with the
analyst as author and the deployment's agency, marked by its method id so the page draws it in its own colour
and a second click on the same station and phase moves it rather than adding another. Imported picks are never
changed: a workbench pick stands beside them. Each change bumps the event's version and appends an audit entry,
in one transaction."""

import datetime as dt
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from analyst.audit import audit_entry_record
from analyst.models import AuditAction
from analyst.review import EventClaimedError, event_claim_active
from events.models import Event, Pick
from events.vocabulary import EvaluationMode, EvaluationStatus

WORKBENCH_PICK_METHOD = "smi:seistriage/method/workbench-pick"
PICK_PHASES = ("P", "S")
MAX_PICK_OFFSET = dt.timedelta(hours=2)  # a pick this far from the origin time is a slip of the mouse


class PickInputError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class PickChange:
    pick: Pick
    moved: bool  # an earlier workbench pick of the station and phase was moved
    version: int  # the event's version after the change


def _pick_state(pick: Pick | None) -> dict[str, str]:
    if pick is None:
        return {}
    return {"pick": pick.public_id, "seed_id": pick.seed_id, "phase": pick.phase_hint, "time": pick.time.isoformat()}


def event_pick_set(*, event_id: int, user: User, seed_id: str, phase: str, time: dt.datetime) -> PickChange:
    """Add the analyst's ``phase`` pick on ``seed_id`` at ``time``, or move the one they made on that station.

    Raises Event.DoesNotExist, PickInputError (naming the field) or EventClaimedError (another analyst holds
    the event)."""
    if phase not in PICK_PHASES:
        raise PickInputError("phase", f"must be one of {', '.join(PICK_PHASES)}, got {phase!r}")
    parts = seed_id.split(".")
    if len(parts) != 4 or not parts[1] or not seed_id.isprintable() or any(len(p) > 8 for p in parts):
        raise PickInputError("seed_id", f"must be a SEED id NET.STA.LOC.CHA with a station code, got {seed_id!r}")
    if time.tzinfo is None:
        raise PickInputError("time", "must carry a time zone (UTC)")
    network, station, location, channel = parts
    with transaction.atomic():
        event = Event.objects.select_for_update().get(pk=event_id)
        claim = event_claim_active(event_id=event_id)
        if claim is not None and claim.user_id != user.pk:
            raise EventClaimedError(claim)
        if event.origin_time is not None and abs(time - event.origin_time) > MAX_PICK_OFFSET:
            raise PickInputError("time", f"must be within {MAX_PICK_OFFSET} of the origin time")
        existing = (
            Pick.objects.filter(
                event=event, network=network, station=station, phase_hint=phase, method_id=WORKBENCH_PICK_METHOD
            )
            .order_by("id")
            .first()
        )
        before = _pick_state(existing)
        fields = {
            "location": location,
            "channel": channel,
            "time": time,
            "author": user.get_username(),
            "agency_id": settings.SEISTRIAGE_AGENCY_ID,
            "evaluation_mode": EvaluationMode.MANUAL,
            "evaluation_status": EvaluationStatus.PRELIMINARY,
        }
        if existing is None:
            pick = Pick.objects.create(
                event=event,
                public_id=f"smi:seistriage/pick/{uuid.uuid4()}",
                network=network,
                station=station,
                phase_hint=phase,
                method_id=WORKBENCH_PICK_METHOD,
                **fields,
            )
        else:
            for name, value in fields.items():
                setattr(existing, name, value)
            existing.save()
            pick = existing
        Event.objects.filter(pk=event_id).update(version=F("version") + 1, updated_at=timezone.now())
        event.refresh_from_db()
        audit_entry_record(
            event=event,
            user=user,
            action=AuditAction.PICK,
            before=before,
            after=_pick_state(pick),
            comment=f"{'moved' if existing else 'added'} {phase} pick on {seed_id}",
        )
    return PickChange(pick=pick, moved=existing is not None, version=event.version)


def pick_is_workbench(pick: Pick) -> bool:
    return pick.method_id == WORKBENCH_PICK_METHOD
