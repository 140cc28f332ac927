"""Pure numerics of the learning loop: plot data for the model page, uncertainty, agreement, promotion rule.

Inputs follow ranking.ml.evaluation: ``labels`` shape (n,) indices into DECISION_CLASSES, ``probabilities``
shape (n, 4) (rows sum to 1), ``times`` POSIX seconds and ``magnitudes`` (NaN when unknown) shape (n,).
Curves are thinned to at most ``points`` points each so they can be stored as JSON on a training run.
"""

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt
from sklearn.metrics import cohen_kappa_score, confusion_matrix, precision_recall_curve

from ranking.ml.classes import DECISION_CLASSES
from ranking.ml.ranker import RankerModel, importance

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _thin(values: npt.ArrayLike, points: int) -> list[float]:
    array = np.asarray(values, dtype=np.float64)
    if len(array) > points:
        array = array[np.unique(np.linspace(0, len(array) - 1, points).round().astype(np.int64))]
    return [round(float(v), 4) for v in array]


def interesting_events(labels: IntArray, weights: Mapping[str, float]) -> BoolArray:
    """Events of interest: their true class weighs at least half the largest class weight (as in ranker_metrics)."""
    vector = np.array([weights.get(name, 0.0) for name in DECISION_CLASSES], dtype=np.float64)
    result: BoolArray = vector[labels] >= 0.5 * vector.max()
    return result


def baseline_orders(scores: FloatArray, times: FloatArray, magnitudes: FloatArray) -> dict[str, IntArray]:
    """Queue orders compared on the model page: by the model's importance, by origin time, by magnitude."""
    return {
        "importance": np.argsort(-scores, kind="stable"),
        "origin time": np.argsort(times, kind="stable"),
        "magnitude": np.argsort(-np.nan_to_num(magnitudes, nan=-10.0), kind="stable"),
    }


def effort_to_find(relevant: BoolArray, order: IntArray, level: float = 0.95) -> float | None:
    """Share of a queue (reviewed in ``order``) read before ``level`` of the relevant events are seen."""
    total = int(relevant.sum())
    if total == 0 or len(order) == 0:
        return None
    found = np.cumsum(relevant[order])
    position = int(np.searchsorted(found, int(np.ceil(level * total)))) + 1
    return position / len(order)


def evaluation_curves(
    labels: IntArray,
    probabilities: FloatArray,
    times: FloatArray,
    magnitudes: FloatArray,
    weights: Mapping[str, float],
    *,
    points: int = 101,
) -> dict[str, Any]:
    """PR curve per class, reliability diagram (10 bins), confusion matrix and review-effort curves."""
    pr: dict[str, dict[str, list[float]]] = {}
    for column, name in enumerate(DECISION_CLASSES):
        truth = labels == column
        if truth.any() and not truth.all():
            precision, recall, _ = precision_recall_curve(truth, probabilities[:, column])
            pr[name] = {"recall": _thin(recall, points), "precision": _thin(precision, points)}
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    which = np.clip(np.digitize(confidence, np.linspace(0, 1, 11)[1:-1]), 0, 9)
    bins = [b for b in range(10) if (which == b).any()]
    relevant = interesting_events(labels, weights)
    orders = baseline_orders(importance(probabilities, weights), times, magnitudes)
    share = np.arange(1, len(labels) + 1) / max(len(labels), 1)
    effort = {
        name: {
            "reviewed": _thin(share, points),
            "found": _thin(np.cumsum(relevant[order]) / max(int(relevant.sum()), 1), points),
            "at_95": effort_to_find(relevant, order),
        }
        for name, order in orders.items()
    }
    return {
        "precision_recall": pr,
        "calibration": {
            "confidence": [round(float(confidence[which == b].mean()), 4) for b in bins],
            "accuracy": [round(float(correct[which == b].mean()), 4) for b in bins],
            "count": [int((which == b).sum()) for b in bins],
        },
        "confusion": confusion_matrix(labels, probabilities.argmax(axis=1), labels=range(len(DECISION_CLASSES)))
        .astype(int)
        .tolist(),
        "effort": effort,
        "classes": list(DECISION_CLASSES),
    }


def feature_importance(
    model: RankerModel, features: FloatArray, weights: Mapping[str, float], *, rows: int = 400
) -> dict[str, float]:
    """Mean |change of importance| when one feature is set to its training median (occlusion), per feature.

    ``features`` shape (n, F); at most ``rows`` evenly spaced rows are used (F + 1 predictions per row).
    """
    if len(features) == 0:
        return {}
    chosen = features[np.unique(np.linspace(0, len(features) - 1, min(rows, len(features))).astype(np.int64))]
    n, width = chosen.shape
    occluded = np.repeat(chosen[:, None, :], width + 1, axis=1)
    columns = np.arange(width)
    occluded[:, columns + 1, columns] = model.reference_values[None, :]
    scores = importance(model.predict_proba(occluded.reshape(-1, width)), weights).reshape(n, width + 1)
    effect = np.abs(scores[:, :1] - scores[:, 1:]).mean(axis=0)
    ranked = sorted(zip(model.feature_names, effect, strict=True), key=lambda pair: -pair[1])
    return {name: round(float(value), 5) for name, value in ranked if value > 0}


def class_uncertainty(probabilities: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per row, (normalised entropy in [0, 1], margin = top probability - second) of class probabilities (n, k)."""
    p = np.clip(probabilities, 1e-12, 1.0)
    entropy = -(p * np.log(p)).sum(axis=1) / np.log(probabilities.shape[1])
    ordered = np.sort(probabilities, axis=1)
    margin = ordered[:, -1] - ordered[:, -2]
    return np.asarray(entropy, dtype=np.float64), np.asarray(margin, dtype=np.float64)


class RaterAgreement(TypedDict):
    pairs: int
    percent_agreement: float | None  # None without pairs
    cohen_kappa: float | None  # None without pairs, or when every decision is one class


def rater_agreement(first: Sequence[str], second: Sequence[str]) -> RaterAgreement:
    """Percent agreement and Cohen's kappa between paired decisions (one pair per event reviewed twice)."""
    pairs = len(first)
    if pairs == 0:
        return {"pairs": 0, "percent_agreement": None, "cohen_kappa": None}
    same = sum(a == b for a, b in zip(first, second, strict=True))
    labels = sorted(set(first) | set(second))
    kappa = None if len(labels) < 2 else round(float(cohen_kappa_score(list(first), list(second), labels=labels)), 4)
    return {"pairs": pairs, "percent_agreement": round(100.0 * same / pairs, 2), "cohen_kappa": kappa}


def metric_lookup(metrics: Mapping[str, Any], path: str) -> float | None:
    """A number from nested metrics by a dotted path ("importance.average_precision"), None when absent."""
    value: Any = metrics
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def promotion_verdict(
    candidate: Mapping[str, Any], active: Mapping[str, Any] | None, *, metric: str, margin: float
) -> dict[str, Any]:
    """Whether a candidate beats the active model by ``margin`` on ``metric`` (lower is better for errors)."""
    lower_is_better = "error" in metric
    ours = metric_lookup(candidate, metric)
    if ours is None:
        return {"promote": False, "metric": metric, "reason": f"the candidate has no {metric}"}
    if active is None:
        return {"promote": True, "metric": metric, "candidate": ours, "reason": "no active model to compare with"}
    theirs = metric_lookup(active, metric)
    if theirs is None:
        return {"promote": True, "metric": metric, "candidate": ours, "reason": f"the active model has no {metric}"}
    gain = (theirs - ours) if lower_is_better else (ours - theirs)
    promote = gain > margin
    word = "beats" if promote else "does not beat"
    return {
        "promote": promote,
        "metric": metric,
        "candidate": ours,
        "active": theirs,
        "gain": round(gain, 5),
        "margin": margin,
        "reason": f"candidate {word} the active model by more than {margin:g} on {metric}",
    }
