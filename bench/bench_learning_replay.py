"""Replay of the real PNSN catalogue in time order: does nightly retraining on the analysts' decisions make the
queue better than a model that never retrains?

Run: .venv/bin/python -m bench.bench_learning_replay [--bootstrap-until 2018-07-01] [--until 2019-07-01]
     [--capacity 6] [--retrain-every 1]      (needs the shared data; no database, no web stack)

Simulation (pure ranking functions, the production recipe: ranking.ml.features + ranking.ml.ranker.ranker_fit):
- the catalogue's events before --bootstrap-until are the historical reviewed catalogue: the first ranker is
  trained on them;
- each simulated day the day's events arrive, get their features (earlier reviewed neighbours = the labels
  revealed so far) and are scored by the model in service; the analysts review the top --capacity events of
  the queue (everything unreviewed, ordered by importance); their decisions are the catalogue's labels;
- each night (every --retrain-every days) a ranker is retrained on all labels revealed so far, promoted, and
  the queue rescored. The frozen arm runs the same days with the first ranker only (its analysts review its
  own top of the queue, so its neighbour features grow from its own reviews).
Measure: for the events that arrived in each month, the share of that month's events an analyst reads, in
the order the model in service ranked them on arrival, to see 95 % of the events of interest (true class
weight >= half the largest: with the default verification-centre weights, the explosion-like events);
against ordering by origin time and by magnitude.
"""

import argparse
import datetime as dt
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per fit: on shared cores OpenMP threads only contend

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ranking.ml.classes import class_weights_parse  # noqa: E402
from ranking.ml.features import FEATURE_NAMES, FEATURE_VERSION, EventInputs, ReviewedCatalogue, feature_matrix  # noqa: E402
from ranking.ml.learning import baseline_orders, effort_to_find, interesting_events  # noqa: E402
from ranking.ml.ranker import RankerModel, importance, ranker_fit  # noqa: E402
from tests.support.ranking_data import pnsn_inputs, pnsn_rows  # noqa: E402

SHARED = Path(os.environ.get("SEISTRIAGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
DAY = 86400.0


@dataclass
class Catalogue:
    inputs: list[EventInputs]
    labels: np.ndarray
    times: np.ndarray
    latitudes: np.ndarray
    longitudes: np.ndarray
    magnitudes: np.ndarray


def _posix(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def _reviewed(catalogue: Catalogue, revealed: np.ndarray) -> ReviewedCatalogue:
    return ReviewedCatalogue(
        catalogue.times[revealed],
        catalogue.latitudes[revealed],
        catalogue.longitudes[revealed],
        catalogue.labels[revealed],
    )


def _fit(features: np.ndarray, catalogue: Catalogue, rows: np.ndarray) -> RankerModel:
    return ranker_fit(
        features[rows],
        catalogue.labels[rows],
        catalogue.times[rows],
        feature_names=FEATURE_NAMES,
        feature_version=FEATURE_VERSION,
    )


def replay(
    catalogue: Catalogue,
    *,
    bootstrap_until: float,
    until: float,
    capacity: int,
    retrain_every: int | None,
    weights: dict[str, float],
) -> dict[str, object]:
    """One arm of the replay; retrain_every None = the frozen first ranker. Returns arrival importances etc."""
    n = len(catalogue.labels)
    bootstrap = catalogue.times < bootstrap_until
    replayed = (catalogue.times >= bootstrap_until) & (catalogue.times < until)
    features = np.full((n, len(FEATURE_NAMES)), np.nan)
    boot_idx = np.flatnonzero(bootstrap)
    features[boot_idx] = feature_matrix(
        [catalogue.inputs[i] for i in boot_idx], gazetteer=None, reviewed=_reviewed(catalogue, bootstrap)
    )
    revealed = bootstrap.copy()
    model = _fit(features, catalogue, boot_idx)
    at_arrival = np.full(n, np.nan)  # importance given by the model in service when the event arrived
    current = np.full(n, np.nan)  # importance in the queue now (rescored after each retraining)
    queue: list[int] = []
    fits, fit_seconds = 1, 0.0
    day_of = np.floor((catalogue.times - bootstrap_until) / DAY).astype(np.int64)
    last_day = int(day_of[replayed].max())
    for day in range(last_day + 1):
        arrivals = np.flatnonzero(replayed & (day_of == day))
        if len(arrivals):
            features[arrivals] = feature_matrix(
                [catalogue.inputs[i] for i in arrivals], gazetteer=None, reviewed=_reviewed(catalogue, revealed)
            )
            scores = importance(model.predict_proba(features[arrivals]), weights)
            at_arrival[arrivals] = current[arrivals] = scores
            queue.extend(arrivals.tolist())
        if queue:
            order = np.argsort(-current[queue], kind="stable")[:capacity]
            chosen = {queue[i] for i in order}
            revealed[list(chosen)] = True
            queue = [i for i in queue if i not in chosen]
        if retrain_every and (day + 1) % retrain_every == 0:
            started = time.perf_counter()
            model = _fit(features, catalogue, np.flatnonzero(revealed))
            fit_seconds += time.perf_counter() - started
            fits += 1
            if queue:
                current[queue] = importance(model.predict_proba(features[queue]), weights)
    return {
        "at_arrival": at_arrival,
        "replayed": replayed,
        "revealed": int(revealed.sum() - bootstrap.sum()),
        "fits": fits,
        "fit_seconds": fit_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap-until", default="2018-07-01")
    parser.add_argument("--until", default="2019-07-01")
    parser.add_argument("--capacity", type=int, default=6, help="events the analysts review per day")
    parser.add_argument("--retrain-every", type=int, default=1, help="days between retrainings (1 = nightly)")
    parser.add_argument("--weights", default="explosion_like=1,earthquake=0.3,other_natural=0.3")
    args = parser.parse_args()
    weights = class_weights_parse(args.weights)
    inputs, labels, times = pnsn_inputs(pnsn_rows(SHARED, years=(2018, 2019, 2020, 2021)))
    order = np.argsort(times, kind="stable")
    inputs, labels, times = [inputs[i] for i in order], labels[order], times[order]
    catalogue = Catalogue(
        inputs,
        labels,
        times,
        np.array([e.latitude for e in inputs]),
        np.array([e.longitude for e in inputs]),
        np.array([np.nan if e.magnitude is None else e.magnitude for e in inputs]),
    )
    start, until = _posix(args.bootstrap_until), _posix(args.until)
    started = time.perf_counter()
    retrained = replay(
        catalogue,
        bootstrap_until=start,
        until=until,
        capacity=args.capacity,
        retrain_every=args.retrain_every,
        weights=weights,
    )
    frozen = replay(
        catalogue, bootstrap_until=start, until=until, capacity=args.capacity, retrain_every=None, weights=weights
    )
    elapsed = time.perf_counter() - started
    relevant = interesting_events(labels, weights)
    replayed = retrained["replayed"]
    assert isinstance(replayed, np.ndarray)
    print(
        f"PNSN replay {args.bootstrap_until} .. {args.until}: bootstrap {int((times < start).sum())} labelled events, "
        f"{int(replayed.sum())} replayed, analysts review {args.capacity}/day, retraining every {args.retrain_every} "
        f"day(s) ({retrained['fits']} fits, {retrained['fit_seconds']:.0f} s), labels revealed "
        f"{retrained['revealed']} (retrained arm) / {frozen['revealed']} (frozen arm); weights {weights}"
    )
    print("effort = share of the month's events read to see 95 % of its events of interest (lower is better)")
    print(f"{'month':8} {'events':>6} {'of int.':>7} {'retrained':>9} {'frozen':>7} {'time':>6} {'magnitude':>9}")
    months = np.array([dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m") for t in times])
    totals: dict[str, list[float]] = {"retrained": [], "frozen": [], "time": [], "magnitude": []}
    for month in sorted(set(months[replayed])):
        rows = np.flatnonzero(replayed & (months == month))
        truth = relevant[rows]
        if not truth.any():
            continue
        values = {}
        for arm, result in (("retrained", retrained), ("frozen", frozen)):
            scores = result["at_arrival"]
            assert isinstance(scores, np.ndarray)
            values[arm] = effort_to_find(truth, np.argsort(-scores[rows], kind="stable"))
        baselines = baseline_orders(np.zeros(len(rows)), times[rows], catalogue.magnitudes[rows])
        values["time"] = effort_to_find(truth, baselines["origin time"])
        values["magnitude"] = effort_to_find(truth, baselines["magnitude"])
        for key, value in values.items():
            totals[key].append(float(value or 0.0))
        print(
            f"{month:8} {len(rows):6d} {int(truth.sum()):7d} {values['retrained']:9.3f} {values['frozen']:7.3f} "
            f"{values['time']:6.3f} {values['magnitude']:9.3f}"
        )
    print(
        "mean     "
        + " " * 14
        + " ".join(
            f"{np.mean(totals[k]):{w}.3f}" for k, w in (("retrained", 9), ("frozen", 7), ("time", 6), ("magnitude", 9))
        )
    )
    whole = {}
    for arm, result in (("retrained", retrained), ("frozen", frozen)):
        scores = result["at_arrival"]
        assert isinstance(scores, np.ndarray)
        rows = np.flatnonzero(replayed)
        whole[arm] = effort_to_find(relevant[rows], np.argsort(-scores[rows], kind="stable"))
    print(f"whole replay as one queue: retrained {whole['retrained']:.3f}, frozen {whole['frozen']:.3f}")
    print(f"wall time {elapsed:.0f} s")


if __name__ == "__main__":
    main()
