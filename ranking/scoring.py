"""Scoring services: gather an event's inputs from the store, run the active ranker, keep the score.

Scheduling happens on commit, so a worker never looks for an event a rolled-back import never wrote.
Every unreviewed event is in one scoring state (pending, queued, scored, failed, no_model); the sweep
requeues the failed and the stalled ones, so no event waits unscored without anyone seeing why.
"""

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import Max, Q

from events.models import Event
from events.vocabulary import UNREVIEWED_STATES, ReviewState, ScoringState
from ranking.inputs import (
    events_cnn_features,
    events_feature_matrix,
    importance_profile,
)
from ranking.ml.classes import DECISION_CLASSES
from ranking.ml.conformal import class_thresholds, triage
from ranking.ml.explain import explain_importance
from ranking.ml.features import (
    FEATURE_VERSION,
)
from ranking.ml.importance import importance_from_logit, importance_logit
from ranking.models import CnnPrediction, EventScore, EventWaveformFeatures
from ranking.pipeline import SCORING_WANTED, events_enqueue_scoring, events_schedule_cnn
from ranking.registry import LoadedRanker, ModelArtifactError, model_version_active, ranker_active_load
from ranking.signals import events_scored
from ranking.waveform_features import events_waveform_features

logger = logging.getLogger(__name__)

NO_MODEL_MESSAGE = "not scored: no active model"


@dataclass
class ScoringOutcome:
    scored: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    state: str = ScoringState.SCORED
    error: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"scored": len(self.scored), "skipped": len(self.skipped), "state": self.state, "error": self.error}


def _mark(ids: Sequence[int], state: str, error: str) -> None:
    Event.objects.filter(pk__in=list(ids)).update(scoring_state=state, scoring_error=error[:4000])


def events_score(*, event_ids: Sequence[int], force: bool = False) -> ScoringOutcome:
    """Score unreviewed events with the active ranker and store the results; idempotent.

    An event already scored by the active ranker is skipped unless ``force``. Without an active
    ranker events get the no_model state; a refused artifact or any other error marks them failed
    with the reason. Database errors propagate so the task retries them.
    """
    outcome = ScoringOutcome()
    events = list(
        Event.objects.filter(SCORING_WANTED, pk__in=list(event_ids)).select_related("preferred_origin").order_by("pk")
    )
    if not events:
        return outcome
    try:
        loaded = ranker_active_load()
    except ModelArtifactError as error:
        _mark([e.pk for e in events], ScoringState.FAILED, str(error))
        return ScoringOutcome(skipped=[e.pk for e in events], state=ScoringState.FAILED, error=str(error))
    if loaded is None:
        _mark([e.pk for e in events], ScoringState.NO_MODEL, NO_MODEL_MESSAGE)
        return ScoringOutcome(skipped=[e.pk for e in events], state=ScoringState.NO_MODEL, error=NO_MODEL_MESSAGE)
    if loaded.model.feature_version != FEATURE_VERSION:
        message = (
            f"not scored: the active ranker {loaded.version.version} uses features {loaded.model.feature_version!r}, "
            f"this code computes {FEATURE_VERSION!r}; train and promote a new ranker"
        )
        _mark([e.pk for e in events], ScoringState.FAILED, message)
        return ScoringOutcome(skipped=[e.pk for e in events], state=ScoringState.FAILED, error=message)
    unlocated = [e for e in events if e.origin_time is None or e.latitude is None or e.longitude is None]
    if unlocated:
        _mark([e.pk for e in unlocated], ScoringState.FAILED, "not scored: the event has no located origin")
        outcome.skipped.extend(e.pk for e in unlocated)
    to_score = [e for e in events if e not in unlocated]
    if not force:
        # A redelivered or requeued batch: an event already scored by this ranker since its last change
        # keeps that score (no duplicate row) and just gets its state back.
        current = _events_scored_since_last_change(to_score, loaded.version.version)
        if current:
            _mark([e.pk for e in current], ScoringState.SCORED, "")
            outcome.skipped.extend(e.pk for e in current)
        to_score = [e for e in to_score if e not in current]
    if not to_score:
        return outcome
    try:
        stored = _score_and_store(to_score, loaded, force=force)
    except OperationalError:
        raise
    except Exception as error:
        logger.exception("scoring %d events failed", len(to_score))
        _mark([e.pk for e in to_score], ScoringState.FAILED, f"{type(error).__name__}: {error}")
        outcome.state, outcome.error = ScoringState.FAILED, str(error)
        outcome.skipped.extend(e.pk for e in to_score)
        return outcome
    outcome.scored.extend(e.pk for e in to_score if e.pk in stored)
    outcome.skipped.extend(e.pk for e in to_score if e.pk not in stored)
    return outcome


def _events_scored_since_last_change(events: list[Event], ranker_version: str) -> list[Event]:
    """The events already scored by this ranker since their last change (a redelivered or requeued batch).

    The event's latest score must be this ranker's: after a rollback, the retired ranker's scores are newer than
    this ranker's old ones, and those events are scored again."""
    latest: dict[int, dt.datetime] = {}
    latest_any: dict[int, dt.datetime] = {}
    for event_id, version, scored_at in EventScore.objects.filter(event__in=events).values_list(
        "event_id", "ranker_version", "scored_at"
    ):
        latest_any[event_id] = max(scored_at, latest_any.get(event_id, scored_at))
        if version == ranker_version:
            latest[event_id] = max(scored_at, latest.get(event_id, scored_at))
    latest = {event_id: at for event_id, at in latest.items() if at >= latest_any[event_id]}
    # New waveforms or a new CNN prediction change the features without touching the event: their times
    # count too (a score's time is when its inputs were read).
    measured = dict(EventWaveformFeatures.objects.filter(event__in=events).values_list("event_id", "measured_at"))
    classified = dict(
        CnnPrediction.objects.filter(event__in=events)
        .exclude(class_probabilities={})
        .values("event_id")
        .annotate(last=Max("created_at"))
        .values_list("event_id", "last")
    )
    return [
        e
        for e in events
        if e.pk in latest
        and latest[e.pk] >= max(e.updated_at, measured.get(e.pk, e.updated_at), classified.get(e.pk, e.updated_at))
    ]


def _score_and_store(events: list[Event], loaded: LoadedRanker, *, force: bool = False) -> set[int]:
    """Score and store; returns the ids stored. The score's time is when its inputs were read, so a CNN
    prediction or a measurement stored meanwhile is newer and makes the next events_score redo the event."""
    model = loaded.model
    profile = importance_profile()
    weights = dict(profile.weights)
    waveform = events_waveform_features(events=events)  # measured where missing: before the score's time
    now = dt.datetime.now(dt.UTC)
    cnn = events_cnn_features(event_ids=[e.pk for e in events])
    features = events_feature_matrix(events=events, waveform=waveform, cnn=cnn)
    log_proba = model.log_proba(features)
    probabilities = np.exp(log_proba)
    scores = importance_from_logit(importance_logit(log_proba, features, model, profile))
    explanations = explain_importance(model, features, profile)
    triaged = triage(probabilities, class_thresholds(model.conformal_scores, settings.SEISTRIAGE_TRIAGE_ALPHA))
    rows: list[EventScore] = []
    for index, event in enumerate(events):
        best = int(np.argmax(probabilities[index]))
        event.importance = float(scores[index])
        event.predicted_class = DECISION_CLASSES[best]
        event.predicted_probability = float(probabilities[index, best])
        event.triage, event.triage_class = triaged[index]
        event.scoring_state = ScoringState.SCORED
        event.scoring_error = ""
        rows.append(
            EventScore(
                event=event,
                ranker_version=loaded.version.version,
                model_versions={"ranker": loaded.version.version}
                | ({"cnn": found.version} if (found := cnn.get(event.pk)) else {}),
                importance=event.importance,
                predicted_class=event.predicted_class,
                class_probabilities={
                    name: round(float(p), 6) for name, p in zip(DECISION_CLASSES, probabilities[index], strict=True)
                },
                class_weights=weights,
                explanation=list(explanations[index]),
                features={
                    name: None if np.isnan(value) else float(value)
                    for name, value in zip(model.feature_names, features[index], strict=True)
                },
                feature_version=model.feature_version,
                scored_at=now,
            )
        )
    with transaction.atomic():
        # Two batches scoring one event (the chain's and the rescoring after the CNN, on two workers): the rows
        # are locked, and a score from newer inputs that committed first is kept rather than overwritten.
        ids = [e.pk for e in events]
        list(Event.objects.select_for_update().filter(pk__in=ids).values_list("pk", flat=True))
        newer = set(EventScore.objects.filter(event_id__in=ids, scored_at__gt=now).values_list("event_id", flat=True))
        if not force:
            # Two deliveries of one batch at once both passed the check before scoring: repeated under the locks,
            # the second finds the first's scores and stores none (security review L5).
            newer |= {e.pk for e in _events_scored_since_last_change(events, loaded.version.version)}
        keep = [index for index, event in enumerate(events) if event.pk not in newer]
        kept_events = [events[index] for index in keep]
        EventScore.objects.bulk_create([rows[index] for index in keep])
        Event.objects.bulk_update(
            kept_events,
            [
                "importance",
                "predicted_class",
                "predicted_probability",
                "triage",
                "triage_class",
                "scoring_state",
                "scoring_error",
            ],
        )
        # Only a new event becomes scored: an analyst who opened it meanwhile keeps it.
        Event.objects.filter(pk__in=[e.pk for e in kept_events], review_state=ReviewState.NEW).update(
            review_state=ReviewState.SCORED
        )
        # Receivers above ranking (the analyst app's auto-decisions, when enabled) act after the commit.
        kept_ids = [e.pk for e in kept_events]
        transaction.on_commit(lambda: events_scored.send(sender=EventScore, event_ids=kept_ids))
    return {e.pk for e in kept_events}


def events_measure_waveforms(*, event_ids: Sequence[int]) -> int:
    """Measure (or reuse) the waveform features of located unreviewed events; returns how many have waveforms.

    A failure on one event does not hold back the batch: it is kept on that event's row, which then
    scores from its origin features.
    """
    events = list(
        Event.objects.filter(
            pk__in=list(event_ids),
            review_state__in=UNREVIEWED_STATES,
            origin_time__isnull=False,
            latitude__isnull=False,
            longitude__isnull=False,
        ).order_by("pk")
    )
    rows = events_waveform_features(events=events)
    # Events with waveforms go to the active CNN on the `gpu` queue after the commit; when it has stored its
    # predictions, classify_events_cnn schedules their rescoring (events_rescore_after_cnn).
    events_schedule_cnn(event_ids=[event_id for event_id, row in rows.items() if row.channels])
    return sum(1 for row in rows.values() if row.channels)


def events_scoring_sweep(*, stalled_after_s: float | None = None, limit: int = 20000) -> int:
    """Requeue unreviewed events that are pending, failed or waiting for a model, and any event stalled in the
    queue (one an analyst decided on before its score came still gets it, instead of staying queued)."""
    stall = settings.SEISTRIAGE_SCORING_STALL_SECONDS if stalled_after_s is None else stalled_after_s
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=stall)
    due = Q(scoring_state__in=(ScoringState.PENDING, ScoringState.FAILED)) | Q(
        scoring_state=ScoringState.QUEUED, scoring_requested_at__lt=cutoff
    )
    if model_version_active(kind="ranker") is not None:
        due |= Q(scoring_state=ScoringState.NO_MODEL)
    stalled = Q(scoring_state=ScoringState.QUEUED, scoring_requested_at__lt=cutoff)
    ids = list(
        Event.objects.filter((due & Q(review_state__in=UNREVIEWED_STATES)) | stalled)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return events_enqueue_scoring(event_ids=ids, only_unreviewed=False)


def events_rescore_unreviewed() -> int:
    """After a promotion: send every unreviewed event to be scored again by the new active ranker."""
    ids = list(Event.objects.filter(review_state__in=UNREVIEWED_STATES).values_list("pk", flat=True))
    return events_enqueue_scoring(event_ids=ids)
