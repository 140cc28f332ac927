"""Every CNN inference backend gives Keras' own batched predict's probabilities within its tolerance on real
windows, and the default is the measured winner for this machine."""

from pathlib import Path

import keras
import numpy as np
import pytest

from ranking.ml.cnn.datasets import shared_windows
from ranking.ml.cnn.inference import (
    BACKEND_TOLERANCE,
    BACKENDS,
    cnn_predict_function,
    cpu_supports_bfloat16,
    default_backend,
    onnx_available,
)
from ranking.ml.cnn.network import build_model


@pytest.fixture(scope="module")
def real_windows(shared_data: Path) -> np.ndarray:
    windows = shared_windows(shared_data, limit=3).windows
    assert len(windows) >= 8
    return np.asarray(windows[:300], dtype=np.float32)


def _moved_off_initialisation(model: keras.Model) -> keras.Model:
    """Every weight moved off its initial value (batch-norm statistics and scales, the spectra's mean and
    variance), as training leaves them: folding batch normalisation into the convolution must get them right."""
    rng = np.random.default_rng(5)
    weights = []
    for layer_weights in model.get_weights():
        moved = layer_weights + rng.normal(0.0, 0.1, layer_weights.shape).astype(layer_weights.dtype)
        weights.append(np.abs(moved) + 0.5 if layer_weights.ndim == 1 and (layer_weights == 1).all() else moved)
    model.set_weights(weights)
    return model


@pytest.mark.parametrize("trained", [False, True], ids=["initial", "moved"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_each_backend_gives_keras_probabilities_on_real_windows(
    real_windows: np.ndarray, backend: str, trained: bool
) -> None:
    if backend == "onnx" and not onnx_available():
        pytest.skip("onnxruntime is not installed (requirements/bench.txt)")
    model = _moved_off_initialisation(build_model()) if trained else build_model()
    reference = cnn_predict_function(model, "keras")(real_windows)
    ours = cnn_predict_function(model, backend)(real_windows)
    assert ours.shape == reference.shape == (len(real_windows), 4)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, atol=1e-3)
    assert float(np.abs(ours - reference).max()) <= BACKEND_TOLERANCE[backend]
    assert (ours.argmax(axis=1) == reference.argmax(axis=1)).mean() >= 0.97
    assert cnn_predict_function(model, backend)(real_windows[:0]).shape == (0, 4)


def test_the_default_backend_follows_the_cpu() -> None:
    assert default_backend() == ("bfloat16" if cpu_supports_bfloat16() else "graph")
    with pytest.raises(ValueError, match="unknown CNN backend"):
        cnn_predict_function(build_model(), "tensorrt")
