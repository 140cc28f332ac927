"""The seisclass peer on the same event windows as the CNN, and transfer from it (pure NumPy/scikit-learn/Keras).

``peer_evaluate`` scores every event of the labelled windows that has a peer window (earthquake, explosion and
surface-event stations; noise has no P to cut at) with the pretrained peer as its authors use it (station
probabilities averaged per event), mapping its classes onto ours (collapse -> surface event), for both ways of
filling the absent horizontal channels. ``transfer`` uses the peer's frozen penultimate layer as a feature
extractor: per event the mean embedding and mean log-probabilities, a balanced logistic regression fitted in
the same time-block folds as the CNN's cross-validation (out-of-fold probabilities only). ``transfer_finetuned``
uses the peer's network as initialisation: per fold, a copy fine-tuned on the other folds' station windows
(``peer_finetune``), its station probabilities averaged per event on the held-out fold.
"""

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ranking.ml.cnn.datasets import CLASSES, EARTHQUAKE, EXPLOSION, SURFACE, LabelledWindows, time_block_folds
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
    for fold in sorted(set(fold_of.tolist())):
        train, test = fold_of != fold, fold_of == fold
        model = peer_finetune(windows.peer[train], peer_label[train], epochs=epochs, seed=7 + fold)
        station[test] = peer_model_probabilities(model, windows.peer[test])
    names, event = peer_event_probabilities(station, windows.groups)
    truth, sources = _event_truth(windows, names)
    return {"events": len(names), "epochs": epochs, **_report(truth, sources, _ours(event))}


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
