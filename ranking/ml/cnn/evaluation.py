"""Metrics of the CNN and of its baseline on a held-out split (pure NumPy/scikit-learn, no Django)."""

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ranking.ml.cnn.datasets import CLASSES, EARTHQUAKE, EXPLOSION, NOISE, LabelledWindows, time_block_folds
from ranking.ml.cnn.event_model import (
    EventSpectralModel,
    event_combine,
    event_spectral_fit,
    events_spectral_features,
)
from ranking.ml.cnn.network import CnnPredictor, TrainingResult, events_aggregate, fit_with_validation


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
        "per_class": {name: _per_class(precision, recall, f1, support, i) for i, name in enumerate(CLASSES)},
        "macro_f1": round(float(np.mean([f1[i] for i in present])), 4) if present else None,
        "accuracy": round(float(np.mean(predicted == labels)), 4) if labels.size else None,
        "earthquake_vs_explosion_accuracy": round(float(np.mean(pair == labels[two])), 4) if two.any() else None,
        "earthquake_vs_explosion_n": int(two.sum()),
        "earthquake_vs_explosion_auc": _pair_auc(labels[two], probabilities[two]),
    }


def _pair_auc(labels: npt.NDArray[np.int64], probabilities: npt.NDArray[np.floating]) -> float | None:
    """ROC AUC of P(explosion) / (P(earthquake) + P(explosion)) for earthquake and explosion rows (threshold-free:
    how well the two classes are ranked, whatever the calibration); None unless both classes are present."""
    if len(set(labels.tolist())) < 2:
        return None
    pair = probabilities[:, EXPLOSION] / np.maximum(probabilities[:, EXPLOSION] + probabilities[:, EARTHQUAKE], 1e-12)
    return round(float(roc_auc_score(labels == EXPLOSION, pair)), 4)


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


def event_model_fit(train: LabelledWindows) -> EventSpectralModel:
    """The event-level spectral logistic regression fitted on the events of ``train`` (training events only)."""
    keys = event_groups(train)
    names, features = events_spectral_features(train.windows, train.snr, keys)
    truth = np.array([int(train.labels[keys == name][0]) for name in names], dtype=np.int64)
    return event_spectral_fit(features, truth)


def event_model_select(
    train: LabelledWindows, result: TrainingResult
) -> tuple[EventSpectralModel | None, dict[str, Any]]:
    """Whether the event-level spectral regression joins the CNN aggregate, decided on the validation split of
    the TRAINING events only: a regression fitted on the other training events is combined with the
    out-of-sample validation probabilities of the early-stopping network; when that raises the validation
    event macro F1 (ties: earthquake-vs-explosion accuracy), the regression refitted on all training events
    is returned, else None. The validation figures come back beside it."""
    if result.validation_mask is None or result.validation_probabilities is None:
        return None, {}
    inner, validation = train.subset(~result.validation_mask), train.subset(result.validation_mask)
    if len(set(event_labels(inner)[1].tolist())) < 2:
        return None, {}
    rows = event_rows(validation, result.validation_probabilities, event_model_fit(inner))
    scores = {}
    for level in EVENT_LEVELS:
        metrics = classification_metrics(rows["truth"], rows[level])
        scores[level] = (metrics["macro_f1"] or 0.0, metrics["earthquake_vs_explosion_accuracy"] or 0.0)
    chosen = scores["event_combined"] > scores["event"]
    report = {
        "validation_events": len(rows["names"]),
        "chosen": "event_combined" if chosen else "event",
        **{f"validation_{level}": list(value) for level, value in scores.items()},
    }
    return (event_model_fit(train) if chosen else None), report


def event_rows(
    data: LabelledWindows, probabilities: npt.NDArray[np.floating], event_model: EventSpectralModel | None = None
) -> dict[str, Any]:
    """Per event of ``data`` (noise windows apart): names, true class, CNN aggregate (events, 4) and, with
    ``event_model``, its spectral probabilities and the combination."""
    keys = event_groups(data)
    names, cnn = events_aggregate(probabilities, data.snr, keys)
    first = [int(np.flatnonzero(keys == name)[0]) for name in names]
    rows: dict[str, Any] = {
        "names": names,
        "truth": data.labels[first].astype(np.int64),
        "sources": data.sources[first],
        "provenance": data.provenance[first],
        "event": cnn.astype(np.float64),
    }
    if event_model is not None:
        _, features = events_spectral_features(data.windows, data.snr, keys)
        rows["event_spectral"] = event_model.probabilities(features)
        rows["event_combined"] = event_combine(rows["event"], rows["event_spectral"])
    return rows


EVENT_LEVELS = ("event", "event_spectral", "event_combined")
CV_LEVELS = (*EVENT_LEVELS, "event_selected")  # event_selected: the decision chosen on each fold's validation split


def split_metrics(
    data: LabelledWindows, probabilities: npt.NDArray[np.floating], event_model: EventSpectralModel | None = None
) -> dict[str, Any]:
    """Trace-level and event-level (SNR-weighted aggregation) metrics of ``probabilities`` on ``data``; with
    ``event_model`` also ``event_spectral`` (the event-level spectral regression alone) and ``event_combined``
    (its geometric mean with the CNN aggregate, the product's decision)."""
    rows = event_rows(data, probabilities, event_model)
    result = {"trace": classification_metrics(data.labels, probabilities)}
    result.update(
        {level: classification_metrics(rows["truth"], rows[level]) for level in EVENT_LEVELS if level in rows}
    )
    return result


def baseline_fit(train: LabelledWindows) -> Pipeline:
    """Logistic regression on the hand-made spectral features (median-imputed, standardised, balanced)."""
    model = make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(max_iter=2000, class_weight="balanced"),
    )
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


PNW_SOURCES = ("pnw", "pnw_2002_2017")  # the PNSN data sets: where the earthquake-vs-explosion AUC target is set


def explosion_subsample(data: LabelledWindows, fraction: float, *, seed: int = 5) -> npt.NDArray[np.bool_]:
    """Mask keeping every window except those of a seeded random ``1 - fraction`` of the explosion events
    (whole events, at least one kept): the learning curve's training sets."""
    keep = np.ones(len(data), dtype=bool)
    if fraction >= 1.0:
        return keep
    events = sorted({str(g) for g, c in zip(data.groups, data.labels, strict=True) if c == EXPLOSION})
    if not events:
        return keep
    order = np.random.default_rng(seed).permutation(len(events))
    kept = {events[int(i)] for i in order[: max(1, round(fraction * len(events)))]}
    dropped = np.array([str(g) in set(events) - kept for g in data.groups], dtype=bool)
    result: npt.NDArray[np.bool_] = keep & ~dropped
    return result


def cross_validate(
    data: LabelledWindows,
    *,
    folds: int = 5,
    epochs: int = 80,
    explosion_fraction: float = 1.0,
    progress: Callable[[str], None] | None = None,
    **train_options: Any,
) -> dict[str, Any]:
    """Grouped k-fold cross-validation over time blocks (``time_block_folds``): for each fold a fresh network
    is trained on the other folds (early stopping on a validation split carved from those training events)
    and predicts the fold; the baseline is refitted the same way. Metrics are computed once over the pooled
    out-of-fold predictions, so every event of the data counts once (far more explosion events than a
    single held-out split), with the per-fold event macro F1 beside them. The event-level spectral model is
    refitted on each fold's training events; ``cnn`` holds ``event`` (CNN aggregate), ``event_spectral`` and
    ``event_combined``, and ``event_selected`` (per fold, the one of ``event`` and ``event_combined`` that
    ``event_model_select`` chose on that fold's validation split: what the product would have done).
    ``explosion_fraction`` < 1 trains every fold on that share of its explosion events only (whole events,
    seeded); the test folds keep all of them (the learning curve)."""
    fold_of = time_block_folds(data, folds=folds)
    cnn = np.zeros((len(data), len(CLASSES)), np.float32)
    baseline = np.zeros((len(data), len(CLASSES)))
    pooled: dict[str, list[Any]] = {level: [] for level in ("names", "sources", "provenance", "truth", *CV_LEVELS)}
    per_fold: list[dict[str, Any]] = []
    for fold in range(folds):
        test_mask = fold_of == fold
        train, test = data.subset(~test_mask), data.subset(test_mask)
        train = train.subset(explosion_subsample(train, explosion_fraction, seed=fold))
        result = fit_with_validation(train, epochs=epochs, **train_options)
        cnn[test_mask] = CnnPredictor(result.model).predict(test.windows)
        baseline[test_mask] = baseline_probabilities(baseline_fit(train), test)
        rows = event_rows(test, cnn[test_mask], event_model_fit(train))
        selected, report = event_model_select(train, result)
        rows["event_selected"] = rows["event_combined"] if selected is not None else rows["event"]
        for level in pooled:
            pooled[level].append(rows[level])
        scores = {level: classification_metrics(rows["truth"], rows[level])["macro_f1"] for level in CV_LEVELS}
        per_fold.append({**scores, "best_epoch": result.best_epoch, "seconds": round(result.seconds, 1), **report})
        if progress is not None:
            progress(
                f"fold {fold + 1}/{folds}: {len(test)} windows, event macro F1 {scores} "
                f"(best epoch {result.best_epoch}, {result.seconds:.0f} s)"
            )
    truth, sources = np.concatenate(pooled["truth"]), np.concatenate(pooled["sources"])
    provenance = np.concatenate(pooled["provenance"])
    event = np.concatenate(pooled["event"])
    cnn_metrics = {"trace": classification_metrics(data.labels, cnn)}
    base_rows = event_rows(data, baseline)
    base_pnw = np.isin(base_rows["sources"], PNW_SOURCES)
    cnn_metrics.update({level: classification_metrics(truth, np.concatenate(pooled[level])) for level in CV_LEVELS})
    return {
        "folds": folds,
        "fold_event_macro_f1": [row["event"] for row in per_fold],
        "per_fold": per_fold,
        "cnn": cnn_metrics,
        "baseline": split_metrics(data, baseline),
        "explosion_fraction": explosion_fraction,
        "by_source": {
            str(source): classification_metrics(truth[sources == source], event[sources == source])
            for source in sorted(set(sources.tolist()))
        },
        "by_provenance": {
            str(kind): classification_metrics(truth[provenance == kind], event[provenance == kind])
            for kind in sorted(set(provenance.tolist()) - {""})
        },
        "baseline_pnw_event": classification_metrics(base_rows["truth"][base_pnw], base_rows["event"][base_pnw]),
        "pnw_event": classification_metrics(truth[np.isin(sources, PNW_SOURCES)], event[np.isin(sources, PNW_SOURCES)]),
        "events": [
            {
                "name": str(name),
                "source": str(source),
                "truth": CLASSES[int(label)],
                "provenance": str(kind),
                "probabilities": [round(float(p), 5) for p in row],
            }
            for name, source, kind, label, row in zip(
                np.concatenate(pooled["names"]), sources, provenance, truth, event, strict=True
            )
        ],
    }
