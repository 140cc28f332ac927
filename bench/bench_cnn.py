"""CNN inference throughput on real windows: every backend of ranking.ml.cnn.inference beside Keras' own batched
``model.predict(batch_size=256)`` (the peer a user would pick), in interleaved rounds of one run, with FLOPs per
window and the share of the CPU's FLOP peak.

Run: .venv/bin/python -m bench.bench_cnn   (needs the shared data; no database)
The network is the production architecture (ranking.ml.cnn.network.build_model) with its initial weights:
throughput does not depend on the weight values. Every path includes the spectral second input
(``window_spectra``, NumPy), as inference in the product does. Windows are real (the first records of each source).
Rounds alternate the backends so a busy machine slows each alike; the best round of each is reported, beside the
load average. Per-window ``model.predict`` (the old baseline) is printed for reference only.
"""

import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ranking.ml.cnn.datasets import shared_windows  # noqa: E402
from ranking.ml.cnn.inference import BACKENDS, cnn_predict_function, default_backend, onnx_available  # noqa: E402
from ranking.ml.cnn.network import build_model, device_setup, model_flops, model_inputs  # noqa: E402
from ranking.ml.cnn.windows import window_spectra  # noqa: E402

SHARED = Path(os.environ.get("SEISTRIAGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
WINDOWS = 2048
ROUNDS = 5
BASELINE_CALLS = 30


def cpu_peak_flops() -> tuple[float, float, str]:
    """Nominal float32 and bfloat16 peaks of the visible cores (cores x clock x FLOPs/cycle) and a description.

    FLOPs per cycle per core, float32 FMA: 64 with two 512-bit FMA units (Intel AVX-512), 32 with 256-bit units
    (AVX2, and AMD Zen 4, which runs AVX-512 on 256-bit halves); bfloat16 dot products (avx512_bf16) double it."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    mhz = [float(v) for v in re.findall(r"cpu MHz\s*:\s*([\d.]+)", text)] or [2000.0]
    model = (re.findall(r"model name\s*:\s*(.+)", text) or ["unknown CPU"])[0].strip()
    wide = "avx512f" in text and "GenuineIntel" in text
    per_cycle = 64 if wide else 32
    bf16 = 2 * per_cycle if ("avx512_bf16" in text or "amx_bf16" in text) else per_cycle
    cores = len(os.sched_getaffinity(0))
    peak = cores * max(mhz) * 1e6
    flags = " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in text)
    return (
        peak * per_cycle,
        peak * bf16,
        f"{model}, {cores} cores, {max(mhz):.0f} MHz, {flags}; {per_cycle} float32 / {bf16} bfloat16 FLOP/cycle",
    )


def rate(predict: Callable[[np.ndarray], np.ndarray], windows: np.ndarray) -> float:
    started = time.perf_counter()
    predict(windows)
    return len(windows) / (time.perf_counter() - started)


def main() -> None:
    device = device_setup()
    real = shared_windows(SHARED, limit=3).windows
    windows = np.resize(real, (WINDOWS, real.shape[1])).astype(np.float32)
    model = build_model()
    flops = model_flops(model)
    peak32, peak16, cpu = cpu_peak_flops()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"device: {device}; {cpu}; {len(real)} distinct real windows tiled to {WINDOWS}")
    print(f"model: {model.count_params()} parameters, {flops / 1e6:.2f} MFLOP per window (conv + dense)")
    if "GPU" not in device:
        print("no GPU on this machine: the GPU figures (target >= 100k windows/s on an H100) are not measured here")

    single = np.ascontiguousarray(windows[:BASELINE_CALLS])
    model.predict(model_inputs(single[:1]), verbose=0)
    per_window = rate(
        lambda w: np.stack([model.predict(model_inputs(w[i : i + 1]), verbose=0) for i in range(len(w))]), single
    )
    print(f"reference only: model.predict per window: {per_window:,.0f} windows/s")
    spectra = max(rate(window_spectra, windows) for _ in range(3))
    print(f"spectral features alone (NumPy): {spectra:,.0f} windows/s")

    if not onnx_available():
        print("onnx: onnxruntime is not installed (pip install -r requirements/bench.txt): not measured")
    backends = [b for b in BACKENDS if b != "onnx" or onnx_available()]
    functions = {backend: cnn_predict_function(model, backend) for backend in backends}
    reference = functions["keras"](windows[:512])
    for backend, predict in functions.items():
        difference = float(np.abs(predict(windows[:512]) - reference).max())  # also traces/compiles once
        print(f"{backend:>9}: largest |p - Keras p| on 512 real windows {difference:.2e}")
    best = dict.fromkeys(functions, 0.0)
    for _ in range(ROUNDS):
        for backend, predict in functions.items():
            best[backend] = max(best[backend], rate(predict, windows))
    keras_rate = best["keras"]
    print(f"\nbest of {ROUNDS} interleaved rounds, {WINDOWS} windows, batch 256; load {os.getloadavg()[0]:.2f}")
    for backend, value in best.items():
        peak = peak16 if backend == "bfloat16" else peak32
        print(
            f"{backend:>9}: {value:>8,.0f} windows/s = {value / keras_rate:5.2f} x Keras predict(batch 256), "
            f"{value * flops / 1e9:6.2f} GFLOP/s = {100 * value * flops / peak:5.2f} % of the "
            f"{'bfloat16' if backend == 'bfloat16' else 'float32'} peak"
        )
    chosen = default_backend()
    print(
        f"default backend here: {chosen}; {best[chosen] / keras_rate:.2f} x Keras (target >= 2x); "
        f"{100 * best[chosen] * flops / (peak16 if chosen == 'bfloat16' else peak32):.1f} % of peak (target >= 25 %)"
    )


if __name__ == "__main__":
    main()
