"""The 1-D CNN: architecture, seeded training with augmentation, compiled batched inference, Grad-CAM
saliency, first-layer filters and event-level aggregation (pure NumPy/Keras/TensorFlow, no Django).

Inputs: windows of shape (n, WINDOW_SAMPLES) float32 at 40 Hz, peak-normalised (ranking.ml.cnn.windows), and
their hand-made spectral features (n, N_SPECTRAL) from ``window_spectra`` (computed here from the windows,
so callers pass windows only). Output: class probabilities (n, 4) in the order of ``CLASSES``.
"""

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from ranking.ml.cnn.datasets import CLASSES, NOISE, LabelledWindows
from ranking.ml.cnn.windows import N_SPECTRAL, SAMPLING_RATE, WINDOW_SAMPLES, window_spectra

logger = logging.getLogger(__name__)

ARCHITECTURE_VERSION = "cnn1d-spectral-v2"
LAST_CONV = "conv_last"
FIRST_CONV = "conv_first"
FloatArray = npt.NDArray[np.float32]

_device_logged: list[str] = []


def device_setup() -> str:
    """Turn on GPU memory growth where a GPU is present; return and log the device used ("GPU:0 (name)" or "CPU")."""
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        with contextlib.suppress(RuntimeError):  # already initialised: growth set before, cannot change now
            tf.config.experimental.set_memory_growth(gpu, True)
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        device = f"GPU:0 ({details.get('device_name', 'unknown')})"
    else:
        device = f"CPU ({os.cpu_count()} cores visible)"
    if not _device_logged:
        logger.info("TensorFlow %s runs the CNN on %s", tf.__version__, device)
        _device_logged.append(device)
    return device


def build_model(
    *,
    filters: tuple[int, int, int] = (16, 32, 64),
    dropout: float = 0.3,
    spectra_mean: npt.NDArray[np.floating] | None = None,
    spectra_variance: npt.NDArray[np.floating] | None = None,
) -> keras.Model:
    """Two inputs. ``window`` (WINDOW_SAMPLES, 1) at 40 Hz: three conv blocks (kernel 21 / 9 / 7 samples =
    0.5 / 0.9 / 2.8 s of signal at their rates; max-pool 4 after the first two), global average and max
    pooling. ``spectra`` (N_SPECTRAL,): standardised by a Normalization layer holding the training mean and
    variance. Both join in a 32-unit dense layer before the 4-class softmax (about 4.7 MFLOP per window)."""
    inputs = keras.Input(shape=(WINDOW_SAMPLES, 1), name="window")
    x = keras.layers.Conv1D(filters[0], 21, padding="same", use_bias=False, name=FIRST_CONV)(inputs)
    x = keras.layers.BatchNormalization(name="norm_1")(x)
    x = keras.layers.Activation("relu", name="relu_1")(x)
    x = keras.layers.MaxPooling1D(4, name="pool_1")(x)
    x = keras.layers.Conv1D(filters[1], 9, padding="same", use_bias=False, name="conv_2")(x)
    x = keras.layers.BatchNormalization(name="norm_2")(x)
    x = keras.layers.Activation("relu", name="relu_2")(x)
    x = keras.layers.MaxPooling1D(4, name="pool_2")(x)
    x = keras.layers.Conv1D(filters[2], 7, padding="same", activation="relu", name=LAST_CONV)(x)
    pooled = keras.layers.Concatenate(name="pooled")(
        [keras.layers.GlobalAveragePooling1D(name="avg")(x), keras.layers.GlobalMaxPooling1D(name="max")(x)]
    )
    pooled = keras.layers.Dropout(dropout, name="dropout")(pooled)
    spectra = keras.Input(shape=(N_SPECTRAL,), name="spectra")
    mean = np.zeros(N_SPECTRAL) if spectra_mean is None else np.asarray(spectra_mean, dtype=np.float64)
    variance = np.ones(N_SPECTRAL) if spectra_variance is None else np.asarray(spectra_variance, dtype=np.float64)
    scaled = keras.layers.Normalization(
        mean=mean.tolist(), variance=np.maximum(variance, 1e-6).tolist(), name="spectra_scaled"
    )(spectra)
    joined = keras.layers.Concatenate(name="joined")([pooled, scaled])
    hidden = keras.layers.Dense(32, activation="relu", name="hidden")(joined)
    hidden = keras.layers.Dropout(dropout / 2, name="dropout_hidden")(hidden)
    outputs = keras.layers.Dense(len(CLASSES), activation="softmax", dtype="float32", name="probabilities")(hidden)
    return keras.Model([inputs, spectra], outputs, name=ARCHITECTURE_VERSION)


def model_inputs(windows: npt.NDArray[np.floating]) -> list[FloatArray]:
    """The network's two inputs for windows (n, WINDOW_SAMPLES): [(n, WINDOW_SAMPLES, 1), (n, N_SPECTRAL)]."""
    x = np.asarray(windows, dtype=np.float32).reshape(-1, WINDOW_SAMPLES)
    return [x[:, :, None], window_spectra(x)]


def model_flops(model: keras.Model) -> int:
    """Multiply-adds x 2 per window of the conv and dense layers (pooling and activations not counted)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv1D):
            kernel = layer.kernel.shape  # (width, in, out)
            length = layer.output.shape[1]
            total += 2 * int(length) * int(kernel[0]) * int(kernel[1]) * int(kernel[2])
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
    return total


def class_weights(labels: npt.NDArray[np.int64]) -> dict[int, float]:
    """Balanced weights n / (k x count) for the classes present."""
    counts = np.bincount(labels, minlength=len(CLASSES))
    present = counts > 0
    return {c: float(labels.size / (present.sum() * counts[c])) for c in range(len(CLASSES)) if counts[c]}


def augment(
    windows: FloatArray, labels: npt.NDArray[np.int64], noise_pool: FloatArray, rng: np.random.Generator
) -> FloatArray:
    """One augmented copy: time shift (+-2 s, circular), real noise from ``noise_pool`` added to half of
    the non-noise windows (0.05-0.5 of their peak), re-normalised, then amplitude scaling 0.6-1.4."""
    n = windows.shape[0]
    shifts = np.asarray(rng.integers(-int(2 * SAMPLING_RATE), int(2 * SAMPLING_RATE) + 1, size=(n,)), dtype=np.int64)
    rows = np.arange(WINDOW_SAMPLES)[None, :] - shifts[:, None]
    out = np.take_along_axis(windows, rows % WINDOW_SAMPLES, axis=1)
    if len(noise_pool):
        mixed = (labels != NOISE) & (rng.random(n) < 0.5)
        picks = rng.integers(0, len(noise_pool), size=int(mixed.sum()))
        levels = rng.uniform(0.05, 0.5, size=(int(mixed.sum()), 1)).astype(np.float32)
        out[mixed] = out[mixed] + levels * noise_pool[picks]
        out /= np.maximum(np.abs(out).max(axis=1, keepdims=True), 1e-6)
    out *= rng.uniform(0.6, 1.4, size=(n, 1)).astype(np.float32)
    return out.astype(np.float32)


def oversample_rare(labels: npt.NDArray[np.int64], *, fraction: float = 0.5) -> npt.NDArray[np.int64]:
    """Row indices that repeat every class with fewer than ``fraction`` x the median class count an integer
    number of times, up to about that count (each copy gets its own augmentation every epoch)."""
    counts = np.bincount(labels, minlength=len(CLASSES))
    present = counts[counts > 0]
    if present.size == 0:
        return np.arange(labels.size)
    target = fraction * float(np.median(present))
    parts = [np.arange(labels.size)]
    for c, count in enumerate(counts):
        repeats = int(np.ceil(target / count)) - 1 if 0 < count < target else 0
        parts.extend([np.flatnonzero(labels == c)] * repeats)
    return np.concatenate(parts)


@dataclass
class TrainingResult:
    model: keras.Model
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    device: str = ""
    best_epoch: int = 0  # 1-based epoch whose weights were kept (the last one without validation)
    # fit_with_validation: which training windows were the validation split, and the probabilities (n, 4) the
    # network trained without them gave them (out of sample: used to choose the event-level decision)
    validation_mask: npt.NDArray[np.bool_] | None = None
    validation_probabilities: FloatArray | None = None


def _balanced_loss(model: keras.Model, data: LabelledWindows, weights: dict[int, float]) -> float:
    """Weighted mean cross-entropy of ``model`` on ``data`` (``weights`` per class; missing classes weigh 1)."""
    probabilities = model.predict(model_inputs(data.windows), batch_size=512, verbose=0)
    picked = np.clip(probabilities[np.arange(len(data)), data.labels], 1e-7, 1.0)
    w = np.array([weights.get(int(c), 1.0) for c in data.labels])
    return float((w * -np.log(picked)).sum() / w.sum())


def train_network(
    train: LabelledWindows,
    *,
    epochs: int = 20,
    batch_size: int = 64,
    seed: int = 1234,
    steps: int | None = None,
    learning_rate: float = 2e-3,
    filters: tuple[int, int, int] = (16, 32, 64),
    validation: LabelledWindows | None = None,
    patience: int = 12,
    min_epochs: int = 10,
    oversample: float = 0.5,
    progress: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Fit a new network on ``train`` with fixed seeds, balanced class weights and fresh augmentation each
    epoch (noise windows of ``train`` are the real noise pool). ``steps`` caps the batches per epoch (tests).
    With ``validation`` (windows of other TRAINING events, never the test split), the class-balanced
    validation loss is measured after every epoch, training stops after ``patience`` epochs without a new
    best, and the best epoch's weights are kept; only epochs from ``min_epochs`` on (at most ``epochs``) may
    be chosen or stop the run, so a noisy validation loss cannot keep an untrained network (one CV fold kept
    epoch 2). Classes rarer than ``oversample`` x the median class count (the explosions) are repeated, each
    copy with its own augmentation every epoch (``oversample_rare``; 0 turns it off), before the balanced
    class weights are computed. The learning rate follows a cosine decay over ``epochs``."""
    device = device_setup()
    keras.utils.set_random_seed(seed)
    spectra = window_spectra(train.windows)
    if device.startswith("GPU"):
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model(filters=filters, spectra_mean=spectra.mean(axis=0), spectra_variance=spectra.var(axis=0))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    rows = oversample_rare(train.labels, fraction=oversample) if oversample > 0 else np.arange(len(train))
    labels, base = train.labels[rows], train.windows[rows]
    per_epoch = -(-rows.size // batch_size) if steps is None else steps
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, epochs * per_epoch), alpha=0.05)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    weights = class_weights(labels)
    sample_weights = np.array([weights[int(c)] for c in labels], dtype=np.float32)
    floor = max(1, min(min_epochs, epochs))
    validation_weights = class_weights(validation.labels) if validation is not None and len(validation) else {}
    noise_pool = train.windows[train.labels == NOISE]
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    history: list[dict[str, float]] = []
    best: tuple[float, int, list[Any]] | None = None
    for epoch in range(epochs):
        x = augment(base, labels, noise_pool, rng)
        order = rng.permutation(rows.size)
        if steps is not None:
            order = order[: steps * batch_size]
        fitted = model.fit(
            model_inputs(x[order]),
            labels[order],
            sample_weight=sample_weights[order],
            batch_size=batch_size,
            epochs=1,
            verbose=0,
            shuffle=False,
        )
        row = {key: float(values[-1]) for key, values in fitted.history.items()}
        if validation is not None and len(validation):
            row["val_loss"] = _balanced_loss(model, validation, validation_weights)
            if epoch + 1 >= floor and (best is None or row["val_loss"] < best[0]):
                best = (row["val_loss"], epoch + 1, model.get_weights())
        history.append(row)
        if progress is not None:
            shown = f" val_loss {row['val_loss']:.4f}" if "val_loss" in row else ""
            progress(
                f"epoch {epoch + 1}/{epochs}: loss {row['loss']:.4f} accuracy {row['accuracy']:.3f}{shown} "
                f"({time.perf_counter() - started:.0f} s)"
            )
        if best is not None and epoch + 1 - best[1] >= patience:
            break
    best_epoch = len(history)
    if best is not None:
        model.set_weights(best[2])
        best_epoch = best[1]
    return TrainingResult(model, history, time.perf_counter() - started, device, best_epoch)


def fit_with_validation(
    train: LabelledWindows,
    *,
    epochs: int = 80,
    validation_fraction: float = 0.2,
    refit: bool = True,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> TrainingResult:
    """Early stopping without touching any test split: the newest ``validation_fraction`` of the TRAINING
    events (per source and class, ``split_by_event``) pick the best epoch; with ``refit`` a fresh network
    (same seed) is then trained on all of ``train`` for that many epochs, so no training event is wasted.
    The result keeps the validation mask and the first network's (out-of-sample) validation probabilities."""
    from ranking.ml.cnn.datasets import split_by_event

    inner_mask, validation_mask = split_by_event(train, test_fraction=validation_fraction, seed=11, min_held=1)
    inner, validation = train.subset(inner_mask), train.subset(validation_mask)
    if len(validation) == 0 or len(set(inner.labels.tolist())) < 2:
        return train_network(train, epochs=epochs, progress=progress, **options)
    chosen = train_network(inner, epochs=epochs, validation=validation, progress=progress, **options)
    chosen.validation_mask = validation_mask
    chosen.validation_probabilities = CnnPredictor(chosen.model).predict(validation.windows)
    if not refit:
        return chosen
    if progress is not None:
        progress(f"best validation epoch {chosen.best_epoch}: refitting on all {len(train)} training windows")
    final = train_network(train, epochs=max(1, chosen.best_epoch), progress=progress, **options)
    final.history = chosen.history + final.history
    final.seconds += chosen.seconds
    final.best_epoch = chosen.best_epoch
    final.validation_mask = chosen.validation_mask
    final.validation_probabilities = chosen.validation_probabilities
    return final


class CnnPredictor:
    """Batched inference and Grad-CAM saliency inside compiled tf.functions (one trace per batch shape family)."""

    def __init__(self, model: keras.Model, *, batch_size: int = 256) -> None:
        self.model = model
        self.batch_size = batch_size
        self.device = device_setup()
        conv = model.get_layer(LAST_CONV)
        self._cam_model = keras.Model(model.inputs, [conv.output, model.output])
        shapes = [tuple(i.shape[1:]) for i in model.inputs]
        if shapes != [(WINDOW_SAMPLES, 1), (N_SPECTRAL,)]:
            raise ValueError(
                f"model {model.name} takes {shapes}, not the current windows "
                f"({WINDOW_SAMPLES}, 1) + spectra ({N_SPECTRAL},): retrain it (train --kind cnn)"
            )
        specs = [
            tf.TensorSpec(shape=(None, WINDOW_SAMPLES, 1), dtype=tf.float32),
            tf.TensorSpec(shape=(None, N_SPECTRAL), dtype=tf.float32),
        ]
        self._probabilities = tf.function(self._forward, input_signature=specs, reduce_retracing=True)
        self._saliency = tf.function(self._grad_cam, input_signature=specs, reduce_retracing=True)

    def _forward(self, x: tf.Tensor, spectra: tf.Tensor) -> tf.Tensor:
        return tf.cast(self.model([x, spectra], training=False), tf.float32)

    def _grad_cam(self, x: tf.Tensor, spectra: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            features, probabilities = self._cam_model([x, spectra], training=False)
            tape.watch(features)
            chosen = tf.argmax(probabilities, axis=1)
            score = tf.reduce_sum(tf.math.log(tf.gather(probabilities, chosen, axis=1, batch_dims=1) + 1e-7))
        grads = tape.gradient(score, features)
        weights = tf.reduce_mean(grads, axis=1, keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=2))
        return tf.cast(cam, tf.float32), tf.cast(probabilities, tf.float32)

    def _batches(self, windows: FloatArray) -> list[tuple[FloatArray, FloatArray]]:
        x, spectra = model_inputs(windows)
        return [
            (x[i : i + self.batch_size], spectra[i : i + self.batch_size])
            for i in range(0, x.shape[0], self.batch_size)
        ]

    def predict(self, windows: FloatArray) -> FloatArray:
        """Probabilities (n, 4) for windows (n, WINDOW_SAMPLES) (their spectral features are computed here)."""
        parts = [self._probabilities(tf.constant(b), tf.constant(f)).numpy() for b, f in self._batches(windows)]
        return np.concatenate(parts) if parts else np.zeros((0, len(CLASSES)), np.float32)

    def saliency(self, windows: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Grad-CAM of the predicted class over the last conv layer, linearly upsampled to (n, WINDOW_SAMPLES)
        and scaled to [0, 1] per window; with the probabilities (n, 4)."""
        curves: list[FloatArray] = []
        probabilities: list[FloatArray] = []
        for batch, spectra in self._batches(windows):
            cam, probs = self._saliency(tf.constant(batch), tf.constant(spectra))
            cam_np = cam.numpy()
            coarse = (np.arange(cam_np.shape[1]) + 0.5) * WINDOW_SAMPLES / cam_np.shape[1]
            fine = np.arange(WINDOW_SAMPLES) + 0.5
            up = np.stack([np.interp(fine, coarse, row) for row in cam_np]).astype(np.float32)
            up /= np.maximum(up.max(axis=1, keepdims=True), 1e-12)
            curves.append(up)
            probabilities.append(probs.numpy())
        if not curves:
            return np.zeros((0, WINDOW_SAMPLES), np.float32), np.zeros((0, len(CLASSES)), np.float32)
        return np.concatenate(curves), np.concatenate(probabilities)


class FirstLayerFilters(TypedDict):
    time_s: list[float]  # the kernels' time axis, s
    kernels: list[list[float]]  # (filters, width)
    frequency_hz: list[float]
    response_db: list[list[float]]  # (filters, frequencies), dB re the largest response
    peak_frequency_hz: list[float]  # per filter


def first_layer_filters(model: keras.Model, *, n_fft: int = 256) -> FirstLayerFilters:
    """The first conv layer's kernels as waveforms (time in s at 40 Hz) and amplitude responses (dB re max,
    frequencies in Hz up to the 20 Hz Nyquist), for the model page."""
    kernel = np.asarray(model.get_layer(FIRST_CONV).kernel.numpy(), dtype=np.float64)[:, 0, :].T  # (filters, width)
    response = np.abs(np.fft.rfft(kernel, n=n_fft, axis=1))
    db = 20 * np.log10(np.maximum(response, 1e-9) / max(float(response.max()), 1e-9))
    freqs = np.fft.rfftfreq(n_fft, d=1.0 / SAMPLING_RATE)
    return {
        "time_s": [round(float(t), 4) for t in np.arange(kernel.shape[1]) / SAMPLING_RATE],
        "kernels": [[round(float(v), 5) for v in row] for row in kernel],
        "frequency_hz": [round(float(f), 4) for f in freqs],
        "response_db": [[round(float(v), 2) for v in row] for row in db],
        "peak_frequency_hz": [round(float(freqs[int(np.argmax(row))]), 3) for row in response],
    }


def station_weights(snr: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """Aggregation weight per station: log(1 + SNR) + 0.05, so clear stations dominate noisy ones."""
    return np.log1p(np.maximum(np.asarray(snr, dtype=np.float64), 0.0)) + 0.05


def event_aggregate(probabilities: npt.NDArray[np.floating], snr: npt.NDArray[np.floating]) -> FloatArray:
    """Event probabilities (4,) from station probabilities (n, 4): SNR-weighted mean log-probability, renormalised."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-6, 1.0)
    w = station_weights(snr)
    logp = (w[:, None] * np.log(p)).sum(axis=0) / w.sum()
    out = np.exp(logp - logp.max())
    result: FloatArray = (out / out.sum()).astype(np.float32)
    return result


def events_aggregate(
    probabilities: npt.NDArray[np.floating], snr: npt.NDArray[np.floating], groups: npt.NDArray[np.str_]
) -> tuple[list[str], FloatArray]:
    """Per group (event): the aggregated probabilities, groups in sorted order."""
    names = sorted({str(g) for g in groups})
    rows = [event_aggregate(probabilities[groups == name], snr[groups == name]) for name in names]
    return names, np.stack(rows) if rows else np.zeros((0, len(CLASSES)), np.float32)
