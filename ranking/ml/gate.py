"""The baseline gate: does the product's ranker beat a plain model on seven catalogue columns, and what does
each feature group add? Pure NumPy/scikit-learn; `evaluate --kind ranker` runs it on a time split.

- Baseline: scikit-learn's HistGradientBoostingClassifier with default settings on latitude, longitude,
  depth, magnitude, local solar hour, weekday and pick count (BASELINE_FEATURES), trained on the same rows.
- Ablation: the product's ranker refitted without each feature group (or, for a group the default model
  leaves out, with it added back); delta AP = AP(with group) - AP(without group) on explosion-like vs rest.
- Intervals: paired bootstrap over the held-out events (the same resampled events for both models), 2.5 and
  97.5 percentiles. A group absent from the training data (no waveforms, no CNN) cannot be measured and is
  reported as such without a fit.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score

from ranking.ml.classes import DECISION_CLASSES, EXPLOSION_LIKE
from ranking.ml.features import DEFAULT_EXCLUDED_GROUPS, FEATURE_GROUPS, FEATURE_NAMES, FEATURE_VERSION
from ranking.ml.generic import generic_fit
from ranking.ml.ranker import RankerModel, ranker_fit

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

BASELINE_FEATURES: tuple[str, ...] = (
    "latitude",
    "longitude",
    "depth_km",
    "magnitude",
    "local_solar_hour",
    "local_day_of_week",
    "used_phase_count",
)
EX = DECISION_CLASSES.index(EXPLOSION_LIKE)


def _ap(truth: npt.NDArray[np.bool_], score: FloatArray) -> float | None:
    if truth.all() or not truth.any():
        return None
    return float(average_precision_score(truth, score))


def paired_bootstrap(
    truth: npt.NDArray[np.bool_], first: FloatArray, second: FloatArray, *, draws: int = 500, seed: int = 0
) -> dict[str, Any]:
    """AP(first) - AP(second) on the events, with a paired bootstrap 95 % interval."""
    difference = _ap(truth, first)
    other = _ap(truth, second)
    if difference is None or other is None:
        return {"delta": None, "low": None, "high": None}
    rng = np.random.default_rng(seed)
    deltas = []
    for _ in range(draws):
        rows = rng.integers(0, len(truth), len(truth))
        a, b = _ap(truth[rows], first[rows]), _ap(truth[rows], second[rows])
        if a is not None and b is not None:
            deltas.append(a - b)
    low, high = np.percentile(deltas, [2.5, 97.5]) if deltas else (np.nan, np.nan)
    return {"delta": round(difference - other, 4), "low": round(float(low), 4), "high": round(float(high), 4)}


def baseline_fit(features: FloatArray, labels: IntArray) -> Callable[[FloatArray], FloatArray]:
    """The seven-column baseline; returns a function giving P(explosion-like) for a feature matrix."""
    columns = [FEATURE_NAMES.index(name) for name in BASELINE_FEATURES]
    model = HistGradientBoostingClassifier(random_state=0).fit(features[:, columns], labels)
    classes = list(model.classes_)

    def explosion_probability(rows: FloatArray) -> FloatArray:
        if EX not in classes:
            return np.zeros(len(rows))
        return np.asarray(model.predict_proba(rows[:, columns])[:, classes.index(EX)], dtype=np.float64)

    return explosion_probability


def _product_fit(features: FloatArray, labels: IntArray, times: FloatArray, excluded: Sequence[str]) -> RankerModel:
    names = tuple(name for group in excluded for name in FEATURE_GROUPS[group])
    return ranker_fit(
        features, labels, times, feature_names=FEATURE_NAMES, feature_version=FEATURE_VERSION, excluded_features=names
    )


def baseline_gate(
    train: tuple[FloatArray, IntArray, FloatArray],
    test: tuple[FloatArray, IntArray],
    *,
    draws: int = 500,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The gate's table on one time split: product vs baseline, per-group ablation, generic (cold start) AP."""
    features, labels, times = train
    test_features, test_labels = test
    truth = test_labels == EX
    say = progress or (lambda message: None)
    say("baseline gate: the product's ranker")
    product = _product_fit(features, labels, times, DEFAULT_EXCLUDED_GROUPS)
    product_score = product.predict_proba(test_features)[:, EX]
    say("baseline gate: the seven-column baseline")
    baseline_score = baseline_fit(features, labels)(test_features)
    with_waveforms = test_features[:, FEATURE_NAMES.index("waveform_station_count")] > 0
    result: dict[str, Any] = {
        "metric": "average precision of P(explosion_like), explosion-like vs every other class",
        "held_out_events": len(test_labels),
        "product_ap": round(_ap(truth, product_score) or 0.0, 4),
        "baseline_ap": round(_ap(truth, baseline_score) or 0.0, 4),
        "baseline_features": list(BASELINE_FEATURES),
        "product_minus_baseline": paired_bootstrap(truth, product_score, baseline_score, draws=draws),
        "events_with_waveforms": int(with_waveforms.sum()),
        "product_minus_baseline_with_waveforms": paired_bootstrap(
            truth[with_waveforms], product_score[with_waveforms], baseline_score[with_waveforms], draws=draws
        ),
        "default_excluded_groups": list(DEFAULT_EXCLUDED_GROUPS),
        "ablation": {},
    }
    present = np.asarray(~np.isnan(features).all(axis=0), dtype=np.bool_)
    for group, names in FEATURE_GROUPS.items():
        columns = [FEATURE_NAMES.index(name) for name in names]
        if not present[columns].any():
            result["ablation"][group] = {"delta": None, "low": None, "high": None, "note": "absent from the data"}
            continue
        if group in DEFAULT_EXCLUDED_GROUPS:
            say(f"ablation: adding {group} back")
            kept = tuple(g for g in DEFAULT_EXCLUDED_GROUPS if g != group)
            other = _product_fit(features, labels, times, kept).predict_proba(test_features)[:, EX]
            row = paired_bootstrap(truth, other, product_score, draws=draws)
            row["note"] = "left out of the default model; delta = with it - without it"
        else:
            say(f"ablation: leaving {group} out")
            other = _product_fit(features, labels, times, (*DEFAULT_EXCLUDED_GROUPS, group)).predict_proba(
                test_features
            )[:, EX]
            row = paired_bootstrap(truth, product_score, other, draws=draws)
            row["note"] = "in the default model; delta = with it - without it"
        result["ablation"][group] = row
    say("cold start: the generic model without location features")
    generic_score = generic_fit(features, labels, times).predict_proba(test_features)[:, EX]
    result["cold_start"] = {
        "generic_ap": round(_ap(truth, generic_score) or 0.0, 4),
        "generic_minus_product": paired_bootstrap(truth, generic_score, product_score, draws=draws),
        "features_left_out": "place, reviewed_neighbours, similarity (LOCATION_GROUPS)",
    }
    return result
