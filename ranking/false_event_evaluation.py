"""The false-event section of ``manage.py evaluate``: how the ranker and the label-free prior find false events,
on real labels only (analyst rejections and imported "not existing" events; never synthetic_false)."""

import datetime as dt
import math
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from ranking.ml.classes import DECISION_CLASSES, NOT_EXISTING
from ranking.ml.false_evidence import PRIOR_NAME
from ranking.ml.features import FEATURE_NAMES
from ranking.models import ModelVersion
from ranking.registry import model_artifact_load
from ranking.training import labelled_events

FALSE = DECISION_CLASSES.index(NOT_EXISTING)


def _rounded(value: float) -> float | None:
    return None if not math.isfinite(value) else round(float(value), 4)


def _scores(is_false: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """Precision and recall at P(false) >= 0.5, AP and ROC AUC of a score (NaN rows left out)."""
    known = np.isfinite(scores)
    y, s = is_false[known], scores[known]
    flagged = s >= 0.5
    true_positives = int((flagged & y).sum())
    both = y.any() and (~y).any()
    return {
        "events_scored": int(known.sum()),
        "precision": _rounded(true_positives / flagged.sum()) if flagged.any() else None,
        "recall": _rounded(true_positives / y.sum()) if y.any() else None,
        "average_precision": _rounded(average_precision_score(y, s)) if both else None,
        "roc_auc": _rounded(roc_auc_score(y, s)) if both else None,
    }


def false_event_evaluation(
    *, model_version: ModelVersion, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> dict[str, Any]:
    """False-event precision/recall of the ranker and of the prior on the real labels in [since, until)."""
    data = labelled_events(since=since, until=until, synthetic=False)
    is_false = data.labels == FALSE
    sources = data.false_class_sources()
    result: dict[str, Any] = {
        "model": model_version.version,
        "training_false_class": model_version.training_summary.get("false_class"),
        "real_false_labels": {"analyst": sources["analyst"], "imported_review": sources["imported_review"]},
        "real_events": len(data.labels),
    }
    if not is_false.any():
        result["note"] = (
            "no real false-event label in this window yet: every analyst rejection becomes one; "
            "the synthetic_false training events are never evaluated on"
        )
        return result
    model = model_artifact_load(model_version=model_version)
    probabilities = model.predict_proba(data.features)
    predicted_false = probabilities.argmax(axis=1) == FALSE
    true_positives = int((predicted_false & is_false).sum())
    result["ranker"] = {
        **_scores(is_false, probabilities[:, FALSE]),
        "predicted_class_precision": _rounded(true_positives / predicted_false.sum())
        if predicted_false.any()
        else None,
        "predicted_class_recall": _rounded(true_positives / is_false.sum()),
    }
    result["prior"] = _scores(is_false, data.features[:, FEATURE_NAMES.index(PRIOR_NAME)])
    return result


def false_event_lines(report: dict[str, Any]) -> list[str]:
    """The section as text for the evaluate command."""
    lines = [
        "== false events (real labels only; synthetic_false never evaluated) ==",
        f"  model {report['model']} trained with false class from {report['training_false_class']}",
        f"  real false labels here: {report['real_false_labels']} among {report['real_events']} labelled events",
    ]
    if "note" in report:
        return [*lines, f"  {report['note']}"]
    for name in ("ranker", "prior"):
        lines.append(f"  {name}: " + ", ".join(f"{key} {value}" for key, value in report[name].items()))
    return lines
