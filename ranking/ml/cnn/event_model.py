"""Event-level decision: the CNN's SNR-weighted station aggregate combined with a logistic regression on the
event's spectral features (pure NumPy/scikit-learn, no Django).

Blast/quake discrimination in the PNW is largely spectral (Kharita et al.): one station's spectrum is noisy,
the network of stations is not. ``event_spectral_features`` summarises an event's windows (n, WINDOW_SAMPLES,
40 Hz) as the median and the SNR-weighted mean of their ``window_spectra`` (2 x N_SPECTRAL values). A
balanced logistic regression on those, fitted on the TRAINING events only, gives event probabilities; the
final event probabilities are the normalised geometric mean of it and the CNN aggregate (equal weights,
fixed in advance, not tuned on any split). The regression is kept as plain numbers (scaler mean/scale,
coefficients, intercept, classes) so it is stored as JSON beside the Keras model and applied with NumPy.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from ranking.ml.cnn.datasets import CLASSES
from ranking.ml.cnn.network import event_aggregate, station_weights
from ranking.ml.cnn.windows import N_SPECTRAL, SPECTRAL_FEATURES, window_spectra

EVENT_FEATURES = tuple(f"median_{n}" for n in SPECTRAL_FEATURES) + tuple(f"snr_mean_{n}" for n in SPECTRAL_FEATURES)
FloatArray = npt.NDArray[np.float64]


def event_spectral_features(windows: npt.NDArray[np.floating], snr: npt.NDArray[np.floating]) -> FloatArray:
    """(2 x N_SPECTRAL,) for one event's windows (n >= 1, WINDOW_SAMPLES) and their SNRs (n,): the median over
    stations of each spectral feature, then their mean weighted by ``station_weights(snr)``."""
    spectra = window_spectra(np.asarray(windows)).astype(np.float64)
    if spectra.shape[0] == 0:
        raise ValueError("an event needs at least one window")
    weights = station_weights(np.asarray(snr, dtype=np.float64))
    weighted = (weights[:, None] * spectra).sum(axis=0) / weights.sum()
    return np.concatenate([np.median(spectra, axis=0), weighted])


def events_spectral_features(
    windows: npt.NDArray[np.floating], snr: npt.NDArray[np.floating], keys: npt.NDArray[np.str_]
) -> tuple[list[str], FloatArray]:
    """Per event key (sorted, as ``events_aggregate``): its ``event_spectral_features``, shape (events, 18)."""
    names = sorted({str(k) for k in keys})
    rows = [event_spectral_features(windows[keys == name], snr[keys == name]) for name in names]
    return names, np.stack(rows) if rows else np.zeros((0, 2 * N_SPECTRAL))


@dataclass(frozen=True)
class EventSpectralModel:
    """A fitted balanced logistic regression on standardised EVENT_FEATURES; classes are CLASSES indices."""

    mean: FloatArray
    scale: FloatArray
    coef: FloatArray  # (len(classes), 18); binary fits are expanded to two rows
    intercept: FloatArray  # (len(classes),)
    classes: npt.NDArray[np.int64]

    def probabilities(self, features: npt.NDArray[np.floating]) -> FloatArray:
        """(events, 4) in CLASSES order (zero for classes absent from training) for features (events, 18)."""
        z = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        logits = z @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        out = np.zeros((p.shape[0], len(CLASSES)))
        out[:, self.classes] = p
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "features": list(EVENT_FEATURES),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "classes": self.classes.tolist(),
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "EventSpectralModel":
        if list(data.get("features", [])) != list(EVENT_FEATURES):
            raise ValueError("the stored event model uses other features: retrain the CNN (train --kind cnn)")
        return EventSpectralModel(
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["scale"], dtype=np.float64),
            np.asarray(data["coef"], dtype=np.float64),
            np.asarray(data["intercept"], dtype=np.float64),
            np.asarray(data["classes"], dtype=np.int64),
        )


def event_spectral_fit(
    features: npt.NDArray[np.floating], labels: npt.NDArray[np.int64], *, c: float = 1.0
) -> EventSpectralModel:
    """Fit on training events: features (events, 18), labels (events,) CLASSES indices (two classes at least)."""
    x = np.asarray(features, dtype=np.float64)
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    fitted = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit((x - scaler.mean_) / scale, labels)
    coef, intercept = fitted.coef_, fitted.intercept_
    if coef.shape[0] == 1:  # binary: sklearn keeps one row for the second class
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    return EventSpectralModel(scaler.mean_.copy(), scale, coef, intercept, fitted.classes_.astype(np.int64))


def event_combine(cnn_event: npt.NDArray[np.floating], spectral_event: npt.NDArray[np.floating]) -> FloatArray:
    """Normalised geometric mean (events, 4) of the CNN aggregate and the spectral model's probabilities."""
    logp = 0.5 * (np.log(np.clip(cnn_event, 1e-6, 1.0)) + np.log(np.clip(spectral_event, 1e-6, 1.0)))
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    result: FloatArray = p / p.sum(axis=1, keepdims=True)
    return result


def event_decide(
    probabilities: npt.NDArray[np.floating],
    snr: npt.NDArray[np.floating],
    windows: npt.NDArray[np.floating],
    model: EventSpectralModel | None,
) -> FloatArray:
    """One event's probabilities (4,): the CNN aggregate of its stations (``event_aggregate``), combined with
    the spectral model's when there is one."""
    cnn = event_aggregate(probabilities, snr).astype(np.float64)
    if model is None:
        return cnn
    spectral = model.probabilities(event_spectral_features(windows, snr)[None, :])
    result: FloatArray = event_combine(cnn[None, :], spectral)[0]
    return result
