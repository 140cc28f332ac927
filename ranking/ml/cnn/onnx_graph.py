"""The CNN as an ONNX graph for ONNX Runtime, built from the Keras network's weights (no converter package).

Inference only, so batch normalisation folds into the convolution before it and dropout disappears. Keras'
Conv1D is channels-last with kernels (width, in, out); ONNX Conv is channels-first with (out, in, width), and
the window has one channel, so the input only needs a reshape. "same" padding with odd kernels pads (w - 1) / 2
on each side; MaxPooling1D(4) is MaxPool(4, stride 4); the Normalization layer is (x - mean) / max(sqrt(var),
eps), as Keras computes it. ``tests/ranking/test_cnn_inference.py`` holds the graph to Keras' probabilities.
"""

from typing import Any

import keras
import numpy as np
import numpy.typing as npt

from ranking.ml.cnn.windows import N_SPECTRAL, WINDOW_SAMPLES

OPSET = 17
IR_VERSION = 9  # what ONNX Runtime 1.17 and later load
BN_EPSILON_DEFAULT = 1e-3


def _array(value: Any) -> npt.NDArray[np.float32]:
    return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float32)


def _folded_conv(conv: keras.layers.Conv1D, norm: keras.layers.BatchNormalization | None) -> tuple[Any, Any]:
    """ONNX (out, in, width) weights and (out,) bias of a Conv1D, with the batch normalisation after it folded in."""
    kernel = _array(conv.kernel)  # (width, in, out)
    weights = np.transpose(kernel, (2, 1, 0)).copy()
    bias = _array(conv.bias) if conv.use_bias else np.zeros(kernel.shape[2], np.float32)
    if norm is not None:
        scale = _array(norm.gamma) / np.sqrt(_array(norm.moving_variance) + norm.epsilon)
        weights *= scale[:, None, None]
        bias = (bias - _array(norm.moving_mean)) * scale + _array(norm.beta)
    return weights.astype(np.float32), bias.astype(np.float32)


def onnx_model_bytes(model: keras.Model) -> bytes:
    """The serialised ONNX model of a network built by ``network.build_model``: inputs ``window``
    (n, WINDOW_SAMPLES) float32 and ``spectra`` (n, N_SPECTRAL) float32, output ``probabilities`` (n, 4)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    layer = model.get_layer
    initializers: list[Any] = []
    nodes: list[Any] = []

    def constant(name: str, value: npt.NDArray[Any]) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    shape = constant("window_shape", np.array([-1, 1, WINDOW_SAMPLES], np.int64))
    x = node("Reshape", ["window", shape], "window_nc")
    blocks = (("conv_1", "norm_1", True), ("conv_2", "norm_2", True), ("conv_3", None, False))
    for index, (conv_name, norm_name, pooled) in enumerate(blocks, start=1):
        conv = _conv_layer(model, index)
        norm = layer(norm_name) if norm_name else None
        weights, bias = _folded_conv(conv, norm)
        width = weights.shape[2]
        x = node(
            "Conv",
            [x, constant(f"{conv_name}_w", weights), constant(f"{conv_name}_b", bias)],
            conv_name,
            kernel_shape=[width],
            pads=[(width - 1) // 2, (width - 1) // 2],
        )
        x = node("Relu", [x], f"{conv_name}_relu")
        if pooled:
            x = node("MaxPool", [x], f"{conv_name}_pool", kernel_shape=[4], strides=[4])
    average = node("Flatten", [node("GlobalAveragePool", [x], "avg_nc1")], "avg")
    largest = node("Flatten", [node("GlobalMaxPool", [x], "max_nc1")], "max")
    scaling = layer("spectra_scaled")
    mean = _array(scaling.mean).reshape(-1)
    std = np.maximum(np.sqrt(_array(scaling.variance).reshape(-1)), keras.config.epsilon()).astype(np.float32)
    spectra = node(
        "Div",
        [node("Sub", ["spectra", constant("spectra_mean", mean)], "spectra_c"), constant("spectra_std", std)],
        "spectra_scaled",
    )
    joined = node("Concat", [average, largest, spectra], "joined", axis=1)
    hidden = layer("hidden")
    h = node(
        "Gemm",
        [joined, constant("hidden_w", _array(hidden.kernel)), constant("hidden_b", _array(hidden.bias))],
        "hidden",
    )
    h = node("Relu", [h], "hidden_relu")
    out = layer("probabilities")
    logits = node("Gemm", [h, constant("out_w", _array(out.kernel)), constant("out_b", _array(out.bias))], "logits")
    node("Softmax", [logits], "probabilities", axis=1)
    graph = helper.make_graph(
        nodes,
        "seistriage_cnn",
        [
            helper.make_tensor_value_info("window", TensorProto.FLOAT, ["n", WINDOW_SAMPLES]),
            helper.make_tensor_value_info("spectra", TensorProto.FLOAT, ["n", N_SPECTRAL]),
        ],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", 4])],
        initializers,
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    onnx.checker.check_model(onnx_model)
    return bytes(onnx_model.SerializeToString())


def _conv_layer(model: keras.Model, index: int) -> keras.layers.Conv1D:
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv1D)]
    if len(convs) != 3:
        raise ValueError(f"expected the three Conv1D layers of network.build_model, found {len(convs)}")
    return convs[index - 1]
