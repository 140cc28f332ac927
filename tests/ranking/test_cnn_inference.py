"""Every CNN inference backend gives Keras' own batched predict's probabilities within its tolerance on real
windows, and the default is the measured winner for this machine."""

from pathlib import Path

import numpy as np
import pytest

from ranking.ml.cnn.datasets import shared_windows
from ranking.ml.cnn.inference import (
    BACKEND_TOLERANCE,
    BACKENDS,
    cnn_predict_function,
    cpu_supports_bfloat16,
    default_backend,
)
from ranking.ml.cnn.network import build_model


@pytest.fixture(scope="module")
def real_windows(shared_data: Path) -> np.ndarray:
    windows = shared_windows(shared_data, limit=3).windows
    assert len(windows) >= 8
    return np.asarray(windows[:300], dtype=np.float32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_backend_gives_keras_probabilities_on_real_windows(real_windows: np.ndarray, backend: str) -> None:
    model = build_model()
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
        cnn_predict_function(build_model(), "onnx")
