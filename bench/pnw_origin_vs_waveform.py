"""Earthquake or blast, on the 68 PNW events that have waveforms: origin features against waveforms.

Run: .venv/bin/python -m bench.pnw_origin_vs_waveform [--cnn-cv FILE]   (shared data; no database)

- Origin: the product's ranker (origin, time-of-day and reviewed-neighbour features, no gazetteer, no
  waveforms) trained on the PNSN catalogue 2018-2021 WITHOUT these 68 events; each event's reviewed
  neighbours are the catalogue events before it, as an analyst would have had them.
- Waveforms: with ``--cnn-cv FILE`` (the output of ``manage.py evaluate --kind cnn --folds 5 --json``),
  the CNN's out-of-fold event probabilities of the same events, and the two opinions together: the sum of
  their earthquake-vs-explosion log-odds (a fixed rule, nothing fitted).

Prints accuracy (argmax of the pair) and ROC AUC for each. This is where the eq-vs-explosion decision stands
in the product: the ranker stacks the CNN's probabilities as features (docs/cnn.md).
"""

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ranking.ml.classes import DECISION_CLASSES, EARTHQUAKE, EXPLOSION_LIKE  # noqa: E402
from ranking.ml.features import FEATURE_NAMES, FEATURE_VERSION  # noqa: E402
from ranking.ml.ranker import ranker_fit  # noqa: E402
from tests.support.ranking_data import pnsn_features, pnsn_inputs, pnsn_rows  # noqa: E402

SHARED = Path(os.environ.get("SEISTRIAGE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _report(name: str, is_explosion: np.ndarray, p_explosion: np.ndarray) -> None:
    predicted = p_explosion > 0.5
    auc = roc_auc_score(is_explosion, p_explosion)
    print(
        f"{name:<34} accuracy {np.mean(predicted == is_explosion):.3f}  AUC {auc:.3f}"
        f"  explosions found {int((predicted & is_explosion).sum())}/{int(is_explosion.sum())}"
        f"  earthquakes called explosion {int((predicted & ~is_explosion).sum())}/{int((~is_explosion).sum())}"
    )


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(q / (1 - q)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cnn-cv", type=Path, help="JSON of manage.py evaluate --kind cnn --folds 5 --json")
    args = parser.parse_args()
    rows = pnsn_rows(SHARED, years=(2018, 2019, 2020, 2021))
    inputs, labels, times = pnsn_inputs(rows)
    ids = np.array([row["source_id"] for row in rows])
    with (SHARED / "pnw" / "events.csv").open(newline="") as handle:
        waveform_ids = {row["source_id"] for row in csv.DictReader(handle)}
    held = np.array([i in waveform_ids and (SHARED / "pnw" / "waveforms" / i).is_dir() for i in ids])
    features = pnsn_features(inputs, labels, times)
    ranker = ranker_fit(
        features[~held], labels[~held], times[~held], feature_names=FEATURE_NAMES, feature_version=FEATURE_VERSION
    )
    eq, ex = DECISION_CLASSES.index(EARTHQUAKE), DECISION_CLASSES.index(EXPLOSION_LIKE)
    probabilities = ranker.predict_proba(features[held])
    truth = labels[held]
    pair = np.isin(truth, [eq, ex])
    is_explosion = truth[pair] == ex
    origin = probabilities[pair, ex] / np.maximum(probabilities[pair, ex] + probabilities[pair, eq], 1e-12)
    print(
        f"{int(held.sum())} PNW waveform events ({int(is_explosion.sum())} explosions); ranker trained on "
        f"{int((~held).sum())} other PNSN catalogue events"
    )
    _report("origin (ranker, no waveforms)", is_explosion, origin)
    if args.cnn_cv is None:
        return
    result = json.loads(args.cnn_cv.read_text())
    events = {row["name"]: row for row in result["cross_validation"]["events"]}
    names = [f"pnw:{i}" for i in ids[held][pair]]
    missing = [name for name in names if name not in events]
    if missing:
        raise SystemExit(f"{args.cnn_cv}: no out-of-fold CNN row for {len(missing)} events, e.g. {missing[0]}")
    cnn = np.array([events[name]["probabilities"] for name in names])
    waveform = cnn[:, 1] / np.maximum(cnn[:, 0] + cnn[:, 1], 1e-12)
    _report("waveforms (CNN, out of fold)", is_explosion, waveform)
    _report("both (sum of log-odds)", is_explosion, 1 / (1 + np.exp(-(_logit(origin) + _logit(waveform)))))


if __name__ == "__main__":
    main()
