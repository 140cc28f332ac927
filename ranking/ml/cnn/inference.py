"""CNN inference backends, measured side by side by bench/bench_cnn.py; the winner on the CPU is the default.

- ``graph``: the spectral features in NumPy, the network in one traced ``tf.function`` per batch
  (``network.CnnPredictor``);
- ``keras``: Keras' own ``model.predict(batch_size=256)``, the peer a user would pick;
- ``xla``: the same graph compiled by XLA (``jit_compile=True``);
- ``bfloat16``: the network cloned under Keras' ``mixed_bfloat16`` policy (bfloat16 compute, float32 variables
  and softmax), on CPUs whose flags show ``avx512_bf16`` or ``amx_bf16``.
- ``onnx``: ONNX Runtime on the same network written as an ONNX graph (``onnx_graph.py``: batch norm folded into
  the convolutions), where onnxruntime is installed (requirements/dev.txt).

On the 2-core AMD EPYC development machine (avx512_bf16) XLA's CPU convolutions were slower than the traced graph
and bfloat16 the fastest (1.27x Keras' batched predict at load 7.8, 2.07x at load 20; bench/bench_cnn.py), so
``default_backend()`` picks bfloat16 where the CPU supports it and graph elsewhere. ONNX Runtime 1.23 was slower
still there (0.72x Keras at load 5; its 1D convolutions at batch 256 and 2048, one or two threads: 4.1-5.0k windows/s
for the network alone), so it is measured and tested, not chosen. Every backend gives Keras'
probabilities within ``BACKEND_TOLERANCE`` (tests/ranking/test_cnn_inference.py). The product's classification
task also needs Grad-CAM saliency, which stays on ``network.CnnPredictor`` (float32).
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from ranking.ml.cnn.network import CnnPredictor, model_inputs

FloatArray = npt.NDArray[np.float32]
BACKENDS = ("graph", "keras", "xla", "bfloat16", "onnx")
# Largest absolute difference from Keras' probabilities each backend is held to.
BACKEND_TOLERANCE = {"graph": 1e-5, "keras": 0.0, "xla": 1e-5, "bfloat16": 0.05, "onnx": 1e-5}
BATCH = 256


def cpu_supports_bfloat16() -> bool:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return "avx512_bf16" in text or "amx_bf16" in text


def default_backend() -> str:
    """The measured winner: bfloat16 where the CPU has bfloat16 dot products and no GPU is visible, else graph."""
    return "bfloat16" if cpu_supports_bfloat16() and not tf.config.list_physical_devices("GPU") else "graph"


def _bfloat16_clone(model: keras.Model) -> keras.Model:
    """The network with bfloat16 compute (variables stay float32; the softmax layer keeps float32)."""
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] != "InputLayer" and layer["config"].get("name") != "probabilities":
            layer["config"]["dtype"] = "mixed_bfloat16"
    clone = keras.Model.from_config(config)
    clone.set_weights(model.get_weights())
    return clone


def _batched(forward: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]) -> Callable[[FloatArray], FloatArray]:
    def predict(windows: FloatArray) -> FloatArray:
        x, spectra = model_inputs(windows)
        parts = [
            np.asarray(forward(tf.constant(x[i : i + BATCH]), tf.constant(spectra[i : i + BATCH])), np.float32)
            for i in range(0, len(x), BATCH)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, 4), np.float32)

    return predict


def cnn_predict_function(model: keras.Model, backend: str | None = None) -> Callable[[FloatArray], FloatArray]:
    """A function windows (n, WINDOW_SAMPLES) -> probabilities (n, 4) running ``model`` on ``backend``
    (default_backend() when None)."""
    backend = backend or default_backend()
    if backend not in BACKENDS:
        raise ValueError(f"unknown CNN backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "graph":
        return CnnPredictor(model, batch_size=BATCH).predict
    if backend == "onnx":
        return _onnx_predict(model)
    if backend == "keras":
        return lambda windows: (
            np.asarray(model.predict(model_inputs(windows), batch_size=BATCH, verbose=0))
            if len(windows)
            else np.zeros((0, 4), np.float32)  # Keras fails on an empty input
        )
    network: Any = _bfloat16_clone(model) if backend == "bfloat16" else model
    specs = [tf.TensorSpec(shape=(None, *i.shape[1:]), dtype=tf.float32) for i in model.inputs]

    def forward(x: tf.Tensor, spectra: tf.Tensor) -> tf.Tensor:
        return tf.cast(network([x, spectra], training=False), tf.float32)

    return _batched(tf.function(forward, input_signature=specs, jit_compile=backend == "xla", reduce_retracing=True))


def onnx_available() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _onnx_predict(model: keras.Model) -> Callable[[FloatArray], FloatArray]:
    """ONNX Runtime on the graph ``onnx_graph.onnx_model_bytes`` builds, one session per model (its threads:
    the process's CPU share, one inside a Celery prefork child, like the trees' inference)."""
    import onnxruntime

    from ranking.ml.cnn.onnx_graph import onnx_model_bytes
    from ranking.ml.tree_inference import scoring_threads

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = scoring_threads(BATCH)
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(onnx_model_bytes(model), options, providers=["CPUExecutionProvider"])

    def predict(windows: FloatArray) -> FloatArray:
        x, spectra = model_inputs(windows)
        if not len(x):
            return np.zeros((0, 4), np.float32)
        flat = np.ascontiguousarray(x[:, :, 0])
        parts = [
            session.run(["probabilities"], {"window": flat[i : i + BATCH], "spectra": spectra[i : i + BATCH]})[0]
            for i in range(0, len(flat), BATCH)
        ]
        return np.asarray(np.concatenate(parts), np.float32)

    return predict
