"""The published peer: seisclass (Jia, Chen & Xing 2022, J. Seismology; PyPI, MIT), pure NumPy/ObsPy/Keras.

seisclass ships a pretrained Keras classifier (``models/2606/model_3class.h5`` inside its wheel: earthquake,
explosion, collapse). Its authors' input, from ``seisclass.check_wave``: per station 60 s at 100 Hz from 3 s
before the P pick, Z/N/E concatenated (18,000 samples), each channel demeaned and bandpassed 1-20 Hz (4
corners, zero phase), zeros replaced by the channel mean, z-scored per channel and reshaped to (100, 60, 3);
the event decision is the mean of the station probabilities. ``peer_raw_window`` cuts the raw 100 Hz
vertical window when the labelled windows are prepared (cached with them); ``PeerClassifier`` applies the
authors' own preprocessing function to it (imported from the installed package, never re-implemented) and
their network. The shared PNW and SE USA data are vertical-only, so the N and E channels are absent:
``horizontals="zeros"`` leaves them at zero (what the authors' per-channel code gives a dead channel),
``"copy"`` repeats the vertical in them. The package is optional (requirements/peer.txt): without it,
``peer_available`` says why and the evaluation reports the peer as missing.
"""

from importlib import resources
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import obspy

PEER_RATE = 100.0  # Hz
PEER_PRE_P_S = 3.0  # s before the P pick
PEER_SAMPLES = 6000  # 60 s at 100 Hz, per channel
PEER_CLASSES = ("earthquake", "explosion", "collapse")
PEER_PACKAGE = "seisclass"
PEER_MODEL = ("models", "2606", "model_3class.h5")
PEER_FINETUNE_EPOCHS = 40  # at most, with early stopping on a validation split of the training events
PEER_FINETUNE_PATIENCE = 8
PEER_FINETUNE_RATE = 1e-4

FloatArray = npt.NDArray[np.float32]


def peer_raw_window(trace: obspy.Trace, *, onset: obspy.UTCDateTime) -> FloatArray | None:
    """The raw samples (counts, not filtered) of ``trace`` from 3 s before ``onset`` for 60 s at 100 Hz
    (linear interpolation from the trace's own rate), or None when the trace does not cover them or is
    sampled below 40 Hz (the authors' 20 Hz corner must lie below the Nyquist frequency)."""
    rate = float(trace.stats.sampling_rate)
    if rate < 40.0:
        return None
    start = onset - PEER_PRE_P_S
    t0 = float(start - trace.stats.starttime)
    if t0 < -0.5 / rate or t0 + PEER_SAMPLES / PEER_RATE > trace.stats.npts / rate + 1.0 / rate:
        return None
    data = trace.data
    if isinstance(data, np.ma.MaskedArray):
        if data.mask is not np.ma.nomask and data.mask.any():
            return None
        data = data.data
    values = np.asarray(data, dtype=np.float64)
    times = t0 + np.arange(PEER_SAMPLES) / PEER_RATE
    out = np.interp(times, np.arange(values.size) / rate, values).astype(np.float32)
    return out if np.ptp(out) > 0 else None


def peer_available() -> str | None:
    """None when seisclass and its model can be used, else why not (the import or load error)."""
    try:
        _model()
    except Exception as error:  # ImportError, OSError, Keras deserialisation errors
        return f"{type(error).__name__}: {error}"
    return None


_loaded: list[Any] = []


def _model() -> Any:
    if not _loaded:
        import keras

        path = resources.files(PEER_PACKAGE).joinpath(*PEER_MODEL)
        with resources.as_file(path) as file:
            _loaded.append(keras.models.load_model(str(file), compile=False))
    return _loaded[0]


def peer_inputs(raw: npt.NDArray[np.floating], *, horizontals: Literal["zeros", "copy"] = "zeros") -> FloatArray:
    """(n, 100, 60, 3) network inputs from raw vertical windows (n, PEER_SAMPLES) by the authors'
    ``preprocess_waveform(..., apply_filter=True)`` (demean, 1-20 Hz, zero fill, z-score, reshape)."""
    from seisclass.check_wave import preprocess_waveform

    rows = []
    for vertical in np.asarray(raw, dtype=np.float32):
        side = vertical if horizontals == "copy" else np.zeros_like(vertical)
        rows.append(preprocess_waveform(np.concatenate([vertical, side, side]), apply_filter=True)[0])
    if not rows:
        return np.zeros((0, 100, 60, 3), np.float32)
    return np.stack(rows).astype(np.float32)


def peer_probabilities(raw: npt.NDArray[np.floating], *, horizontals: Literal["zeros", "copy"] = "zeros") -> FloatArray:
    """The peer's station probabilities (n, 3) in ``PEER_CLASSES`` order."""
    return peer_model_probabilities(_model(), raw, horizontals=horizontals)


def peer_embedding(raw: npt.NDArray[np.floating], *, horizontals: Literal["zeros", "copy"] = "zeros") -> FloatArray:
    """The peer network's penultimate layer (n, 16) (its last hidden Dense): a frozen feature extractor."""
    import keras

    model = _model()
    hidden = keras.Model(model.inputs, model.layers[-2].output)
    x = peer_inputs(raw, horizontals=horizontals)
    if not len(x):
        return np.zeros((0, int(model.layers[-2].output.shape[-1])), np.float32)
    return np.asarray(hidden.predict(x, batch_size=256, verbose=0), dtype=np.float32)


def _balanced(labels: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    """Per-sample weights from the CNN's balanced class weights (each present class the same total weight)."""
    from ranking.ml.cnn.network import class_weights  # network imports datasets, which imports this module

    weights = class_weights(labels)
    return np.array([weights[int(label)] for label in labels], dtype=np.float32)


def peer_finetune(
    raw: npt.NDArray[np.floating],
    labels: npt.NDArray[np.integer],
    *,
    validation: tuple[npt.NDArray[np.floating], npt.NDArray[np.integer]] | None = None,
    epochs: int = PEER_FINETUNE_EPOCHS,
    patience: int = PEER_FINETUNE_PATIENCE,
    seed: int = 7,
    horizontals: Literal["zeros", "copy"] = "copy",
) -> tuple[Any, int]:
    """The peer network as initialisation: a copy of the pretrained network (every layer trainable, its own
    3-class head kept) trained further on ``raw`` windows with peer class indices ``labels`` (0 earthquake,
    1 explosion, 2 collapse), balanced class weights and a learning rate 10x below Adam's default, so the
    pretrained filters are adjusted rather than replaced. With ``validation`` (windows of other training
    events, never the test ones), at most ``epochs`` epochs and the weights of the epoch with the lowest
    class-balanced validation loss are kept (``patience`` epochs without a better one stop it); without, all
    ``epochs`` are run. Returns the network and the number of epochs it kept. The pretrained network itself is
    left unchanged."""
    import keras

    keras.utils.set_random_seed(seed)
    base = _model()
    model = keras.models.clone_model(base)
    model.set_weights(base.get_weights())
    model.compile(optimizer=keras.optimizers.Adam(PEER_FINETUNE_RATE), loss="sparse_categorical_crossentropy")
    y = np.asarray(labels, dtype=np.int64)
    options: dict[str, Any] = {}
    if validation is not None and len(validation[1]):
        y_val = np.asarray(validation[1], dtype=np.int64)
        x_val = peer_inputs(validation[0], horizontals=horizontals)
        options["validation_data"] = (x_val, y_val, _balanced(y_val))
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
        options["callbacks"] = [stop]
    x = peer_inputs(raw, horizontals=horizontals)
    history = model.fit(
        x, y, epochs=epochs, batch_size=32, sample_weight=_balanced(y), shuffle=True, verbose=0, **options
    )
    if "validation_data" in options:
        return model, int(np.argmin(history.history["val_loss"])) + 1
    return model, epochs


def peer_model_probabilities(
    model: Any, raw: npt.NDArray[np.floating], *, horizontals: Literal["zeros", "copy"] = "copy"
) -> FloatArray:
    """Station probabilities (n, 3) of a (fine-tuned) peer network on raw vertical windows."""
    x = peer_inputs(raw, horizontals=horizontals)
    if not len(x):
        return np.zeros((0, len(PEER_CLASSES)), np.float32)
    return np.asarray(model.predict(x, batch_size=256, verbose=0), dtype=np.float32)


def peer_event_probabilities(
    probabilities: npt.NDArray[np.floating], groups: npt.NDArray[np.str_]
) -> tuple[list[str], npt.NDArray[np.float64]]:
    """Per group (sorted): the mean of its station probabilities, as ``check_seed_3class`` decides an event."""
    names = sorted({str(g) for g in groups})
    rows = [np.asarray(probabilities[groups == name], dtype=np.float64).mean(axis=0) for name in names]
    return names, np.stack(rows) if rows else np.zeros((0, len(PEER_CLASSES)))
