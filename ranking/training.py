"""Training and evaluating the ranker from the labelled events in the store (the analysts' decisions)."""

import datetime as dt
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt
from django.conf import settings

from events.labels import labels_in_force_order
from events.models import Event, EventLabel
from ranking.cnn_runs import cnn_trained_on_events
from ranking.inputs import (
    class_of_review,
    class_weights,
    events_cnn_features,
    events_feature_matrix,
    importance_profile,
)
from ranking.ml.classes import DECISION_CLASSES, NOT_EXISTING
from ranking.ml.conformal import class_thresholds, conformal_report
from ranking.ml.evaluation import distinct_levels, profile_report, ranker_metrics, ranker_plots
from ranking.ml.explain import explain_importance
from ranking.ml.features import (
    DEFAULT_EXCLUDED_GROUPS,
    FEATURE_NAMES,
    FEATURE_VERSION,
    LOCATION_GROUPS,
    features_of_groups,
)
from ranking.ml.gate import baseline_gate
from ranking.ml.generic import CatalogueError, generic_fit_from_catalogue
from ranking.ml.importance import PROFILES
from ranking.ml.ranker import ESTIMATORS, RankerModel, ranker_fit
from ranking.models import ModelVersion
from ranking.registry import model_artifact_load, model_version_active, model_version_promote, model_version_register
from ranking.scoring import events_rescore_unreviewed


class TrainingDataError(Exception):
    """Not enough labelled events to train or evaluate."""


@dataclass
class LabelledEvents:
    event_ids: list[int]
    features: npt.NDArray[np.float64]
    labels: npt.NDArray[np.int64]
    times: npt.NDArray[np.float64]
    magnitudes: npt.NDArray[np.float64]
    cnn_versions: dict[int, str] = field(default_factory=dict)  # event id -> CNN version of its CNN features
    cnn_in_sample: int = 0  # events whose CNN features were left out: that CNN was trained on them
    label_sources: dict[int, str] = field(default_factory=dict)  # event id -> EventLabel.source in force

    def false_class_sources(self) -> dict[str, int]:
        """Where the not_existing labels come from: analyst rejections, imported ones, synthetic_false."""
        false_index = DECISION_CLASSES.index(NOT_EXISTING)
        counts = Counter(
            self.label_sources.get(event_id, "")
            for event_id, label in zip(self.event_ids, self.labels, strict=True)
            if label == false_index
        )
        return {
            "analyst": counts.get(EventLabel.Source.ANALYST, 0),
            "imported_review": counts.get(EventLabel.Source.IMPORTED_REVIEW, 0),
            "synthetic_false": counts.get(EventLabel.Source.SYNTHETIC_FALSE, 0),
        }


def labelled_events(
    *, since: dt.datetime | None = None, until: dt.datetime | None = None, synthetic: bool = True
) -> LabelledEvents:
    """Located events with a decision label (each event's label in force), in origin-time order.

    Their CNN features come from the stored predictions (the active CNN's, else the newest), so a ranker
    trained after a CNN promotion stacks on that CNN wherever it has classified the labelled events; except
    where that CNN was trained on the event itself: its probabilities there are in-sample (over-confident), and
    a ranker that learned from them would over-trust the CNN, so those events train with NaN CNN features.

    ``synthetic=False`` leaves out the synthetic_false training events (ranking.synthetic_false): evaluation
    only ever sees real labels.
    """
    events = Event.objects.filter(origin_time__isnull=False, latitude__isnull=False, longitude__isnull=False)
    if since is not None:
        events = events.filter(origin_time__gte=since)
    if until is not None:
        events = events.filter(origin_time__lt=until)
    if not synthetic:
        events = events.exclude(labels__source=EventLabel.Source.SYNTHETIC_FALSE)
    latest: dict[int, int] = {}
    sources: dict[int, str] = {}
    for event_id, review_state, event_type, source in (
        EventLabel.objects.filter(event__in=events)
        .order_by("event_id", *labels_in_force_order())
        .values_list("event_id", "review_state", "event_type", "source")
    ):
        if event_id in latest or event_id in sources:
            continue
        sources[event_id] = source
        decision_class = class_of_review(review_state=review_state, event_type=event_type)
        if decision_class is not None:
            latest[event_id] = DECISION_CLASSES.index(decision_class)
    rows = list(events.filter(pk__in=list(latest)).select_related("preferred_origin").order_by("origin_time", "pk"))
    cnn = events_cnn_features(event_ids=[e.pk for e in rows])
    trained_on = cnn_trained_on_events(versions={found.version for found in cnn.values()})
    in_sample = [event_id for event_id, found in cnn.items() if event_id in trained_on.get(found.version, set())]
    for event_id in in_sample:
        del cnn[event_id]
    return LabelledEvents(
        event_ids=[e.pk for e in rows],
        features=events_feature_matrix(events=rows, cnn=cnn),
        labels=np.array([latest[e.pk] for e in rows], dtype=np.int64),
        times=np.array([e.origin_time.timestamp() for e in rows if e.origin_time], dtype=np.float64),
        magnitudes=np.array([np.nan if e.magnitude is None else e.magnitude for e in rows], dtype=np.float64),
        cnn_versions={event_id: found.version for event_id, found in cnn.items()},
        cnn_in_sample=len(in_sample),
        label_sources={event_id: sources[event_id] for event_id in latest},
    )


SHARED_CATALOGUE = Path("catalogs") / "pnsn_comcat_2018-2022.csv"
# The demo bundle's cut of the same catalogue (demo/README.md): the generic model's source without the shared data.
DEMO_CATALOGUE = Path("events") / "pnsn_labelled.csv"
# Fewer local labels than this (or one class only): the ranker is the generic model alone (cold start).
MIN_LOCAL_LABELS = 20


@dataclass(frozen=True)
class GenericModel:
    model: RankerModel
    source: str  # which catalogue it was fitted from, in words, with its path


def generic_catalogue() -> tuple[Path, str] | None:
    """The labelled catalogue the generic model learns from: the shared PNSN catalogue, else the demo bundle's
    cut of it (SEISTRIAGE_DEMO_BUNDLE), so a deployment without the shared folder still has a generic model."""
    shared = Path(settings.SHARED_DATA_DIR) / SHARED_CATALOGUE
    if shared.is_file():
        return shared, "shared"
    demo = Path(settings.DEMO_BUNDLE_DIR) / DEMO_CATALOGUE
    if demo.is_file():
        return demo, "demo"
    return None


def generic_model_with_source(*, until: dt.datetime | None = None) -> GenericModel | None:
    """The generic (cold-start) ranker from the labelled catalogue's rows before ``until`` (and before today), and
    where it came from; None when neither the shared nor the demo catalogue is there or it holds too few labels."""
    found = generic_catalogue()
    if found is None:
        return None
    path, tag = found
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    day = (until or dt.datetime.now(dt.UTC)).date()
    model = _generic_model_cached(str(path), tag, mtime, day.isoformat())
    if model is None:
        return None
    name = "shared PNSN catalogue" if tag == "shared" else "demo bundle's PNSN catalogue"
    return GenericModel(model, f"{name} ({path}, {model.local_labels} labelled events)")


def generic_model_fit(*, until: dt.datetime | None = None) -> RankerModel | None:
    """The generic (cold-start) ranker alone (generic_model_with_source)."""
    found = generic_model_with_source(until=until)
    return None if found is None else found.model


@lru_cache(maxsize=4)
def _generic_model_cached(path: str, tag: str, mtime: float, day: str) -> RankerModel | None:
    # One fit per catalogue file version and cut-off day, kept under DATA_DIR: every training run (and every
    # worker process) reuses it instead of refitting 10,000 rows.
    stored = Path(settings.DATA_DIR) / "generic_models" / f"{FEATURE_VERSION}-{tag}-{int(mtime)}-{day}.joblib"
    if stored.exists():
        model = joblib.load(stored)  # our own file, written below
        if isinstance(model, RankerModel) and model.feature_version == FEATURE_VERSION:
            return model
    cutoff = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp()
    try:
        fitted = generic_fit_from_catalogue(Path(path), until=cutoff)
    except CatalogueError as error:
        raise TrainingDataError(str(error)) from None
    if fitted is not None:
        stored.parent.mkdir(parents=True, exist_ok=True)
        partial = stored.with_suffix(f".{os.getpid()}.part")
        joblib.dump(fitted, partial)
        partial.replace(stored)  # atomic: a concurrent reader sees the whole file or none
    return fitted


def ranker_model_fit(
    data: "LabelledEvents", *, until: dt.datetime | None = None, estimator: str = "hist_gradient_boosting"
) -> RankerModel:
    """The product's ranker on labelled events: the default feature groups, pooled with the generic model."""
    model = ranker_fit(
        data.features,
        data.labels,
        data.times,
        feature_names=FEATURE_NAMES,
        feature_version=FEATURE_VERSION,
        estimator_name=estimator,
        excluded_features=features_of_groups(DEFAULT_EXCLUDED_GROUPS),
    )
    model.generic = generic_model_fit(until=until)
    return model


def ranker_train(
    *,
    created_by: str,
    until: dt.datetime | None = None,
    estimator: str = "hist_gradient_boosting",
    promote: bool = False,
) -> ModelVersion:
    """Train a ranker on the labelled events before ``until`` and register it (and promote it when asked). The
    blast sites (its ``blast_site`` features) are relearned first from the explosions before ``until``."""
    from ranking.blast_sites import blast_sites_learn  # blast_sites imports ranking.inputs, as this module does

    blast_sites_learn(until=until)
    data = labelled_events(until=until)
    if len(data.labels) < MIN_LOCAL_LABELS or len(np.unique(data.labels)) < 2:
        return _cold_start_register(data, created_by=created_by, until=until, promote=promote)
    started = time.perf_counter()
    try:
        model = ranker_model_fit(data, until=until, estimator=estimator)
    except ValueError as error:  # e.g. the time-ordered training part holds one class only
        raise TrainingDataError(str(error)) from None
    return _ranker_register(
        model,
        data,
        started=started,
        created_by=created_by,
        promote=promote,
        excluded_groups=DEFAULT_EXCLUDED_GROUPS,
        generic_model=None
        if model.generic is None
        else {"events": model.generic.local_labels, "weight": round(model.generic_weight(), 4)},
        cnn={
            "events": len(data.cnn_versions),
            "versions": dict(Counter(data.cnn_versions.values()).most_common()),
            "in_sample_left_out": data.cnn_in_sample,
        },
    )


def _ranker_register(
    model: RankerModel,
    data: LabelledEvents,
    *,
    started: float,
    created_by: str,
    promote: bool,
    excluded_groups: Sequence[str],
    generic_model: dict[str, Any] | None,
    cnn: dict[str, Any],
    **summary: Any,
) -> ModelVersion:
    """Register a fitted ranker with its training summary (and promote it, rescoring the queue, when asked)."""
    counts = np.bincount(data.labels, minlength=len(DECISION_CLASSES))
    version = model_version_register(
        kind=ModelVersion.Kind.RANKER,
        model=model,
        created_by=created_by,
        feature_names=list(FEATURE_NAMES),
        feature_version=FEATURE_VERSION,
        estimator=model.estimator_name,
        training_summary={
            **summary,
            "events": len(data.labels),
            "labels": {name: int(count) for name, count in zip(DECISION_CLASSES, counts, strict=True)},
            "first_origin_time": _iso_or_none(data.times.min() if len(data.times) else None),
            "last_origin_time": _iso_or_none(data.times.max() if len(data.times) else None),
            "features_used": [FEATURE_NAMES[c] for c in model.used_columns],
            "excluded_groups": list(excluded_groups),
            "generic_model": generic_model,
            "cnn": cnn,
            "fit_seconds": round(time.perf_counter() - started, 2),
            # The false class's provenance (docs/false_events.md): real rejections against synthetic_false.
            "false_class": data.false_class_sources(),
            # How much P(not existing) rests on the model rather than the label-free waveform prior.
            "false_prior_model_weight": round(model.false_prior_weight(), 4),
        },
    )
    if promote:
        model_version_promote(model_version=version)
        events_rescore_unreviewed()
    return version


def _cold_start_register(
    data: LabelledEvents, *, created_by: str, until: dt.datetime | None, promote: bool
) -> ModelVersion:
    """Too few local labels for a local model: register the generic model alone (weight 1.0 on it), so a new
    network's events are still scored and explained; its summary says so."""
    classes = len(np.unique(data.labels))
    started = time.perf_counter()
    generic = generic_model_with_source(until=until)
    if generic is None:
        raise TrainingDataError(
            f"{len(data.labels)} labelled events in {classes} classes: a local ranker needs at least "
            f"{MIN_LOCAL_LABELS} events in two decision classes, and there is no generic model to start from: "
            f"neither {Path(settings.SHARED_DATA_DIR) / SHARED_CATALOGUE} nor "
            f"{Path(settings.DEMO_BUNDLE_DIR) / DEMO_CATALOGUE} is there (SEISTRIAGE_DEMO_BUNDLE)"
        )
    model = generic.model
    return _ranker_register(
        model,
        data,
        started=started,
        created_by=created_by,
        promote=promote,
        excluded_groups=LOCATION_GROUPS,
        generic_model={"events": model.local_labels, "weight": 1.0, "source": generic.source},
        cnn={"events": 0, "versions": {}, "in_sample_left_out": 0},
        cold_start=f"cold start: generic model only, {len(data.labels)} local labels",
    )


def _iso_or_none(seconds: float | None) -> str | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def ranker_evaluate(
    *,
    model_version: ModelVersion | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    plots: Path | None = None,
    compare: bool = False,
    gate: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Metrics of a stored ranker (default: the active one) on the labelled events in [since, until).

    Besides the classification metrics: per profile, the queue's tie rate, effort against an oracle and effort
    curves; calibration resolution; empty explanations; the conformal triage on these held-out labels. With
    ``gate`` (and ``since``), the baseline gate, feature-group ablation and cold-start figures on the events
    before ``since`` (ranking.ml.gate). With ``compare``, the three estimator families are also trained on the
    events before ``since`` and scored on the same held-out events, so the choice of estimator can be justified.
    """
    version = model_version or model_version_active(kind=ModelVersion.Kind.RANKER)
    if version is None:
        raise TrainingDataError("no ranker to evaluate: train one, or name it with --model")
    model = model_artifact_load(model_version=version)
    held_out = labelled_events(since=since, until=until, synthetic=False)
    if len(held_out.labels) == 0:
        raise TrainingDataError("no labelled events in the evaluation window")
    weights = class_weights()
    probabilities = model.predict_proba(held_out.features)
    result: dict[str, Any] = {
        "model": version.version,
        "window": [since.isoformat() if since else None, until.isoformat() if until else None],
        "metrics": ranker_metrics(held_out.labels, probabilities, held_out.times, held_out.magnitudes, weights),
    }
    result["metrics"]["ranking_evidence"] = _ranking_evidence(model, held_out, since=since, gate=gate, say=progress)
    if version.training_summary.get("cold_start"):  # the generic model alone: all its weight is on the generic
        result["metrics"]["ranking_evidence"]["generic_weight"] = 1.0
    if plots is not None:
        written = ranker_plots(plots, held_out.labels, probabilities, held_out.times, held_out.magnitudes, weights)
        result["plots"] = [str(path) for path in written]
    if compare:
        result["comparison"] = _compare_estimators(since=since, held_out=held_out, weights=weights)
    version.metrics = {**version.metrics, "latest_evaluation": result["metrics"]}
    version.save(update_fields=["metrics"])
    return result


def _ranking_evidence(
    model: RankerModel,
    held_out: LabelledEvents,
    *,
    since: dt.datetime | None,
    gate: bool,
    say: Callable[[str], None] | None,
) -> dict[str, Any]:
    """What issue 14's "done when" asks of the queue, measured on the held-out labelled events."""
    probabilities = model.predict_proba(held_out.features)
    profile = importance_profile()
    explanations = explain_importance(model, held_out.features, profile)
    alpha = settings.SEISTRIAGE_TRIAGE_ALPHA
    evidence: dict[str, Any] = {
        "profile": profile.name,
        "profiles": {
            name: profile_report(model, held_out.features, held_out.labels, held_out.times, name) for name in PROFILES
        },
        "calibration": {
            "method": "vector scaling: a scale and a bias per class on the trees' log-odds",
            "scale": None if model.calibration is None else [round(float(v), 4) for v in model.calibration.scale],
            "distinct_probability_levels": distinct_levels(probabilities),
            "events": len(held_out.labels),
        },
        "empty_explanations": sum(1 for explanation in explanations if not explanation),
        "conformal": conformal_report(
            probabilities, held_out.labels, class_thresholds(model.conformal_scores, alpha), alpha
        )
        | {"calibration_events": sum(len(scores) for scores in model.conformal_scores.values())},
        "generic_weight": round(model.generic_weight(), 4),
    }
    if gate and since is not None:
        training = labelled_events(until=since)
        if len(training.labels) >= 100 and len(np.unique(training.labels)) >= 2:
            evidence["gate"] = baseline_gate(
                (training.features, training.labels, training.times),
                (held_out.features, held_out.labels),
                progress=say,
            )
    return evidence


def _compare_estimators(
    *, since: dt.datetime | None, held_out: LabelledEvents, weights: dict[str, float]
) -> dict[str, Any]:
    training = labelled_events(until=since)
    comparison: dict[str, Any] = {}
    for name in ESTIMATORS:
        started = time.perf_counter()
        model = ranker_fit(
            training.features,
            training.labels,
            training.times,
            feature_names=FEATURE_NAMES,
            feature_version=FEATURE_VERSION,
            estimator_name=name,
        )
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        probabilities = model.predict_proba(held_out.features)
        predict_seconds = time.perf_counter() - started
        metrics = ranker_metrics(held_out.labels, probabilities, held_out.times, held_out.magnitudes, weights)
        comparison[name] = {
            "explosion_vs_earthquake_average_precision": metrics["explosion_vs_earthquake_average_precision"],
            "importance_average_precision": metrics["importance"]["average_precision"],
            "expected_calibration_error": metrics["expected_calibration_error"],
            "fit_seconds": round(fit_seconds, 2),
            "predict_rows_per_second": round(len(held_out.labels) / max(predict_seconds, 1e-9)),
        }
    return comparison
