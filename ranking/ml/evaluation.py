"""Evaluation of a ranker on held-out labelled events (pure NumPy/scikit-learn; plots with matplotlib Agg).

Inputs everywhere: ``labels`` shape (n,) indices into DECISION_CLASSES, ``probabilities`` shape (n, 4),
``times`` POSIX seconds and ``magnitudes`` (NaN when unknown) shape (n,).
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, confusion_matrix, precision_recall_curve, roc_auc_score

from ranking.ml.classes import DECISION_CLASSES, EARTHQUAKE, EXPLOSION_LIKE
from ranking.ml.importance import events_of_interest, importance_from_logit, importance_logit, profile_get
from ranking.ml.ranker import RankerModel, importance

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
EFFORT_LEVELS = (0.5, 0.9, 0.95, 1.0)


def expected_calibration_error(labels: IntArray, probabilities: FloatArray, *, bins: int = 10) -> float:
    """Top-label ECE: sum over confidence bins of (bin share) x |accuracy - mean confidence|."""
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def review_effort(relevant: npt.NDArray[np.bool_], order: IntArray) -> dict[str, float | None]:
    """Share of the queue (in ``order``) an analyst reviews to see each EFFORT_LEVELS share of the relevant events."""
    total = int(relevant.sum())
    if total == 0:
        return {f"{level:.0%}": None for level in EFFORT_LEVELS}
    found = np.cumsum(relevant[order])
    result: dict[str, float | None] = {}
    for level in EFFORT_LEVELS:
        needed = int(np.ceil(level * total))
        position = int(np.searchsorted(found, needed)) + 1
        result[f"{level:.0%}"] = round(position / len(order), 4)
    return result


def queue_orders(
    probabilities: FloatArray, times: FloatArray, magnitudes: FloatArray, weights: Mapping[str, float], column: int
) -> dict[str, IntArray]:
    """The queue orderings compared: by the class's probability, by importance, by time, by magnitude."""
    scores = importance(probabilities, weights)
    return {
        "class probability": np.argsort(-probabilities[:, column], kind="stable"),
        "importance": np.argsort(-scores, kind="stable"),
        "origin time": np.argsort(times, kind="stable"),
        "magnitude": np.argsort(-np.nan_to_num(magnitudes, nan=-10.0), kind="stable"),
    }


def _safe(function: Any, truth: npt.NDArray[np.bool_], score: FloatArray) -> float | None:
    if truth.all() or not truth.any():
        return None
    return round(float(function(truth, score)), 4)


def ranker_metrics(
    labels: IntArray,
    probabilities: FloatArray,
    times: FloatArray,
    magnitudes: FloatArray,
    weights: Mapping[str, float],
) -> dict[str, Any]:
    """Per-class precision/recall/AP/ROC AUC, importance AP/AUC, ECE, explosion-vs-earthquake AP, effort."""
    predicted = probabilities.argmax(axis=1)
    per_class: dict[str, dict[str, Any]] = {}
    effort: dict[str, dict[str, dict[str, float | None]]] = {}
    for column, name in enumerate(DECISION_CLASSES):
        truth = labels == column
        chosen = predicted == column
        per_class[name] = {
            "support": int(truth.sum()),
            "precision": round(float((truth & chosen).sum() / chosen.sum()), 4) if chosen.any() else None,
            "recall": round(float((truth & chosen).sum() / truth.sum()), 4) if truth.any() else None,
            "average_precision": _safe(average_precision_score, truth, probabilities[:, column]),
            "roc_auc": _safe(roc_auc_score, truth, probabilities[:, column]),
        }
        if truth.any():
            orders = queue_orders(probabilities, times, magnitudes, weights, column)
            effort[name] = {label: review_effort(truth, order) for label, order in orders.items()}
    weight_vector = np.array([weights.get(name, 0.0) for name in DECISION_CLASSES])
    interesting = weight_vector[labels] >= 0.5 * weight_vector.max()
    scores = importance(probabilities, weights)
    eq, ex = DECISION_CLASSES.index(EARTHQUAKE), DECISION_CLASSES.index(EXPLOSION_LIKE)
    pair = (labels == eq) | (labels == ex)
    pair_score = probabilities[pair, ex] / np.maximum(probabilities[pair, ex] + probabilities[pair, eq], 1e-12)
    return {
        "events": len(labels),
        "accuracy": round(float((predicted == labels).mean()), 4) if len(labels) else None,
        "per_class": per_class,
        "importance": {
            "of_interest": "true class weight >= half the largest weight",
            "average_precision": _safe(average_precision_score, interesting, scores),
            "roc_auc": _safe(roc_auc_score, interesting, scores),
        },
        "explosion_vs_earthquake_average_precision": _safe(average_precision_score, labels[pair] == ex, pair_score),
        "expected_calibration_error": round(expected_calibration_error(labels, probabilities), 4),
        "review_effort": effort,
    }


def ranker_plots(
    folder: Path,
    labels: IntArray,
    probabilities: FloatArray,
    times: FloatArray,
    magnitudes: FloatArray,
    weights: Mapping[str, float],
) -> list[Path]:
    """Write PR curves, the reliability diagram, effort curves and the confusion matrix as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    present = [(c, n) for c, n in enumerate(DECISION_CLASSES) if (labels == c).any()]

    figure, axes = plt.subplots(figsize=(6, 5))
    for column, name in present:
        precision, recall, _ = precision_recall_curve(labels == column, probabilities[:, column])
        axes.plot(recall, precision, label=name)
    axes.set(xlabel="recall", ylabel="precision", title="Precision-recall per decision class")
    axes.legend()
    written.append(_save(figure, folder / "precision_recall.png"))

    figure, axes = plt.subplots(figsize=(6, 5))
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0, 1, 11)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, 9)
    centres = [confidence[which == b].mean() for b in range(10) if (which == b).any()]
    accuracy = [correct[which == b].mean() for b in range(10) if (which == b).any()]
    axes.plot([0, 1], [0, 1], "k:", label="perfect")
    axes.plot(centres, accuracy, "o-", label="ranker")
    axes.set(xlabel="predicted probability (top class)", ylabel="observed accuracy", title="Calibration")
    axes.legend()
    written.append(_save(figure, folder / "calibration.png"))

    for column, name in present:
        figure, axes = plt.subplots(figsize=(6, 5))
        truth = labels == column
        for label, order in queue_orders(probabilities, times, magnitudes, weights, column).items():
            found = np.cumsum(truth[order]) / truth.sum()
            axes.plot(np.arange(1, len(order) + 1) / len(order), found, label=label)
        axes.set(xlabel="share of queue reviewed", ylabel=f"share of {name} events seen", title=f"Effort: {name}")
        axes.legend()
        written.append(_save(figure, folder / f"effort_{name}.png"))

    figure, axes = plt.subplots(figsize=(6, 5))
    matrix = confusion_matrix(labels, probabilities.argmax(axis=1), labels=range(len(DECISION_CLASSES)))
    axes.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center")
    axes.set_xticks(range(len(DECISION_CLASSES)), DECISION_CLASSES, rotation=30)
    axes.set_yticks(range(len(DECISION_CLASSES)), DECISION_CLASSES)
    axes.set(xlabel="predicted", ylabel="analyst decision", title="Confusion matrix")
    written.append(_save(figure, folder / "confusion_matrix.png"))
    return written


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return path


def tie_rate(scores: FloatArray) -> float:
    """Share of events whose score another event also has (0: every score distinct)."""
    if len(scores) == 0:
        return 0.0
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    return round(float((counts[inverse] > 1).mean()), 4)


def effort_curve(relevant: npt.NDArray[np.bool_], order: IntArray, *, points: int = 20) -> list[list[float]]:
    """(share of queue read, share of relevant events found) at ``points`` evenly spaced read shares, from 0."""
    total = max(int(relevant.sum()), 1)
    found = np.concatenate([[0], np.cumsum(relevant[order])])
    reads = np.linspace(0.0, 1.0, points + 1)
    positions = np.round(reads * len(order)).astype(int)
    return [[round(float(r), 3), round(float(found[p] / total), 4)] for r, p in zip(reads, positions, strict=True)]


def queue_share_to_find(relevant: npt.NDArray[np.bool_], order: IntArray, level: float) -> float | None:
    """Share of the queue read (in ``order``) to find ``level`` of the relevant events."""
    total = int(relevant.sum())
    if total == 0:
        return None
    found = np.cumsum(relevant[order])
    return round((int(np.searchsorted(found, int(np.ceil(level * total)))) + 1) / len(order), 4)


def distinct_levels(probabilities: FloatArray) -> int:
    """Distinct calibrated probability values over all events and classes (resolution of the calibration)."""
    return len(np.unique(np.round(probabilities, 12)))


def profile_report(
    model: RankerModel, features: FloatArray, labels: IntArray, times: FloatArray, profile_name: str
) -> dict[str, Any]:
    """How one profile's queue serves its objective on held-out labelled events (docs/ranking.md).

    Effort: share of the queue read to find 95 % of the events of interest, against an oracle that puts
    them all first (its share is ceil(0.95 k) / n); curves for importance, origin time and magnitude orders.
    """
    profile = profile_get(profile_name)
    log_proba = model.log_proba(features)
    scores = importance_from_logit(importance_logit(log_proba, features, model, profile))
    n = len(labels)
    magnitudes = features[:, model.feature_names.index("magnitude")]
    relevant = events_of_interest(labels, profile)
    orders = {
        "importance": np.argsort(-scores, kind="stable"),
        "origin time": np.argsort(times, kind="stable"),
        "magnitude": np.argsort(-np.nan_to_num(magnitudes, nan=-10.0), kind="stable"),
    }
    rank = np.empty(n, dtype=np.int64)
    rank[orders["importance"]] = np.arange(n)
    probabilities = np.exp(log_proba)
    ordered = np.sort(probabilities, axis=1)
    uncertain = ordered[:, -1] - ordered[:, -2] < 0.5
    routine = ~uncertain & (magnitudes < np.nanquantile(magnitudes, 0.9))
    large = np.nan_to_num(magnitudes, nan=-10.0) >= 3.0
    oracle = int(np.ceil(0.95 * relevant.sum())) / n if relevant.any() else None
    share = queue_share_to_find(relevant, orders["importance"], 0.95)
    return {
        "objective": profile.objective,
        "events_of_interest": list(profile.interest),
        "interest_events": int(relevant.sum()),
        "tie_rate": tie_rate(scores),
        "distinct_scores": len(np.unique(scores)),
        "share_read_for_95_percent": {
            label: queue_share_to_find(relevant, order, 0.95) for label, order in orders.items()
        },
        "oracle_share_for_95_percent": round(oracle, 4) if oracle is not None else None,
        "effort_over_oracle": round(share / oracle, 4) if share is not None and oracle else None,
        "magnitude_3_events": int(large.sum()),
        "magnitude_3_last_position_share": round(float((rank[large].max() + 1) / n), 4) if large.any() else None,
        "uncertain_events": int(uncertain.sum()),
        "uncertain_median_position_share": round(float(np.median(rank[uncertain]) + 1) / n, 4)
        if uncertain.any()
        else None,
        "routine_median_position_share": round(float(np.median(rank[routine]) + 1) / n, 4) if routine.any() else None,
        "effort_curves": {label: effort_curve(relevant, order) for label, order in orders.items()},
    }
