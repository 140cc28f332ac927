"""Split-conformal triage: for an error rate alpha, the set of decision classes an event may belong to.

Nonconformity of an event with true class c is 1 - P(c). The ranker keeps the sorted scores of its
newest held-out labels per true class (``RankerModel.conformal_scores``, labels it neither fitted nor
calibrated on): class-conditional ("Mondrian") conformal, so that a rare class (explosions, surface
events) gets its own coverage instead of borrowing the earthquakes'. For an error rate alpha, class c's
threshold q_c is the ceil((n_c + 1)(1 - alpha)) / n_c empirical quantile of its n_c scores, and an
event's prediction set is every class with 1 - P(c) <= q_c: under exchangeability the true class is
outside the set for at most a share alpha of new events of each class. A class with too few
calibration labels for its own quantile at alpha (fewer than (1 - alpha) / alpha: 99 at 1 %) uses the
threshold of all classes' scores pooled (marginal split-conformal: coverage over all events, not per
class). A set of one class is "confident: class"; any other set (two or more classes, or none) is
"needs review".
"""

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ranking.ml.classes import DECISION_CLASSES

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CONFIDENT: Final = "confident"
NEEDS_REVIEW: Final = "needs_review"


def nonconformity(log_proba: FloatArray, labels: IntArray) -> FloatArray:
    """1 - P(true class) per event, shape (n,), from log-probabilities of shape (n, len(DECISION_CLASSES))."""
    return np.asarray(-np.expm1(log_proba[np.arange(len(labels)), labels]), dtype=np.float64)


def conformal_threshold(scores: FloatArray, alpha: float) -> float:
    """The split-conformal threshold for error rate ``alpha`` in (0, 1) from calibration scores.

    With too few scores for that alpha (ceil((n + 1)(1 - alpha)) > n) the threshold is 1: every class
    is in every set, and every event needs review.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    n = len(scores)
    rank = int(np.ceil((n + 1) * (1.0 - alpha)))
    if n == 0 or rank > n:
        return 1.0
    return float(np.sort(scores)[rank - 1])


def class_thresholds(scores: Mapping[int, FloatArray], alpha: float) -> FloatArray:
    """Per decision class, the conformal threshold of its calibration scores, shape (len(DECISION_CLASSES),);
    the pooled threshold for a class with too few scores for its own."""
    pooled = conformal_threshold(np.concatenate([np.empty(0), *scores.values()]), alpha)
    thresholds = np.full(len(DECISION_CLASSES), pooled)
    for column, own in scores.items():
        if int(np.ceil((len(own) + 1) * (1.0 - alpha))) <= len(own):
            thresholds[column] = conformal_threshold(own, alpha)
    return thresholds


def prediction_sets(probabilities: FloatArray, thresholds: FloatArray) -> npt.NDArray[np.bool_]:
    """Boolean membership of each class in each event's prediction set, shape (n, len(DECISION_CLASSES))."""
    return np.asarray(1.0 - probabilities <= thresholds[None, :], dtype=np.bool_)


def triage(probabilities: FloatArray, thresholds: FloatArray) -> list[tuple[str, str | None]]:
    """Per event ("confident", class name) when its prediction set holds one class, else ("needs_review", None)."""
    sets = prediction_sets(probabilities, thresholds)
    result: list[tuple[str, str | None]] = []
    for members in sets:
        chosen = np.flatnonzero(members)
        result.append((CONFIDENT, DECISION_CLASSES[int(chosen[0])]) if len(chosen) == 1 else (NEEDS_REVIEW, None))
    return result


def conformal_report(
    probabilities: FloatArray, labels: IntArray, thresholds: FloatArray, alpha: float
) -> dict[str, Any]:
    """On held-out labels: achieved error (true class outside the set), confident share, error among confident."""
    sets = prediction_sets(probabilities, thresholds)
    covered = sets[np.arange(len(labels)), labels]
    confident = sets.sum(axis=1) == 1
    wrong_confident = confident & ~covered
    return {
        "alpha": alpha,
        "thresholds": [round(float(value), 6) for value in thresholds],
        "events": len(labels),
        "achieved_error": round(float(1.0 - covered.mean()), 4) if len(labels) else 0.0,
        "confident_share": round(float(confident.mean()), 4) if len(labels) else 0.0,
        "error_among_confident": round(float(wrong_confident.sum() / max(confident.sum(), 1)), 4),
        "mean_set_size": round(float(sets.sum(axis=1).mean()), 3) if len(labels) else 0.0,
    }
