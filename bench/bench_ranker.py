"""Ranker throughput and latency on real PNSN rows, beside a RandomForest(n_jobs=2) baseline in the same run.

Run: .venv/bin/python -m bench.bench_ranker   (needs the shared data; no database)
Bulk: rows/s scoring one large matrix. Single event: per-call latency of one row, p50/p95.
"""

import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ranking.ml.features import FEATURE_NAMES, FEATURE_VERSION  # noqa: E402
from ranking.ml.ranker import ranker_fit  # noqa: E402
from tests.support.ranking_data import pnsn_features, pnsn_inputs, pnsn_rows  # noqa: E402

SHARED = Path(os.environ.get("SEISTRIAGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
BULK_ROWS = 200_000
SINGLE_CALLS = 2000
PEER_SINGLE_CALLS = 200  # the peers take milliseconds a call on a busy machine


def _bulk_rate(predict, rows: np.ndarray) -> float:
    predict(rows[:1000])
    started = time.perf_counter()
    predict(rows)
    return len(rows) / (time.perf_counter() - started)


def _latency_ms(predict, rows: np.ndarray, calls: int = SINGLE_CALLS) -> tuple[float, float]:
    timings = []
    for index in range(calls):
        row = rows[index % len(rows)][None, :]
        started = time.perf_counter()
        predict(row)
        timings.append(time.perf_counter() - started)
    return float(np.percentile(timings, 50) * 1000), float(np.percentile(timings, 95) * 1000)


def main() -> None:
    from ranking.ml.tree_inference import compiled_proba, scoring_threads

    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    inputs, labels, times = pnsn_inputs(pnsn_rows(SHARED, years=(2018, 2019, 2020, 2021)))
    features = pnsn_features(inputs, labels, times)
    train = times < np.datetime64("2021-01-01", "s").astype(float)
    ranker = ranker_fit(
        features[train], labels[train], times[train], feature_names=FEATURE_NAMES, feature_version=FEATURE_VERSION
    )
    forest = ranker_fit(
        features[train],
        labels[train],
        times[train],
        feature_names=FEATURE_NAMES,
        feature_version=FEATURE_VERSION,
        estimator_name="random_forest",
    )
    held_out = features[~train]
    bulk = np.resize(held_out, (BULK_ROWS, held_out.shape[1]))
    used = list(ranker.used_columns)
    started = time.perf_counter()
    compiled = compiled_proba(ranker.estimator, bulk[:, used], threads=1)
    assert compiled is not None, "the trees did not compile"
    print(f"compiled trees built (or found) in {time.perf_counter() - started:.1f} s, once per model")
    np.testing.assert_allclose(
        ranker.estimator.predict_proba(bulk[:, used]),
        compiled,
        rtol=0,
        atol=1e-12,
    )
    print(
        f"cores: {os.cpu_count()}, held-out rows (2021): {len(held_out)}, bulk rows: {BULK_ROWS}, "
        f"threads for the bulk: {scoring_threads(BULK_ROWS)}; probabilities equal to HGB predict_proba within 1e-12"
    )

    def hgb_plain(rows: np.ndarray) -> np.ndarray:  # what a user calls: scikit-learn, its default OpenMP threads
        return np.asarray(ranker.estimator.predict_proba(rows[:, used]))

    results = {}
    for name, predict, calls in (
        ("ours: RankerModel (compiled trees)", ranker.predict_proba, SINGLE_CALLS),
        ("HGB predict_proba (plain sklearn)", hgb_plain, PEER_SINGLE_CALLS),
        ("random_forest n_jobs=2 (baseline)", forest.predict_proba, PEER_SINGLE_CALLS),
    ):
        rate = _bulk_rate(predict, bulk)
        p50, p95 = _latency_ms(predict, held_out, calls)
        results[name] = (rate, p50, p95)
        print(
            f"{name:36s} bulk {rate:12,.0f} rows/s   single event p50 {p50:7.3f} ms  p95 {p95:7.3f} ms   "
            f"load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    ours = results["ours: RankerModel (compiled trees)"]
    plain = results["HGB predict_proba (plain sklearn)"]
    base = results["random_forest n_jobs=2 (baseline)"]
    print(
        f"ratio ours/forest: bulk x{ours[0] / base[0]:.1f}; ours/HGB predict_proba: bulk x{ours[0] / plain[0]:.1f}; "
        f"single-event p95 latency x{base[2] / ours[2]:.1f} faster than the forest"
    )
    print(
        f"targets: bulk >= 200,000 rows/s -> {'met' if ours[0] >= 200_000 else 'MISSED'}; "
        f">= 2x the forest -> {'met' if ours[0] >= 2 * base[0] else 'MISSED'}; "
        f"p95 <= 1 ms -> {'met' if ours[2] <= 1.0 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
