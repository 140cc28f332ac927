"""The learning loop's services: training runs, candidate-vs-active evaluation, promotion and rollback.

A training run is a TrainingRun row and one Celery task on the `training` queue. The task claims the
row, trains a candidate on the older labelled events, evaluates the candidate and the active model
on the same newest (held-out) labelled events, stores both metric sets and the plot data, and, when
auto-promotion is configured, promotes a candidate that beats the active model by the margin. Any
failure is written on the run (status failed, error, log); the active model is never touched by a
failing run. A run whose worker died outright (killed, out of memory, a broker that never hands the message
back) stops beating: the periodic stall check marks it failed, so the next run of its kind can start.
A promotion or rollback is recorded as a ModelPromotion and rescores the unreviewed
events in the background.
"""

import datetime as dt
import logging
import time
import traceback
from typing import Any, NotRequired, TypedDict

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from events.models import Event, EventLabel
from ranking.cnn_runs import cnn_promoted
from ranking.inputs import class_weights
from ranking.ml.classes import DECISION_CLASSES
from ranking.ml.evaluation import ranker_metrics
from ranking.ml.features import FEATURE_NAMES, FEATURE_VERSION
from ranking.ml.learning import evaluation_curves, feature_importance, interesting_events, promotion_verdict
from ranking.ml.ranker import RankerModel, importance
from ranking.ml.verdict import effort_verdict
from ranking.models import CnnPrediction, ModelPromotion, ModelVersion, TrainingRun
from ranking.registry import (
    model_artifact_load,
    model_version_active,
    model_version_promote,
    model_version_register,
    model_versions_lock,
)
from ranking.scoring import events_rescore_unreviewed
from ranking.training import LabelledEvents, TrainingDataError, labelled_events, ranker_model_fit, ranker_train

logger = logging.getLogger(__name__)

MIN_TRAINING_EVENTS = 20
MIN_HELD_OUT_EVENTS = 5
OPEN_STATES = (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING)


class TrainingRunBusyError(Exception):
    """A run of this kind is already queued or running."""

    def __init__(self, run: TrainingRun) -> None:
        super().__init__(f"{run.kind} training run {run.pk} is already {run.status}")
        self.run = run


class TrainingRunAbandonedError(Exception):
    """The run is no longer running (the stall check marked it failed): the worker stops working on it."""


class PromotionError(ValueError):
    """A promotion or rollback that cannot be made as asked."""


# ------------------------------------------------------------------------------------------------
# Labels with provenance
# ------------------------------------------------------------------------------------------------


class ScoreSnapshot(TypedDict):
    """What the active models said about an event at a moment (analyst.audit.event_score_snapshot builds it)."""

    importance: float | None
    predicted_class: str
    predicted_probability: float | None
    ranker_version: str  # empty when the event was never scored
    model_versions: dict[str, str]  # model kind -> version, as stored with the score
    class_probabilities: dict[str, float]


class CnnSnapshot(TypedDict):
    model_version: str
    predicted_class: str
    class_probabilities: dict[str, float]


class LabelPrediction(ScoreSnapshot):
    cnn: NotRequired[CnnSnapshot]  # the active CNN's prediction, when it has one


def label_prediction_snapshot(*, event: Event, snapshot: ScoreSnapshot) -> LabelPrediction:
    """What the active models said about an event when an analyst decided: the ranker's score (versions,
    class probabilities, importance) plus the active CNN's event probabilities when it has a prediction."""
    predicted = LabelPrediction(
        importance=snapshot["importance"],
        predicted_class=snapshot["predicted_class"],
        predicted_probability=snapshot["predicted_probability"],
        ranker_version=snapshot["ranker_version"],
        model_versions=dict(snapshot["model_versions"]),
        class_probabilities=snapshot["class_probabilities"],
    )
    cnn = model_version_active(kind=ModelVersion.Kind.CNN)
    if cnn is not None:
        row = (
            CnnPrediction.objects.filter(event=event, model_version=cnn.version)
            .values("model_version", "predicted_class", "class_probabilities")
            .first()
        )
        if row is not None:
            predicted["cnn"] = row
            predicted["model_versions"] = {**predicted["model_versions"], "cnn": cnn.version}
    return predicted


# ------------------------------------------------------------------------------------------------
# Starting runs: from the UI/API, after N new labels, nightly
# ------------------------------------------------------------------------------------------------


def training_run_start(*, kind: str, trigger: str, requested_by: str) -> TrainingRun:
    """Record a queued run and send it to the `training` queue once the transaction commits.

    Raises TrainingRunBusyError when a run of the same kind is queued or running (one at a time per kind).
    """
    if kind not in ModelVersion.Kind.values:
        raise ValueError(f"kind must be one of {', '.join(ModelVersion.Kind.values)}, got {kind!r}")
    with transaction.atomic():
        # Lock the open runs of this kind so two requests at once cannot both start one.
        busy = TrainingRun.objects.select_for_update().filter(kind=kind, status__in=OPEN_STATES).first()
        if busy is not None:
            raise TrainingRunBusyError(busy)
        run = TrainingRun.objects.create(
            kind=kind, trigger=trigger, requested_by=requested_by[:150], heartbeat_at=timezone.now()
        )
        run_id = run.pk
        transaction.on_commit(lambda: _enqueue(run_id))
    return run


def _enqueue(run_id: int) -> None:
    from ranking.tasks import train_model_run  # the tasks module imports this one

    try:
        train_model_run.delay(run_id)
    except Exception as error:  # the broker is down: say so on the run instead of leaving it queued forever
        logger.exception("could not send training run %s to the training queue", run_id)
        TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.QUEUED).update(
            status=TrainingRun.Status.FAILED,
            error=f"could not reach the task broker: {error}",
            finished_at=timezone.now(),
        )


def labels_since_last_run(*, kind: str = ModelVersion.Kind.RANKER) -> int:
    """Analyst labels recorded since the last run of this kind was created (all of them before any run)."""
    last = TrainingRun.objects.filter(kind=kind).order_by("-created_at").values_list("created_at", flat=True).first()
    labels = EventLabel.objects.filter(source=EventLabel.Source.ANALYST)
    if last is not None:
        labels = labels.filter(created_at__gt=last)
    return labels.count()


def training_after_labels_check() -> TrainingRun | None:
    """Start a ranker run when SEISTRIAGE_RETRAIN_AFTER_LABELS analyst labels arrived since the last run."""
    threshold = settings.SEISTRIAGE_RETRAIN_AFTER_LABELS
    if threshold <= 0 or labels_since_last_run() < threshold:
        return None
    try:
        return training_run_start(
            kind=ModelVersion.Kind.RANKER,
            trigger=TrainingRun.Trigger.LABEL_COUNT,
            requested_by=f"after {threshold} new labels",
        )
    except TrainingRunBusyError:
        return None


def training_nightly() -> list[TrainingRun]:
    """Celery beat: a ranker run every night (skipped while one is open), plus a CNN run when one is active."""
    kinds = [ModelVersion.Kind.RANKER]
    if model_version_active(kind=ModelVersion.Kind.CNN) is not None:
        kinds.append(ModelVersion.Kind.CNN)
    started = []
    for kind in kinds:
        try:
            started.append(training_run_start(kind=kind, trigger=TrainingRun.Trigger.NIGHTLY, requested_by="nightly"))
        except TrainingRunBusyError:
            continue
    return started


def training_runs_fail_stalled(*, stalled_after_s: float | None = None) -> list[int]:
    """Mark failed the queued or running runs with no heartbeat for SEISTRIAGE_TRAINING_STALL_SECONDS.

    A run beats when it is created, claimed, and at every progress or log line; one that stops beating lost
    its worker (killed outright, or its message lost by the broker) and would otherwise block its kind
    forever. The active model is not touched. Returns the ids of the runs marked failed.
    """
    stall = settings.SEISTRIAGE_TRAINING_STALL_SECONDS if stalled_after_s is None else stalled_after_s
    now = timezone.now()
    stale = (
        TrainingRun.objects.annotate(last_beat=Coalesce("heartbeat_at", "created_at"))
        .filter(status__in=OPEN_STATES, last_beat__lt=now - dt.timedelta(seconds=stall))
        .values_list("pk", "heartbeat_at", "last_beat", "log")
    )
    failed = []
    for run_id, heartbeat_at, last_beat, log in stale:
        silent = round((now - last_beat).total_seconds())
        error = f"no heartbeat for {silent} s: the worker died (stall limit {stall:g} s); the active model is unchanged"
        stamp = now.astimezone(dt.UTC).strftime("%H:%M:%S")
        # Only while still open and silent: a run that beat again since the query is left alone.
        still_silent = Q(heartbeat_at=heartbeat_at) if heartbeat_at is not None else Q(heartbeat_at__isnull=True)
        if TrainingRun.objects.filter(still_silent, pk=run_id, status__in=OPEN_STATES).update(
            status=TrainingRun.Status.FAILED, error=error, finished_at=now, log=f"{log}{stamp} {error}\n"[-60000:]
        ):
            logger.warning("training run %s: %s", run_id, error)
            failed.append(run_id)
    return failed


# ------------------------------------------------------------------------------------------------
# Executing a run (inside the `training` worker)
# ------------------------------------------------------------------------------------------------


class _Report:
    """Progress and log lines written to the run as they happen, so the model page can show them."""

    def __init__(self, run: TrainingRun) -> None:
        self.run = run

    def __call__(self, message: str, progress: float | None = None) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
        self.run.log = f"{self.run.log}{stamp} {message}\n"[-60000:]
        if progress is not None:
            self.run.progress = max(self.run.progress, min(progress, 1.0))
        self.run.heartbeat_at = timezone.now()
        # Written only while the run is still running: one the stall check gave up on is not taken back.
        written = TrainingRun.objects.filter(pk=self.run.pk, status=TrainingRun.Status.RUNNING).update(
            log=self.run.log, progress=self.run.progress, heartbeat_at=self.run.heartbeat_at
        )
        if not written:
            raise TrainingRunAbandonedError(f"training run {self.run.pk} is no longer running")


def training_run_execute(*, run_id: int) -> TrainingRun:
    """Run one training run to its end (succeeded or failed); a finished run is left as it is (idempotent)."""
    # Claim it: queued, or running again because the worker that had it died (late acknowledgement).
    claimed = TrainingRun.objects.filter(pk=run_id, status__in=OPEN_STATES).update(
        status=TrainingRun.Status.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        progress=0.0,
        error="",
    )
    run = TrainingRun.objects.get(pk=run_id)
    if claimed != 1:
        return run
    report = _Report(run)
    started = time.perf_counter()
    try:
        report(f"{run.kind} training started ({run.get_trigger_display()}, by {run.requested_by})", 0.01)
        if run.kind == ModelVersion.Kind.CNN:
            _cnn_run(run, report)
        else:
            _ranker_run(run, report)
        run.status = TrainingRun.Status.SUCCEEDED
        report("finished", 1.0)
    except TrainingRunAbandonedError:  # declared dead while it worked: its failure stays as recorded
        logger.warning("training run %s was marked failed while it ran; its work is dropped", run_id)
        return TrainingRun.objects.get(pk=run_id)
    except Exception as error:  # every failure ends on the run, visible; the active model keeps serving
        logger.exception("training run %s failed", run_id)
        run.status = TrainingRun.Status.FAILED
        run.error = f"{type(error).__name__}: {error}"
        run.log = f"{run.log}{traceback.format_exc()[-4000:]}"
    run.finished_at = timezone.now()
    run.duration_s = round(time.perf_counter() - started, 2)
    run.save()
    if run.status == TrainingRun.Status.SUCCEEDED and run.candidate is not None and not run.promotion_decision:
        _auto_promote(run)  # (a first ranker's run has promoted it already: _first_ranker_run)
    return run


def _split(data: LabelledEvents, share: float) -> int:
    """Index of the first held-out event: the newest ``share`` of the time-ordered labelled events."""
    n = len(data.labels)
    return max(MIN_TRAINING_EVENTS, min(n - MIN_HELD_OUT_EVENTS, round(n * (1.0 - share))))


def _rows(data: LabelledEvents, part: slice | list[int]) -> LabelledEvents:
    rows = list(range(len(data.labels)))[part] if isinstance(part, slice) else part
    return LabelledEvents(
        [data.event_ids[i] for i in rows],
        data.features[rows],
        data.labels[rows],
        data.times[rows],
        data.magnitudes[rows],
        label_sources={data.event_ids[i]: data.label_sources[data.event_ids[i]] for i in rows},
    )


def _split_real(data: LabelledEvents, split: int) -> tuple[list[int], list[int]]:
    """Training and held-out rows: synthetic_false events (ranking.synthetic_false) always train, never evaluate."""
    synthetic = [data.label_sources.get(e) == EventLabel.Source.SYNTHETIC_FALSE for e in data.event_ids]
    train = [i for i in range(len(data.labels)) if i < split or synthetic[i]]
    return train, [i for i in range(split, len(data.labels)) if not synthetic[i]]


def _counts(labels: np.ndarray[Any, np.dtype[np.int64]]) -> dict[str, int]:
    counts = np.bincount(labels, minlength=len(DECISION_CLASSES))
    return {name: int(count) for name, count in zip(DECISION_CLASSES, counts, strict=True)}


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def _ranker_run(run: TrainingRun, report: _Report) -> None:
    weights = class_weights()
    report("reading the labelled events and their features")
    data = labelled_events()
    n = len(data.labels)
    if n < MIN_TRAINING_EVENTS + MIN_HELD_OUT_EVENTS or len(np.unique(data.labels)) < 2:
        if model_version_active(kind=ModelVersion.Kind.RANKER) is None:
            _first_ranker_run(run, report)
            return
        raise TrainingDataError(
            f"{n} labelled events in {len(np.unique(data.labels))} classes: a run needs at least "
            f"{MIN_TRAINING_EVENTS + MIN_HELD_OUT_EVENTS} events in two decision classes"
        )
    split = _split(data, settings.SEISTRIAGE_HOLDOUT_SHARE)
    train_rows, held_out_rows = _split_real(data, split)
    train, held_out = _rows(data, train_rows), _rows(data, held_out_rows)
    labels_by_source = _label_sources(data.event_ids)
    run.data_summary = {
        "events": n,
        "labels": _counts(data.labels),
        "label_sources": labels_by_source,
        "training_events": len(train.labels),
        "training_labels": _counts(train.labels),
        "training_span": [_iso(train.times.min()), _iso(train.times.max())],
        "held_out_events": len(held_out.labels),
        "held_out_labels": _counts(held_out.labels),
        "held_out_span": [_iso(held_out.times.min()), _iso(held_out.times.max())],
        "held_out_share": settings.SEISTRIAGE_HOLDOUT_SHARE,
    }
    report(f"{n} labelled events: {len(train.labels)} to train on, the newest {len(held_out.labels)} held out", 0.2)
    started = time.perf_counter()
    # The generic model learns only from shared catalogue rows older than the held-out labels.
    model = ranker_model_fit(train, until=dt.datetime.fromtimestamp(float(held_out.times.min()), dt.UTC))
    fit_seconds = round(time.perf_counter() - started, 2)
    report(f"candidate fitted in {fit_seconds} s", 0.55)
    candidate_probabilities = model.predict_proba(held_out.features)
    run.candidate_metrics = ranker_metrics(
        held_out.labels, candidate_probabilities, held_out.times, held_out.magnitudes, weights
    )
    curves: dict[str, Any] = {
        "candidate": evaluation_curves(
            held_out.labels, candidate_probabilities, held_out.times, held_out.magnitudes, weights
        ),
    }
    curves["candidate"]["feature_importance"] = feature_importance(model, held_out.features, weights)
    report("candidate evaluated on the held-out events", 0.7)
    active = model_version_active(kind=ModelVersion.Kind.RANKER)
    if active is not None:
        run.compared_with = active
        active_model = model_artifact_load(model_version=active)
        if not isinstance(active_model, RankerModel) or active_model.feature_version != FEATURE_VERSION:
            run.active_metrics = {"error": f"{active.version} uses other features; it cannot score these events"}
        else:
            active_probabilities = active_model.predict_proba(held_out.features)
            run.active_metrics = ranker_metrics(
                held_out.labels, active_probabilities, held_out.times, held_out.magnitudes, weights
            )
            last_seen = active.training_summary.get("last_origin_time")
            seen = int((held_out.times <= dt.datetime.fromisoformat(last_seen).timestamp()).sum()) if last_seen else 0
            run.active_metrics["held_out_events_in_its_training_span"] = seen
            curves["active"] = evaluation_curves(
                held_out.labels, active_probabilities, held_out.times, held_out.magnitudes, weights
            )
            curves["active"]["feature_importance"] = feature_importance(active_model, held_out.features, weights)
            curves["verdict"] = effort_verdict(
                interesting_events(held_out.labels, weights),
                importance(candidate_probabilities, weights),
                importance(active_probabilities, weights),
            )
        report(f"active model {active.version} evaluated on the same held-out events", 0.85)
    run.curves = curves
    run.candidate = model_version_register(
        kind=ModelVersion.Kind.RANKER,
        model=model,
        created_by=f"training run {run.pk} ({run.requested_by})",
        feature_names=list(FEATURE_NAMES),
        feature_version=FEATURE_VERSION,
        estimator=model.estimator_name,
        training_summary={
            "events": len(train.labels),
            "labels": _counts(train.labels),
            "first_origin_time": _iso(train.times.min()),
            "last_origin_time": _iso(train.times.max()),
            "features_used": [FEATURE_NAMES[c] for c in model.used_columns],
            "fit_seconds": fit_seconds,
            "training_run": run.pk,
            "false_class": train.false_class_sources(),
        },
        metrics={"held_out": run.candidate_metrics, "training_run": run.pk},
    )
    run.save()
    report(f"registered candidate {run.candidate.version}", 0.95)


def _first_ranker_run(run: TrainingRun, report: _Report) -> None:
    """A new network with too few labels to hold any out and no ranker yet: its events would wait unscored, so
    the run registers the ranker it can (with under MIN_LOCAL_LABELS labels, the generic model alone: cold start)
    and promotes it, recorded as an automatic promotion that says why. Nothing is evaluated: no labels to spare."""
    version = ranker_train(created_by=f"training run {run.pk} ({run.requested_by})")
    summary = version.training_summary
    reason = (
        f"no active ranker; {summary.get('cold_start') or 'first ranker'}, too few labels to hold any out"
        f" ({summary['events']})"
    )
    run.candidate = version
    run.data_summary = dict(summary)
    run.promotion_decision = {"promote": True, "reason": reason}
    run.save()
    report(f"registered {version.version}: {reason}", 0.9)
    model_promote(
        model_version=version,
        by="training run",
        action=ModelPromotion.Action.AUTO_PROMOTE,
        reason=reason,
        training_run=run,
    )


def _label_sources(event_ids: list[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for source in EventLabel.objects.filter(event_id__in=event_ids).values_list("source", flat=True):
        counts[source] = counts.get(source, 0) + 1
    return counts


def _cnn_run(run: TrainingRun, report: _Report) -> None:
    from ranking.cnn_runs import cnn_evaluate, cnn_train

    epochs = 60
    seen = {"epochs": 0}

    def progress(message: str) -> None:
        if message.startswith("epoch "):
            seen["epochs"] += 1
            report(message, 0.1 + 0.7 * seen["epochs"] / epochs)
        else:
            report(message)

    candidate = cnn_train(created_by=f"training run {run.pk} ({run.requested_by})", epochs=epochs, progress=progress)
    run.candidate = candidate
    run.candidate_metrics = dict(candidate.metrics.get("held_out", {}))
    run.data_summary = dict(candidate.training_summary)
    report(f"registered candidate {candidate.version}", 0.85)
    active = model_version_active(kind=ModelVersion.Kind.CNN)
    if active is not None:
        run.compared_with = active
        run.active_metrics = cnn_evaluate(model_version=active)["cnn"]
        report(f"active CNN {active.version} evaluated on the same held-out windows", 0.95)
    run.save()


def _auto_promote(run: TrainingRun) -> None:
    metric = settings.SEISTRIAGE_AUTO_PROMOTE_METRIC
    if not metric:
        run.promotion_decision = {"promote": False, "reason": "auto-promotion is off (SEISTRIAGE_AUTO_PROMOTE_METRIC)"}
        run.save(update_fields=["promotion_decision"])
        return
    active = run.active_metrics if run.compared_with_id is not None else None
    verdict = promotion_verdict(
        run.candidate_metrics, active, metric=metric, margin=settings.SEISTRIAGE_AUTO_PROMOTE_MARGIN
    )
    run.promotion_decision = verdict
    run.save(update_fields=["promotion_decision"])
    if verdict["promote"] and run.candidate is not None:
        model_promote(
            model_version=run.candidate,
            by="auto-promotion",
            action=ModelPromotion.Action.AUTO_PROMOTE,
            reason=verdict["reason"],
            training_run=run,
        )


# ------------------------------------------------------------------------------------------------
# Promotion and rollback
# ------------------------------------------------------------------------------------------------


def model_promote(
    *,
    model_version: ModelVersion,
    by: str,
    action: str = ModelPromotion.Action.PROMOTE,
    reason: str = "",
    training_run: TrainingRun | None = None,
) -> ModelPromotion:
    """Make a version the active one of its kind (artifact verified first), record who and why, and rescore
    the unreviewed events in the background once the change commits."""
    if model_version.status == ModelVersion.Status.ACTIVE:
        raise PromotionError(f"{model_version.version} is already the active {model_version.kind}")
    with transaction.atomic():
        model_versions_lock(kind=model_version.kind)  # a promotion at the same moment waits for this one
        previous = model_version_active(kind=model_version.kind)
        model_version_promote(model_version=model_version)
        promotion = ModelPromotion.objects.create(
            kind=model_version.kind,
            action=action,
            model_version=model_version,
            previous=previous,
            training_run=training_run or model_version.training_runs.order_by("-created_at").first(),
            by=by[:150],
            reason=reason,
        )
        if model_version.kind == ModelVersion.Kind.RANKER:
            transaction.on_commit(_rescore_in_background)
        elif model_version.kind == ModelVersion.Kind.CNN:
            cnn_promoted()  # sends the events with waveforms to the new CNN once this commits
    return promotion


def _rescore_in_background() -> None:
    from ranking.tasks import rescore_unreviewed

    try:
        rescore_unreviewed.delay()
    except Exception:  # no broker: rescore from here; the sweep covers anything left queued
        logger.exception("could not send the rescoring task; rescoring from this process")
        events_rescore_unreviewed()


def model_rollback(*, model_version: ModelVersion, by: str, reason: str = "") -> ModelPromotion:
    """Put an earlier (retired) version back in service in one action."""
    if model_version.status == ModelVersion.Status.ACTIVE:
        raise PromotionError(f"{model_version.version} is already the active {model_version.kind}")
    if model_version.status != ModelVersion.Status.RETIRED or model_version.promoted_at is None:
        raise PromotionError(f"{model_version.version} was never active: promote it instead of rolling back to it")
    return model_promote(
        model_version=model_version,
        by=by,
        action=ModelPromotion.Action.ROLLBACK,
        reason=reason or f"rolled back to {model_version.version}",
    )
