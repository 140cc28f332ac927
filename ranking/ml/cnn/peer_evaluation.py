"""The seisclass peer on the same event windows as the CNN, and transfer from it (pure NumPy/scikit-learn/Keras).

``peer_evaluate`` scores every event of the labelled windows that has a peer window (earthquake, explosion and
surface-event stations; noise has no P to cut at) with the pretrained peer as its authors use it (station
probabilities averaged per event), mapping its classes onto ours (collapse -> surface event), for both ways of
filling the absent horizontal channels. ``transfer`` uses the peer's frozen penultimate layer as a feature
extractor: per event the mean embedding and mean log-probabilities, a balanced logistic regression fitted in
the same time-block folds as the CNN's cross-validation (out-of-fold probabilities only). ``transfer_finetuned``
uses the peer's network as initialisation: per fold, a copy fine-tuned on the other folds' station windows
(``peer_finetune``, early-stopped on the newest 20 % of those events), its station probabilities averaged per event
on the held-out fold. ``peer_versus_cnn`` compares it with the CNN's out-of-fold event probabilities of the same
folds on the events both scored: the earthquake-vs-explosion AUC of each and a paired bootstrap interval of
the difference.
"""

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ranking.ml.cnn.datasets import (
    CLASSES,
    EARTHQUAKE,
    EXPLOSION,
    SURFACE,
    LabelledWindows,
    split_by_event,
    time_block_folds,
)
from ranking.ml.cnn.evaluation import PNW_SOURCES, classification_metrics
from ranking.ml.cnn.peer import (
    PEER_FINETUNE_EPOCHS,
    peer_available,
    peer_embedding,
    peer_event_probabilities,
    peer_finetune,
    peer_model_probabilities,
    peer_probabilities,
)

PEER_TO_OURS = (EARTHQUAKE, EXPLOSION, SURFACE)  # seisclass earthquake, explosion, collapse


def _ours(peer: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    out = np.zeros((peer.shape[0], len(CLASSES)))
    for column, ours in enumerate(PEER_TO_OURS):
        out[:, ours] = peer[:, column]
    return out


def _event_truth(data: LabelledWindows, names: list[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.str_]]:
    first = [int(np.flatnonzero(data.groups == name)[0]) for name in names]
    return data.labels[first].astype(np.int64), data.sources[first]


def _report(truth: npt.NDArray[np.int64], sources: npt.NDArray[np.str_], p: npt.NDArray[np.float64]) -> dict[str, Any]:
    pnw = np.isin(sources, PNW_SOURCES)
    return {
        "all": classification_metrics(truth, p),
        "pnw": classification_metrics(truth[pnw], p[pnw]),
        "by_source": {
            str(s): classification_metrics(truth[sources == s], p[sources == s]) for s in sorted(set(sources.tolist()))
        },
    }


def peer_evaluate(
    data: LabelledWindows, *, folds: int = 5, finetune_epochs: int = PEER_FINETUNE_EPOCHS
) -> dict[str, Any]:
    """The peer's event figures on ``data`` (or ``{"unavailable": why}``), the frozen-feature transfer and, with
    ``finetune_epochs`` > 0, the fine-tuned transfer."""
    why = peer_available()
    if why is not None:
        return {"unavailable": why}
    fold_all = time_block_folds(data, folds=folds)
    has = np.isfinite(data.peer[:, 0])
    windows, fold_of = data.subset(has), fold_all[has]
    result: dict[str, Any] = {"windows": len(windows)}
    horizontals: Literal["zeros", "copy"]
    for horizontals in ("zeros", "copy"):
        station = peer_probabilities(windows.peer, horizontals=horizontals)
        names, event = peer_event_probabilities(station, windows.groups)
        truth, sources = _event_truth(windows, names)
        result[f"pretrained_{horizontals}"] = {"events": len(names), **_report(truth, sources, _ours(event))}
    result["transfer_frozen"] = _transfer(windows, fold_of)
    if finetune_epochs > 0:
        result["transfer_finetuned"] = _finetuned(windows, fold_of, epochs=finetune_epochs)
    return result


def _finetuned(windows: LabelledWindows, fold_of: npt.NDArray[np.int64], *, epochs: int) -> dict[str, Any]:
    peer_label = np.array([PEER_TO_OURS.index(int(label)) for label in windows.labels], dtype=np.int64)
    station = np.zeros((len(windows), len(PEER_TO_OURS)), np.float32)
    kept = []
    for fold in sorted(set(fold_of.tolist())):
        train, test = np.flatnonzero(fold_of != fold), fold_of == fold
        fit, stop = split_by_event(windows.subset(train), test_fraction=0.2, min_held=1)
        model, best = peer_finetune(
            windows.peer[train[fit]],
            peer_label[train[fit]],
            validation=(windows.peer[train[stop]], peer_label[train[stop]]),
            epochs=epochs,
            seed=7 + fold,
        )
        kept.append(best)
        station[test] = peer_model_probabilities(model, windows.peer[test])
    names, event = peer_event_probabilities(station, windows.groups)
    truth, sources = _event_truth(windows, names)
    ours = _ours(event)
    return {
        "events": len(names),
        "epochs": epochs,
        "fold_epochs_kept": kept,
        **_report(truth, sources, ours),
        "event_probabilities": [
            {"name": name, "source": str(source), "truth": CLASSES[int(label)], "probabilities": row.round(5).tolist()}
            for name, source, label, row in zip(names, sources, truth, ours, strict=True)
        ],
    }


def _pair_score(probabilities: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return probabilities[:, EXPLOSION] / np.maximum(probabilities[:, EXPLOSION] + probabilities[:, EARTHQUAKE], 1e-12)


def peer_versus_cnn(
    cnn_events: list[dict[str, Any]],
    peer_events: list[dict[str, Any]],
    *,
    sources: tuple[str, ...] = PNW_SOURCES,
    resamples: int = 2000,
    seed: int = 7,
) -> dict[str, Any]:
    """Earthquake-vs-explosion ROC AUC of the CNN and of the fine-tuned peer (both out of fold) on the earthquake
    and explosion events of ``sources`` that both scored, and a 95 % paired bootstrap interval of the
    difference (peer - CNN; resamples holding both classes)."""
    cnn = {row["name"]: row for row in cnn_events}
    rows = [
        (row, cnn[row["name"]])
        for row in peer_events
        if row["name"] in cnn and row["source"] in sources and row["truth"] in (CLASSES[EARTHQUAKE], CLASSES[EXPLOSION])
    ]
    is_blast = np.array([peer["truth"] == CLASSES[EXPLOSION] for peer, _ in rows])
    if len(set(is_blast.tolist())) < 2:
        return {"events": len(rows), "explosions": int(is_blast.sum())}
    peer_score = _pair_score(np.array([peer["probabilities"] for peer, _ in rows], dtype=np.float64))
    cnn_score = _pair_score(np.array([ours["probabilities"] for _, ours in rows], dtype=np.float64))
    rng = np.random.default_rng(seed)
    deltas: list[float] = []
    while len(deltas) < resamples:
        pick = rng.integers(0, len(rows), len(rows))
        if is_blast[pick].all() or not is_blast[pick].any():
            continue
        deltas.append(roc_auc_score(is_blast[pick], peer_score[pick]) - roc_auc_score(is_blast[pick], cnn_score[pick]))
    low, high = np.percentile(deltas, [2.5, 97.5])
    auc_peer, auc_cnn = roc_auc_score(is_blast, peer_score), roc_auc_score(is_blast, cnn_score)
    return {
        "events": len(rows),
        "explosions": int(is_blast.sum()),
        "auc_cnn": round(float(auc_cnn), 4),
        "auc_peer_finetuned": round(float(auc_peer), 4),
        "difference": round(float(auc_peer - auc_cnn), 4),
        "interval_95": [round(float(low), 4), round(float(high), 4)],
    }


def _transfer(windows: LabelledWindows, fold_of: npt.NDArray[np.int64]) -> dict[str, Any]:
    embedding = peer_embedding(windows.peer, horizontals="copy").astype(np.float64)
    logp = np.log(np.clip(peer_probabilities(windows.peer, horizontals="copy"), 1e-6, 1.0)).astype(np.float64)
    names = sorted({str(g) for g in windows.groups})
    features = np.stack(
        [
            np.concatenate([embedding[windows.groups == n].mean(axis=0), logp[windows.groups == n].mean(axis=0)])
            for n in names
        ]
    )
    truth, sources = _event_truth(windows, names)
    event_fold = np.array([int(fold_of[int(np.flatnonzero(windows.groups == n)[0])]) for n in names])
    out = np.zeros((len(names), len(CLASSES)))
    for fold in sorted(set(event_fold.tolist())):
        train, test = event_fold != fold, event_fold == fold
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, class_weight="balanced", C=0.3))
        model.fit(features[train], truth[train])
        out[np.ix_(test, model.classes_)] = model.predict_proba(features[test])
    return {"events": len(names), **_report(truth, sources, out)}
