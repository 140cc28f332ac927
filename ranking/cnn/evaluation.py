"""Metrics of the CNN and of its baseline on a held-out split (pure NumPy/scikit-learn, no Django)."""

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ranking.cnn.datasets import CLASSES, EARTHQUAKE, EXPLOSION, NOISE, LabelledWindows, time_block_folds
from ranking.cnn.network import CnnPredictor, events_aggregate, fit_with_validation


def classification_metrics(labels: npt.NDArray[np.int64], probabilities: npt.NDArray[np.floating]) -> dict[str, Any]:
    """Confusion matrix (rows true, columns predicted, order CLASSES), per-class P/R/F1, macro F1 over the
    classes present, accuracy, and earthquake-vs-explosion accuracy (rows of those two classes, argmax
    between their two probabilities)."""
    predicted = np.argmax(probabilities, axis=1)
    present = sorted({int(c) for c in labels})
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=list(range(len(CLASSES))), zero_division=0
    )
    two = np.isin(labels, [EARTHQUAKE, EXPLOSION])
    pair = np.where(probabilities[two, EXPLOSION] > probabilities[two, EARTHQUAKE], EXPLOSION, EARTHQUAKE)
    return {
        "n": int(labels.size),
        "confusion": confusion_matrix(labels, predicted, labels=list(range(len(CLASSES)))).tolist(),
        "per_class": {
            name: {
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
                "support": int(support[i]),
            }
            for i, name in enumerate(CLASSES)
        },
        "macro_f1": round(float(np.mean([f1[i] for i in present])), 4) if present else None,
        "accuracy": round(float(np.mean(predicted == labels)), 4) if labels.size else None,
        "earthquake_vs_explosion_accuracy": round(float(np.mean(pair == labels[two])), 4) if two.any() else None,
        "earthquake_vs_explosion_n": int(two.sum()),
    }


def _per_class(precision: Any, recall: Any, f1: Any, support: Any, i: int) -> dict[str, float | int]:
    return {
        "precision": round(float(precision[i]), 4),
        "recall": round(float(recall[i]), 4),
        "f1": round(float(f1[i]), 4),
        "support": int(support[i]),
    }


def event_labels(data: LabelledWindows) -> tuple[list[str], npt.NDArray[np.int64]]:
    """Groups in sorted order and their event class; a group's noise windows form a separate noise 'event'."""
    names = sorted({str(g) for g in data.groups})
    labels = [int(np.bincount(data.labels[data.groups == name]).argmax()) for name in names]
    return names, np.array(labels, dtype=np.int64)


def event_groups(data: LabelledWindows) -> npt.NDArray[np.str_]:
    """Event keys for event-level scoring: noise windows of an event are scored as their own noise 'event'."""
    return np.array([f"{g}#noise" if c == NOISE else str(g) for g, c in zip(data.groups, data.labels, strict=True)])


def split_metrics(data: LabelledWindows, probabilities: npt.NDArray[np.floating]) -> dict[str, Any]:
    """Trace-level and event-level (SNR-weighted aggregation) metrics of ``probabilities`` on ``data``."""
    keys = event_groups(data)
    names, event_probabilities = events_aggregate(probabilities, data.snr, keys)
    truth = np.array([int(data.labels[keys == name][0]) for name in names], dtype=np.int64)
    return {
        "trace": classification_metrics(data.labels, probabilities),
        "event": classification_metrics(truth, event_probabilities),
    }


def baseline_fit(train: LabelledWindows) -> Pipeline:
    """Logistic regression on the hand-made spectral features (median-imputed, standardised, balanced)."""
    model = make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
        LogisticRegression(max_iter=2000, class_weight="balanced"),
    )  # fmt: skip
    model.fit(train.features, train.labels)
    return model


def baseline_probabilities(model: Pipeline, data: LabelledWindows) -> npt.NDArray[np.float64]:
    """Probabilities (n, 4) in CLASSES order (zero for classes the baseline never saw)."""
    known = model.predict_proba(data.features)
    out = np.zeros((len(data), len(CLASSES)))
    out[:, model.classes_] = known
    return out


def confusion_text(matrix: list[list[int]]) -> str:
    width = max(len(c) for c in CLASSES) + 2
    lines = ["true \\ predicted".ljust(width) + "".join(c[:13].rjust(15) for c in CLASSES)]
    for name, row in zip(CLASSES, matrix, strict=True):
        lines.append(name.ljust(width) + "".join(str(v).rjust(15) for v in row))
    return "\n".join(lines)


def cross_validate(
    data: LabelledWindows,
    *,
    folds: int = 5,
    epochs: int = 80,
    progress: Callable[[str], None] | None = None,
    **train_options: Any,
) -> dict[str, Any]:
    """Grouped k-fold cross-validation over time blocks (``time_block_folds``): for each fold a fresh network
    is trained on the other folds (early stopping on a validation split carved from those training events)
    and predicts the fold; the baseline is refitted the same way. Metrics are computed once over the pooled
    out-of-fold predictions, so every event of the data counts once (far more explosion events than a
    single held-out split), with the per-fold event macro F1 beside them."""
    fold_of = time_block_folds(data, folds=folds)
    cnn = np.zeros((len(data), len(CLASSES)), np.float32)
    baseline = np.zeros((len(data), len(CLASSES)))
    per_fold: list[float | None] = []
    for fold in range(folds):
        test_mask = fold_of == fold
        train, test = data.subset(~test_mask), data.subset(test_mask)
        result = fit_with_validation(train, epochs=epochs, **train_options)
        cnn[test_mask] = CnnPredictor(result.model).predict(test.windows)
        baseline[test_mask] = baseline_probabilities(baseline_fit(train), test)
        per_fold.append(split_metrics(test, cnn[test_mask])["event"]["macro_f1"])
        if progress is not None:
            progress(f"fold {fold + 1}/{folds}: {len(test)} windows, event macro F1 {per_fold[-1]} "
                     f"(best epoch {result.best_epoch}, {result.seconds:.0f} s)")  # fmt: skip
    return {
        "folds": folds, "fold_event_macro_f1": per_fold,
        "cnn": split_metrics(data, cnn), "baseline": split_metrics(data, baseline),
    }  # fmt: skip
