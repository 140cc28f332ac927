"""What operators watch: events waiting for scoring and how long the oldest has waited, and the broker's queues."""

import datetime as dt
from typing import Any, NotRequired, TypedDict

from celery import current_app
from django.conf import settings
from django.db.models import Count, Min
from django.db.models.functions import Coalesce

from events.models import Event
from events.vocabulary import UNREVIEWED_STATES, ScoringState

WAITING_STATES = (ScoringState.PENDING, ScoringState.QUEUED)


class ScoringStatus(TypedDict):
    by_state: dict[str, int]  # unreviewed events per scoring state
    waiting: int  # pending or queued
    oldest_waiting_age_s: float | None  # None when nothing waits
    stalled: int  # queued longer than SEISTRIAGE_SCORING_STALL_SECONDS
    failed: int
    generated_at: str  # ISO 8601, UTC
    queues: NotRequired[dict[str, int | None]]  # broker_queue_lengths(), added by the command when asked


def scoring_status_get(*, now: dt.datetime | None = None) -> ScoringStatus:
    """Unreviewed events per scoring state, the number waiting (pending or queued), the age in seconds of the
    oldest waiting one (since it was queued, or imported when not yet queued) and the queued ones older than
    SEISTRIAGE_SCORING_STALL_SECONDS (the sweep requeues those)."""
    now = now or dt.datetime.now(dt.UTC)
    unreviewed = Event.objects.filter(review_state__in=UNREVIEWED_STATES)
    by_state: dict[str, int] = dict.fromkeys(ScoringState.values, 0)
    for row in unreviewed.values("scoring_state").annotate(n=Count("id")).order_by():
        by_state[row["scoring_state"]] = row["n"]
    waiting = unreviewed.filter(scoring_state__in=WAITING_STATES)
    oldest = waiting.aggregate(at=Min(Coalesce("scoring_requested_at", "created_at")))["at"]
    stall = dt.timedelta(seconds=settings.SEISTRIAGE_SCORING_STALL_SECONDS)
    stalled = waiting.filter(scoring_state=ScoringState.QUEUED, scoring_requested_at__lt=now - stall).count()
    return {
        "by_state": by_state,
        "waiting": by_state[ScoringState.PENDING] + by_state[ScoringState.QUEUED],
        "oldest_waiting_age_s": None if oldest is None else max(0.0, (now - oldest).total_seconds()),
        "stalled": stalled,
        "failed": by_state[ScoringState.FAILED],
        "generated_at": now.isoformat(),
    }


def broker_queue_lengths() -> dict[str, int | None]:
    """Messages waiting in each Celery queue (Redis LLEN, RabbitMQ or the filesystem broker's count); None for a
    queue the broker cannot report."""
    lengths: dict[str, int | None] = {}
    with current_app.connection_for_read() as connection:
        channel: Any = connection.default_channel
        for name in settings.CELERY_TASK_QUEUES_NAMES:
            try:
                # kombu's virtual transports (Redis: LLEN summed over the priority lists; filesystem) count
                # without the queue having been declared; AMQP brokers answer a passive declare.
                size = getattr(channel, "_size", None)
                count = (
                    size(name) if size is not None else channel.queue_declare(queue=name, passive=True).message_count
                )
                lengths[name] = int(count)
            except Exception:  # a queue the broker does not know, or a broker that does not count
                lengths[name] = None
    return lengths
