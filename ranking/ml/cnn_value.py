"""Proof of value of the CNN features in the ranker (pure NumPy/scikit-learn, no Django).

On the events that have waveforms and an out-of-fold CNN probability (the CNN's own cross-validation: no
event's CNN probability comes from a network that saw it), the ranker is cross-validated twice over time
blocks of those events: with the CNN stacking features (``CNN_FEATURE_NAMES``) and with them left missing.
Each fold's ranker is fitted on every other labelled event (their CNN features missing, as in the product,
where most reviewed events have no waveforms) plus the waveform events of the other folds. Pooled over the
folds: average precision of P(explosion-like) and decision accuracy, with and without; a paired bootstrap over
the waveform events gives the 95 % interval of each difference. ``cnn_value_decision``: the CNN features stay in
the default ranker only when the interval of ΔAP lies above 0.

``pnsn_catalogue_inputs`` reads the PNSN catalogue rows (origin, time and reviewed-neighbour features; no
gazetteer, no waveforms) so that ``evaluate --kind ranker --cnn-value`` can run on the shared data alone.
"""

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score

from ranking.ml.classes import CNN_CLASSES, DECISION_CLASSES, EXPLOSION_LIKE, decision_class_for
from ranking.ml.features import (
    CNN_FEATURE_NAMES,
    FEATURE_NAMES,
    FEATURE_VERSION,
    EventInputs,
    ReviewedCatalogue,
    feature_matrix,
)
from ranking.ml.ranker import ranker_fit

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CNN_COLUMNS = np.array([FEATURE_NAMES.index(name) for name in CNN_FEATURE_NAMES], dtype=np.int64)


def pnsn_catalogue_inputs(path: Path) -> tuple[list[str], FloatArray, IntArray, FloatArray]:
    """Event ids, ranker features (no CNN yet), decision class indices and POSIX times of a PNSN catalogue CSV;
    each event's reviewed neighbours are the catalogue's events before it."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    inputs: list[EventInputs] = []
    labels: list[int] = []
    ids: list[str] = []
    for line, row in enumerate(rows, start=2):
        decision = decision_class_for(row.get("event_type", ""))
        if decision is None:
            continue
        try:
            inputs.append(
                EventInputs(
                    origin_time=float(row["timestamp"]),
                    latitude=float(row["latitude"]),
                    longitude=float(row["longitude"]),
                    depth_km=float(row["depth"]),
                    magnitude=float(row["magnitude"]) if row["magnitude"] else None,
                    magnitude_type=row["magnitude_type"],
                    used_phase_count=int(row["number_of_pick"]) if row["number_of_pick"] else None,
                )
            )
        except (KeyError, ValueError) as error:
            raise ValueError(f"{path}, line {line}: {error}") from None
        labels.append(DECISION_CLASSES.index(decision))
        ids.append(row["source_id"])
    label_array = np.array(labels, dtype=np.int64)
    times = np.array([e.origin_time for e in inputs], dtype=np.float64)
    reviewed = ReviewedCatalogue(
        times, np.array([e.latitude for e in inputs]), np.array([e.longitude for e in inputs]), label_array
    )
    return ids, feature_matrix(inputs, gazetteer=None, reviewed=reviewed), label_array, times


def cnn_feature_rows(probabilities: Sequence[Sequence[float]]) -> FloatArray:
    """CNN stacking columns (CNN_FEATURE_NAMES order) from event probabilities in CNN_CLASSES order; the station
    count and SNR are not part of the out-of-fold record and stay NaN."""
    out = np.full((len(probabilities), len(CNN_FEATURE_NAMES)), np.nan)
    for row, p in enumerate(probabilities):
        for name, value in zip(CNN_CLASSES, p, strict=True):
            out[row, CNN_FEATURE_NAMES.index(f"cnn_p_{name}")] = float(value)
    return out


def _blocks(times: FloatArray, folds: int) -> IntArray:
    order = np.argsort(times, kind="stable")
    fold = np.zeros(times.size, dtype=np.int64)
    for index, block in enumerate(np.array_split(order, folds)):
        fold[block] = index
    return fold


def cnn_value(
    features: FloatArray,
    labels: IntArray,
    times: FloatArray,
    waveform_rows: Mapping[int, Sequence[float]],
    *,
    folds: int = 5,
    bootstrap: int = 2000,
    seed: int = 3,
) -> dict[str, Any]:
    """ΔAP (explosion-like) and Δaccuracy of the ranker with minus without the CNN features on the events
    ``waveform_rows`` (row index -> out-of-fold CNN probabilities in CNN_CLASSES order), with 95 % paired
    bootstrap intervals. ``features`` (n, FEATURE_NAMES) have their CNN columns ignored (set here)."""
    rows = np.array(sorted(waveform_rows), dtype=np.int64)
    if rows.size < folds * 2:
        raise ValueError(f"{rows.size} events with waveforms and out-of-fold CNN probabilities: too few")
    base = np.array(features, dtype=np.float64, copy=True)
    base[:, CNN_COLUMNS] = np.nan
    with_cnn = base.copy()
    with_cnn[np.ix_(rows, CNN_COLUMNS)] = cnn_feature_rows([waveform_rows[int(r)] for r in rows])
    others = np.setdiff1d(np.arange(labels.size), rows)
    fold = _blocks(times[rows], folds)
    ex = DECISION_CLASSES.index(EXPLOSION_LIKE)
    predicted = {
        "with": np.zeros((rows.size, len(DECISION_CLASSES))),
        "without": np.zeros((rows.size, len(DECISION_CLASSES))),
    }
    for k in range(folds):
        test = rows[fold == k]
        train = np.concatenate([others, rows[fold != k]])
        for name, matrix in (("with", with_cnn), ("without", base)):
            model = ranker_fit(
                matrix[train], labels[train], times[train], feature_names=FEATURE_NAMES, feature_version=FEATURE_VERSION
            )
            predicted[name][fold == k] = model.predict_proba(matrix[test])
    truth = labels[rows]
    is_ex = truth == ex

    def scores(index: IntArray) -> dict[str, float]:
        out = {}
        for name, p in predicted.items():
            hit = is_ex[index]
            out[f"ap_{name}"] = float(average_precision_score(hit, p[index, ex])) if hit.any() else float("nan")
            out[f"accuracy_{name}"] = float(np.mean(np.argmax(p[index], axis=1) == truth[index]))
        return out

    point = scores(np.arange(rows.size))
    rng = np.random.default_rng(seed)
    deltas: dict[str, list[float]] = {"ap": [], "accuracy": []}
    for _ in range(bootstrap):
        sample = rng.integers(0, rows.size, size=rows.size)
        if not is_ex[sample].any():
            continue
        s = scores(sample)
        deltas["ap"].append(s["ap_with"] - s["ap_without"])
        deltas["accuracy"].append(s["accuracy_with"] - s["accuracy_without"])
    result: dict[str, Any] = {
        "events": int(rows.size),
        "explosions": int(is_ex.sum()),
        "folds": folds,
        "bootstrap": bootstrap,
        **{key: round(value, 4) for key, value in point.items()},
        "max_probability_change": round(float(np.abs(predicted["with"] - predicted["without"]).max()), 4),
    }
    for key in ("ap", "accuracy"):
        result[f"delta_{key}"] = round(point[f"{key}_with"] - point[f"{key}_without"], 4)
        low, high = np.percentile(deltas[key], [2.5, 97.5])
        result[f"delta_{key}_interval"] = [round(float(low), 4), round(float(high), 4)]
    result["cnn_features_in_default_ranker"] = cnn_value_decision(result)
    return result


def cnn_value_decision(result: Mapping[str, Any]) -> bool:
    """Keep the CNN features only when the 95 % interval of ΔAP lies entirely above 0."""
    low = result.get("delta_ap_interval", [0.0, 0.0])[0]
    return bool(low is not None and low > 0.0)
