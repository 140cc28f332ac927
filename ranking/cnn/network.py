"""The 1-D CNN: architecture, seeded training with augmentation, compiled batched inference, Grad-CAM
saliency, first-layer filters and event-level aggregation (pure NumPy/Keras/TensorFlow, no Django).

Input: windows of shape (n, WINDOW_SAMPLES) float32 at 20 Hz, peak-normalised (ranking.cnn.windows).
Output: class probabilities (n, 4) in the order of ``CLASSES``.
"""

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from ranking.cnn.datasets import CLASSES, NOISE, LabelledWindows
from ranking.cnn.windows import SAMPLING_RATE, WINDOW_SAMPLES

logger = logging.getLogger(__name__)

ARCHITECTURE_VERSION = "cnn1d-v1"
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


def build_model(*, filters: tuple[int, int, int] = (16, 32, 64), dropout: float = 0.2) -> keras.Model:
    """Three conv blocks (kernel 15 / 7 / 5 samples = 0.75 / 0.35 / 0.25 s at 20 Hz; max-pool 4 after the
    first two), global average and max pooling, a softmax over the 4 classes: about 1.4 MFLOP per window."""
    inputs = keras.Input(shape=(WINDOW_SAMPLES, 1), name="window")
    x = keras.layers.Conv1D(filters[0], 15, padding="same", use_bias=False, name=FIRST_CONV)(inputs)
    x = keras.layers.BatchNormalization(name="norm_1")(x)
    x = keras.layers.Activation("relu", name="relu_1")(x)
    x = keras.layers.MaxPooling1D(4, name="pool_1")(x)
    x = keras.layers.Conv1D(filters[1], 7, padding="same", use_bias=False, name="conv_2")(x)
    x = keras.layers.BatchNormalization(name="norm_2")(x)
    x = keras.layers.Activation("relu", name="relu_2")(x)
    x = keras.layers.MaxPooling1D(4, name="pool_2")(x)
    x = keras.layers.Conv1D(filters[2], 5, padding="same", activation="relu", name=LAST_CONV)(x)
    pooled = keras.layers.Concatenate(name="pooled")(
        [keras.layers.GlobalAveragePooling1D(name="avg")(x), keras.layers.GlobalMaxPooling1D(name="max")(x)]
    )
    pooled = keras.layers.Dropout(dropout, name="dropout")(pooled)
    outputs = keras.layers.Dense(len(CLASSES), activation="softmax", dtype="float32", name="probabilities")(pooled)
    return keras.Model(inputs, outputs, name=ARCHITECTURE_VERSION)


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


@dataclass
class TrainingResult:
    model: keras.Model
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    device: str = ""


def train_network(
    train: LabelledWindows,
    *,
    epochs: int = 20,
    batch_size: int = 64,
    seed: int = 1234,
    steps: int | None = None,
    learning_rate: float = 2e-3,
    filters: tuple[int, int, int] = (16, 32, 64),
    progress: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Fit a new network on ``train`` with fixed seeds, balanced class weights and fresh augmentation each
    epoch (noise windows of ``train`` are the real noise pool). ``steps`` caps the batches per epoch (tests)."""
    device = device_setup()
    keras.utils.set_random_seed(seed)
    if device.startswith("GPU"):
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model(filters=filters)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    weights = class_weights(train.labels)
    sample_weights = np.array([weights[int(c)] for c in train.labels], dtype=np.float32)
    noise_pool = train.windows[train.labels == NOISE]
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    history: list[dict[str, float]] = []
    for epoch in range(epochs):
        x = augment(train.windows, train.labels, noise_pool, rng)
        order = rng.permutation(len(train))
        if steps is not None:
            order = order[: steps * batch_size]
        fitted = model.fit(
            x[order, :, None], train.labels[order], sample_weight=sample_weights[order], batch_size=batch_size,
            epochs=1, verbose=0, shuffle=False,
        )  # fmt: skip
        row = {key: float(values[-1]) for key, values in fitted.history.items()}
        history.append(row)
        if progress is not None:
            progress(f"epoch {epoch + 1}/{epochs}: loss {row['loss']:.4f} accuracy {row['accuracy']:.3f} "
                     f"({time.perf_counter() - started:.0f} s)")  # fmt: skip
    return TrainingResult(model, history, time.perf_counter() - started, device)


class CnnPredictor:
    """Batched inference and Grad-CAM saliency inside compiled tf.functions (one trace per batch shape family)."""

    def __init__(self, model: keras.Model, *, batch_size: int = 256) -> None:
        self.model = model
        self.batch_size = batch_size
        self.device = device_setup()
        conv = model.get_layer(LAST_CONV)
        self._cam_model = keras.Model(model.inputs, [conv.output, model.output])
        spec = tf.TensorSpec(shape=(None, WINDOW_SAMPLES, 1), dtype=tf.float32)
        self._probabilities = tf.function(self._forward, input_signature=[spec], reduce_retracing=True)
        self._saliency = tf.function(self._grad_cam, input_signature=[spec], reduce_retracing=True)

    def _forward(self, x: tf.Tensor) -> tf.Tensor:
        return tf.cast(self.model(x, training=False), tf.float32)

    def _grad_cam(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            features, probabilities = self._cam_model(x, training=False)
            tape.watch(features)
            chosen = tf.argmax(probabilities, axis=1)
            score = tf.reduce_sum(tf.math.log(tf.gather(probabilities, chosen, axis=1, batch_dims=1) + 1e-7))
        grads = tape.gradient(score, features)
        weights = tf.reduce_mean(grads, axis=1, keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=2))
        return tf.cast(cam, tf.float32), tf.cast(probabilities, tf.float32)

    def _batches(self, windows: FloatArray) -> list[FloatArray]:
        x = np.asarray(windows, dtype=np.float32).reshape(-1, WINDOW_SAMPLES, 1)
        return [x[i : i + self.batch_size] for i in range(0, x.shape[0], self.batch_size)]

    def predict(self, windows: FloatArray) -> FloatArray:
        """Probabilities (n, 4) for windows (n, WINDOW_SAMPLES)."""
        parts = [self._probabilities(tf.constant(b)).numpy() for b in self._batches(windows)]
        return np.concatenate(parts) if parts else np.zeros((0, len(CLASSES)), np.float32)

    def saliency(self, windows: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Grad-CAM of the predicted class over the last conv layer, linearly upsampled to (n, WINDOW_SAMPLES)
        and scaled to [0, 1] per window; with the probabilities (n, 4)."""
        curves: list[FloatArray] = []
        probabilities: list[FloatArray] = []
        for batch in self._batches(windows):
            cam, probs = self._saliency(tf.constant(batch))
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


def first_layer_filters(model: keras.Model, *, n_fft: int = 256) -> dict[str, Any]:
    """The first conv layer's kernels as waveforms (time in s at 20 Hz) and amplitude responses (dB re max,
    frequencies in Hz up to the 10 Hz Nyquist), for the model page."""
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
