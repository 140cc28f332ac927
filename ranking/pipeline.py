"""The scoring pipeline in one place: which task follows which, on which queue.

```
import / new waveforms / sweep / promotion
   │  events_schedule_scoring (on commit)
   ▼
cpu:  measure_waveforms(batch) ──▶ score_events(batch)          (a chain per batch of SEISTRIAGE_SCORING_BATCH_SIZE)
   │  events measured with waveforms: events_schedule_cnn (on commit)
   ▼
gpu:  classify_events_cnn(batch)   (events the active CNN has not classified yet)
   │  events it found windows for: events_rescore_after_cnn
   ▼
cpu:  score_events(batch)          (scoring only: the score now stacks the CNN features)
```

Every step is idempotent (cached measurements, one prediction per event and CNN version, a score is skipped
when it is newer than its inputs), so whichever task finishes first, an event ends scored once per input change.
The tasks themselves are in ranking.tasks; this module only decides what to send.
"""

import datetime as dt
import logging
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from events.models import Event
from events.vocabulary import UNREVIEWED_STATES, ScoringState
from ranking.models import CnnPrediction, ModelVersion
from ranking.registry import model_version_active

logger = logging.getLogger(__name__)

# Events the pipeline scores: the unreviewed ones, and those still waiting. An analyst can decide on an event in
# the second between its import and its scoring: its score was asked for and is still wanted (it records what the
# model would have said), and it must not stay "queued" for ever.
SCORING_WANTED = Q(review_state__in=UNREVIEWED_STATES) | Q(
    scoring_state__in=(ScoringState.PENDING, ScoringState.QUEUED)
)


def _batches(ids: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def events_enqueue_scoring(
    *, event_ids: Sequence[int], batch_size: int | None = None, measure: bool = True, only_unreviewed: bool = True
) -> int:
    """Mark unreviewed events queued and send them to the workers in batches; returns how many were sent.

    Each batch is a chain on the `cpu` queue: measure the waveform features (cached per event), then
    score. The scoring step measures whatever the first step could not, so a lost first step costs time only.
    Without ``measure`` only the scoring task is sent: measuring queues the CNN, scoring alone never does.
    """
    from ranking.tasks import measure_waveforms, score_events  # the tasks module imports this one

    wanted = Q(review_state__in=UNREVIEWED_STATES) if only_unreviewed else SCORING_WANTED
    ids = list(Event.objects.filter(wanted, pk__in=list(event_ids)).order_by("pk").values_list("pk", flat=True))
    if not ids:
        return 0
    Event.objects.filter(pk__in=ids).update(
        scoring_state=ScoringState.QUEUED, scoring_requested_at=dt.datetime.now(dt.UTC)
    )
    try:
        for batch in _batches(ids, batch_size or settings.SEISTRIAGE_SCORING_BATCH_SIZE):
            if measure:
                (measure_waveforms.si(batch) | score_events.si(batch)).delay()
            else:
                score_events.delay(batch)
    except Exception:  # the broker is down: the sweep sends them again once it is back
        logger.exception("could not send %d events to scoring; the sweep will retry", len(ids))
    return len(ids)


def events_schedule_scoring(*, event_ids: Sequence[int], measure: bool = True) -> None:
    """Score these events once the current transaction commits (at once outside a transaction)."""
    ids = list(event_ids)
    if ids:
        transaction.on_commit(lambda: events_enqueue_scoring(event_ids=ids, measure=measure))


def events_rescore_after_cnn(*, event_ids: Sequence[int]) -> None:
    """The CNN stored predictions for these events: score again, once committed, those it found windows for.

    Scoring only (no measuring, which would queue the CNN again); an event whose score already includes the
    prediction is skipped by events_score, so the rescoring is idempotent whichever task finishes first.
    """
    ids = list(
        CnnPrediction.objects.filter(event_id__in=list(event_ids))
        .exclude(class_probabilities={})
        .values_list("event_id", flat=True)
        .distinct()
    )
    events_schedule_scoring(event_ids=sorted(ids), measure=False)


def events_enqueue_cnn(*, event_ids: Sequence[int], batch_size: int = 200) -> int:
    """Send the events that the active CNN has not classified yet to the `gpu` queue in batches (windows of
    a whole batch share the network's batches); returns how many were sent (0 without an active CNN)."""
    from ranking.tasks import classify_events_cnn  # the tasks module imports this one

    active = model_version_active(kind=ModelVersion.Kind.CNN)
    ids = sorted(set(event_ids))
    if active is None or not ids:
        return 0
    done = set(
        CnnPrediction.objects.filter(event_id__in=ids, model_version=active.version).values_list("event_id", flat=True)
    )
    todo = [i for i in ids if i not in done]
    try:
        for start in range(0, len(todo), batch_size):
            classify_events_cnn.delay(todo[start : start + batch_size])
    except Exception:  # the broker is down: the next measurement of these events sends them again
        logger.exception("could not send %d events to the CNN", len(todo))
        return 0
    return len(todo)


def events_schedule_cnn(*, event_ids: Sequence[int]) -> None:
    """Classify these events (with waveforms) by the active CNN once the current transaction commits."""
    ids = list(event_ids)
    if ids:
        transaction.on_commit(lambda: events_enqueue_cnn(event_ids=ids))
