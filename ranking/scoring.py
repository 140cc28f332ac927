"""Scoring services: gather an event's inputs from the store, run the active ranker, keep the score.

Scheduling happens on commit, so a worker never looks for an event a rolled-back import never wrote.
Every unreviewed event is in one scoring state (pending, queued, scored, failed, no_model); the sweep
requeues the failed and the stalled ones, so no event waits unscored without anyone seeing why.
"""

import datetime as dt
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import Max, Q

from events.models import Event
from events.vocabulary import ReviewState, ScoringState
from ranking.cnn_runs import cnn_features_for_events, events_schedule_cnn
from ranking.ml.classes import DECISION_CLASSES, NOT_EXISTING, class_weights_parse, decision_class_for
from ranking.ml.explain import explain_importance
from ranking.ml.features import (
    FEATURE_VERSION,
    KM_PER_DEGREE,
    NEIGHBOUR_RADIUS_KM,
    EventInputs,
    FloatArray,
    ReviewedCatalogue,
    feature_matrix,
    posix_seconds,
)
from ranking.ml.gazetteer import Gazetteer, GazetteerError, gazetteer_read
from ranking.ml.ranker import importance
from ranking.models import CnnPrediction, EventScore, EventWaveformFeatures, ModelVersion
from ranking.registry import LoadedRanker, ModelArtifactError, model_version_active, ranker_active_load
from ranking.waveform_features import events_waveform_features, measurements_of

logger = logging.getLogger(__name__)

UNREVIEWED_STATES = (ReviewState.NEW, ReviewState.SCORED)
# An analyst can decide on an event in the second between its import and its scoring. Its score was asked for
# and is still wanted (it records what the model would have said), and it must not stay "queued" for ever.
SCORING_WANTED = Q(review_state__in=UNREVIEWED_STATES) | Q(
    scoring_state__in=(ScoringState.PENDING, ScoringState.QUEUED)
)
NO_MODEL_MESSAGE = "not scored: no active model"


@dataclass
class ScoringOutcome:
    scored: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    state: str = ScoringState.SCORED
    error: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"scored": len(self.scored), "skipped": len(self.skipped), "state": self.state, "error": self.error}


def class_weights() -> dict[str, float]:
    """Importance weight per decision class: SEISTRIAGE_CLASS_WEIGHTS over the defaults (ValueError if bad)."""
    return class_weights_parse(settings.SEISTRIAGE_CLASS_WEIGHTS)


def class_of_review(*, review_state: str, event_type: str) -> str | None:
    """The decision class an analyst decision stands for (a rejection is a false event, whatever the type)."""
    if review_state == ReviewState.REJECTED:
        return NOT_EXISTING
    return decision_class_for(event_type) if event_type else None


def _gazetteer_mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


@lru_cache(maxsize=4)
def _gazetteer_cached(path: str, mtime: float) -> Gazetteer:
    return gazetteer_read(Path(path))


def gazetteer_current() -> Gazetteer | None:
    """The configured gazetteer, re-read when the file changes; None when there is none (feature stays NaN)."""
    path = Path(settings.SEISTRIAGE_GAZETTEER)
    mtime = _gazetteer_mtime(path)
    if mtime is None:
        return None
    try:
        return _gazetteer_cached(str(path), mtime)
    except GazetteerError:
        logger.exception("ignoring the gazetteer")
        return None


def reviewed_catalogue(*, near: Sequence[Event] | None = None) -> ReviewedCatalogue:
    """Reviewed events (accepted or rejected, with a decision class), optionally only around ``near`` events."""
    rows = Event.objects.filter(
        review_state__in=(ReviewState.ACCEPTED, ReviewState.REJECTED),
        origin_time__isnull=False,
        latitude__isnull=False,
        longitude__isnull=False,
    )
    if near is not None:
        coordinates = [(e.latitude, e.longitude) for e in near if e.latitude is not None and e.longitude is not None]
        if not coordinates:
            return ReviewedCatalogue.empty()
        lats = [lat for lat, _ in coordinates]
        lons = [lon for _, lon in coordinates]
        lat_margin = NEIGHBOUR_RADIUS_KM / KM_PER_DEGREE
        top = max(abs(lat) for lat in lats) + lat_margin
        lon_margin = lat_margin / max(math.cos(math.radians(min(top, 89.0))), 0.02)
        rows = rows.filter(
            latitude__range=(min(lats) - lat_margin, max(lats) + lat_margin),
            longitude__range=(min(lons) - lon_margin, max(lons) + lon_margin),
        )
    times: list[float] = []
    latitudes: list[float] = []
    longitudes: list[float] = []
    classes: list[int] = []
    for origin_time, latitude, longitude, review_state, event_type in rows.values_list(
        "origin_time", "latitude", "longitude", "review_state", "event_type"
    ):
        decision_class = class_of_review(review_state=review_state, event_type=event_type)
        if decision_class is None or origin_time is None or latitude is None or longitude is None:
            continue
        times.append(origin_time.timestamp())
        latitudes.append(latitude)
        longitudes.append(longitude)
        classes.append(DECISION_CLASSES.index(decision_class))
    return ReviewedCatalogue(
        np.array(times, dtype=np.float64),
        np.array(latitudes, dtype=np.float64),
        np.array(longitudes, dtype=np.float64),
        np.array(classes, dtype=np.int64),
    )


@dataclass(frozen=True)
class CnnFeatures:
    """An event's stacking features (ranking.ml.features.CNN_FEATURE_NAMES -> value) and their CNN version."""

    version: str
    values: dict[str, float]


def events_cnn_features(*, event_ids: Sequence[int]) -> dict[int, CnnFeatures]:
    """The CNN features of the events that have a prediction with probabilities (the active CNN's, else the
    newest), with that prediction's CNN version; events without one are absent (their features stay NaN)."""
    values = cnn_features_for_events(list(event_ids))
    if not values:
        return {}
    active = model_version_active(kind=ModelVersion.Kind.CNN)
    versions: dict[int, str] = {}
    # The same choice as cnn_features_for_events: the active CNN's row, else the newest row.
    for event_id, version in (
        CnnPrediction.objects.filter(event_id__in=list(values))
        .exclude(class_probabilities={})
        .order_by("event_id", "-created_at", "-pk")
        .values_list("event_id", "model_version")
    ):
        if event_id not in versions or (active is not None and version == active.version):
            versions[event_id] = version
    return {event_id: CnnFeatures(versions[event_id], row) for event_id, row in values.items() if event_id in versions}


def event_inputs(
    *,
    event: Event,
    waveform_features: EventWaveformFeatures | None = None,
    cnn_features: Mapping[str, float] | None = None,
) -> EventInputs:
    """The ranker's inputs for one located event (its preferred origin must be loaded alongside)."""
    assert event.origin_time is not None and event.latitude is not None and event.longitude is not None
    origin = event.preferred_origin
    uncertainties = [] if origin is None else [origin.latitude_uncertainty, origin.longitude_uncertainty]
    known = [u for u in uncertainties if u is not None]
    return EventInputs(
        origin_time=posix_seconds(event.origin_time),
        latitude=event.latitude,
        longitude=event.longitude,
        depth_km=event.depth,
        magnitude=event.magnitude,
        magnitude_type=event.magnitude_type,
        used_phase_count=event.phase_count,
        used_station_count=None if origin is None else origin.used_station_count,
        azimuthal_gap_deg=event.azimuthal_gap,
        minimum_distance_deg=None if origin is None else origin.minimum_distance,
        rms_s=event.rms,
        horizontal_uncertainty_km=max(known) if known else None,
        depth_uncertainty_km=None if origin is None else origin.depth_uncertainty,
        measurements=measurements_of(waveform_features),
        similarity_correlation=None if waveform_features is None else waveform_features.similarity_correlation,
        similarity_class=(
            DECISION_CLASSES.index(waveform_features.similarity_class)
            if waveform_features is not None and waveform_features.similarity_class
            else None
        ),
        similarity_channels=None if waveform_features is None else waveform_features.similarity_channels,
        cnn_features=dict(cnn_features or {}),
    )


def events_feature_matrix(
    *,
    events: Sequence[Event],
    waveform: Mapping[int, EventWaveformFeatures] | None = None,
    cnn: Mapping[int, CnnFeatures] | None = None,
) -> FloatArray:
    """Features of located events, rows in ``events`` order (see ranking.ml.features.FEATURES).

    Waveform features come from the per-event cache, measured first where missing or stale; the CNN features
    from the stored CNN predictions. Either is read here unless given (``waveform``, ``cnn``).
    """
    if waveform is None:
        waveform = events_waveform_features(events=events)
    if cnn is None:
        cnn = events_cnn_features(event_ids=[event.pk for event in events])
    return feature_matrix(
        [
            event_inputs(
                event=event,
                waveform_features=waveform.get(event.pk),
                cnn_features=found.values if (found := cnn.get(event.pk)) else None,
            )
            for event in events
        ],
        gazetteer=gazetteer_current(),
        reviewed=reviewed_catalogue(near=events),
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
        latest: dict[int, dt.datetime] = {}
        for event_id, scored_at in EventScore.objects.filter(
            event__in=to_score, ranker_version=loaded.version.version
        ).values_list("event_id", "scored_at"):
            latest[event_id] = max(scored_at, latest.get(event_id, scored_at))
        # New waveforms or a new CNN prediction change the features without touching the event: their times
        # count too (a score's time is when its inputs were read).
        measured = dict(EventWaveformFeatures.objects.filter(event__in=to_score).values_list("event_id", "measured_at"))
        classified = dict(
            CnnPrediction.objects.filter(event__in=to_score)
            .exclude(class_probabilities={})
            .values("event_id")
            .annotate(last=Max("created_at"))
            .values_list("event_id", "last")
        )
        current = [
            e for e in to_score
            if e.pk in latest
            and latest[e.pk] >= max(e.updated_at, measured.get(e.pk, e.updated_at), classified.get(e.pk, e.updated_at))
        ]  # fmt: skip
        if current:
            _mark([e.pk for e in current], ScoringState.SCORED, "")
            outcome.skipped.extend(e.pk for e in current)
        to_score = [e for e in to_score if e not in current]
    if not to_score:
        return outcome
    try:
        stored = _score_and_store(to_score, loaded)
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


def _score_and_store(events: list[Event], loaded: LoadedRanker) -> set[int]:
    """Score and store; returns the ids stored. The score's time is when its inputs were read, so a CNN
    prediction or a measurement stored meanwhile is newer and makes the next events_score redo the event."""
    model = loaded.model
    weights = class_weights()
    waveform = events_waveform_features(events=events)  # measured where missing: before the score's time
    now = dt.datetime.now(dt.UTC)
    cnn = events_cnn_features(event_ids=[e.pk for e in events])
    features = events_feature_matrix(events=events, waveform=waveform, cnn=cnn)
    probabilities = model.predict_proba(features)
    scores = importance(probabilities, weights)
    explanations = explain_importance(model, features, weights)
    rows: list[EventScore] = []
    for index, event in enumerate(events):
        best = int(np.argmax(probabilities[index]))
        event.importance = float(scores[index])
        event.predicted_class = DECISION_CLASSES[best]
        event.predicted_probability = float(probabilities[index, best])
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
        keep = [index for index, event in enumerate(events) if event.pk not in newer]
        kept_events = [events[index] for index in keep]
        EventScore.objects.bulk_create([rows[index] for index in keep])
        Event.objects.bulk_update(
            kept_events, ["importance", "predicted_class", "predicted_probability", "scoring_state", "scoring_error"]
        )
        # Only a new event becomes scored: an analyst who opened it meanwhile keeps it.
        Event.objects.filter(pk__in=[e.pk for e in kept_events], review_state=ReviewState.NEW).update(
            review_state=ReviewState.SCORED
        )
    return {e.pk for e in kept_events}


def events_measure_waveforms(*, event_ids: Sequence[int]) -> int:
    """Measure (or reuse) the waveform features of located unreviewed events; returns how many have waveforms.

    A failure on one event does not hold back the batch: it is kept on that event's row, which then
    scores from its origin features.
    """
    events = list(
        Event.objects.filter(
            pk__in=list(event_ids), review_state__in=UNREVIEWED_STATES, origin_time__isnull=False,
            latitude__isnull=False, longitude__isnull=False,
        ).order_by("pk")
    )  # fmt: skip
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
