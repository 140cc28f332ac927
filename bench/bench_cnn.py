"""CNN inference throughput on real windows: our compiled batched path at batch sizes 1, 32 and 256 beside
per-window ``model.predict`` in the same run, with FLOPs per window and the fraction of the CPU's peak.

Run: .venv/bin/python -m bench.bench_cnn   (needs the shared data; no database)
The network is the production architecture (ranking.ml.cnn.network.build_model) with its initial weights:
throughput does not depend on the weight values. Both paths include the spectral second input
(``window_spectra``, NumPy), as inference in the product does. Windows are real (the first records of each source).
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
from ranking.ml.cnn.network import CnnPredictor, build_model, device_setup, model_flops, model_inputs  # noqa: E402

SHARED = Path(os.environ.get("SEISTRIAGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
WINDOWS = 4096
BASELINE_CALLS = 60
FLOPS_PER_CYCLE = 64  # float32 per core: 2 AVX-512 FMA units x 16 lanes x 2 (AVX2 machines: 32)


def cpu_peak_flops() -> tuple[float, str]:
    """Nominal float32 peak of the visible cores (cores x clock x FLOPs/cycle) and a description."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    mhz = [float(v) for v in re.findall(r"cpu MHz\s*:\s*([\d.]+)", text)] or [2000.0]
    model = (re.findall(r"model name\s*:\s*(.+)", text) or ["unknown CPU"])[0].strip()
    per_cycle = FLOPS_PER_CYCLE if "avx512f" in text else 32
    cores = len(os.sched_getaffinity(0))
    return cores * max(mhz) * 1e6 * per_cycle, f"{model}, {cores} cores, {max(mhz):.0f} MHz, {per_cycle} FLOP/cycle"


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
    peak, cpu = cpu_peak_flops()
    print(f"device: {device}; {cpu}; {len(real)} distinct real windows tiled to {WINDOWS}")
    print(f"model: {model.count_params()} parameters, {flops / 1e6:.2f} MFLOP per window")

    single = np.ascontiguousarray(windows[:BASELINE_CALLS])
    model.predict(model_inputs(single[:1]), verbose=0)
    baseline = rate(
        lambda w: np.stack([model.predict(model_inputs(w[i : i + 1]), verbose=0) for i in range(len(w))]), single
    )
    print(f"baseline model.predict per window: {baseline:,.0f} windows/s")
    for batch in (1, 32, 256):
        predictor = CnnPredictor(model, batch_size=batch)
        count = 400 if batch == 1 else WINDOWS
        predictor.predict(windows[: batch * 2])  # trace the compiled function once
        best = max(rate(predictor.predict, windows[:count]) for _ in range(3))
        print(
            f"compiled batch {batch:>3}: {best:>9,.0f} windows/s = {best / baseline:6.1f} x baseline, "
            f"{best * flops / 1e9:6.2f} GFLOP/s = {100 * best * flops / peak:5.2f} % of the CPU peak"
        )
    predictor = CnnPredictor(model, batch_size=256)
    predictor.saliency(windows[:256])
    saliency = max(rate(lambda w: predictor.saliency(w)[1], windows[:1024]) for _ in range(2))
    print(f"compiled batch 256 with Grad-CAM saliency: {saliency:,.0f} windows/s")


if __name__ == "__main__":
    main()
