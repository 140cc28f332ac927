"""Does the false-event work hurt the rank of real events? Explosion AP on the PNSN time split, side by side.

Run: .venv/bin/python -m bench.false_evidence_pnsn_ap   (needs the shared data; no database)

Trained on the PNSN catalogue 2018-2020 and evaluated on 2021 (the split of docs/ranking.md), three rankers:

- baseline: the feature vector with the false-evidence columns left empty (NaN), as before this work;
- + evidence: the pick evidence the catalogue allows (defining phases against the magnitude's expectation, and
  the prior from it; the catalogue has no arrivals and no waveforms);
- + evidence + synthetic_false: also trained with a false class: one noise-placed event per PNW record (the
  record's pre-event noise measured by ranking.ml.false_evidence as the app measures a station, the origin
  copied from the real PNW event, shifted back one day), as ranking.synthetic_false builds them.

Printed: explosion-vs-earthquake AP, importance AP, and P(not_existing) on the 2021 events (nothing real there
is false, so it should stay low).
"""

import datetime as dt
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.false_evidence_auc import SHARED, events_of, pnw_windows  # noqa: E402
from ranking.ml.classes import DECISION_CLASSES, DEFAULT_CLASS_WEIGHTS, NOT_EXISTING  # noqa: E402
from ranking.ml.evaluation import ranker_metrics  # noqa: E402
from ranking.ml.false_evidence import FALSE_EVIDENCE_NAMES, WAVEFORM_EVIDENCE_NAMES, false_evidence_row  # noqa: E402
from ranking.ml.features import FEATURE_NAMES, FEATURE_VERSION, EventInputs, ReviewedCatalogue, feature_matrix  # noqa: E402
from ranking.ml.ranker import ranker_fit  # noqa: E402
from tests.support.ranking_data import pnsn_inputs, pnsn_rows  # noqa: E402

FALSE = DECISION_CLASSES.index(NOT_EXISTING)
COLUMNS = [FEATURE_NAMES.index(name) for name in FALSE_EVIDENCE_NAMES]
SPLIT = dt.datetime(2021, 1, 1, tzinfo=dt.UTC).timestamp()


def _with_pick_evidence(inputs: list[EventInputs]) -> list[EventInputs]:
    return [
        EventInputs(
            **{
                **{name: getattr(e, name) for name in EventInputs.__dataclass_fields__},
                "false_evidence": false_evidence_row(
                    [], magnitude=e.magnitude, defining_phase_count=e.used_phase_count, rms_s=e.rms_s
                ),
            }
        )
        for e in inputs
    ]


def _matrix(inputs: list[EventInputs], labels: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Features; reviewed neighbours are the real catalogue events only (as ranking.inputs: no synthetic_false)."""
    real = labels != FALSE
    reviewed = ReviewedCatalogue(
        times[real],
        np.array([e.latitude for e in inputs])[real],
        np.array([e.longitude for e in inputs])[real],
        labels[real],
    )
    return feature_matrix(inputs, gazetteer=None, reviewed=reviewed)


def _synthetic(rows: list[dict[str, str]]) -> list[EventInputs]:
    """Noise-placed false events from the PNW records' pre-event noise, origins copied from their real events."""
    by_id = {row["source_id"]: row for row in rows}
    rng = np.random.default_rng(7)
    windows = [w for w in pnw_windows(SHARED / "pnw", "pnw", rng, "sta_lta", None) if w[2]]
    features, _priors, _labels, _sources, groups = events_of(windows)
    made = []
    for group, row_values in zip(groups, features, strict=True):
        event_id = group.split(":")[1]
        row = by_id.get(event_id)
        if row is None:
            continue
        stations = dict(zip(WAVEFORM_EVIDENCE_NAMES, row_values, strict=True))
        magnitude = float(row["magnitude"]) if row["magnitude"] else None
        phases = int(row["number_of_pick"]) if row["number_of_pick"] else None
        evidence = {**false_evidence_row([], magnitude=magnitude, defining_phase_count=phases), **stations}
        from ranking.ml.false_evidence import prior_p_false

        evidence["fe_prior_p_false"] = prior_p_false(evidence)
        made.append(
            EventInputs(
                origin_time=float(row["timestamp"]) - 86400.0 - 38.0,
                latitude=float(row["latitude"]),
                longitude=float(row["longitude"]),
                depth_km=float(row["depth"]),
                magnitude=magnitude,
                magnitude_type=row["magnitude_type"],
                used_phase_count=phases,
                false_evidence=evidence,
            )
        )
    return made


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.1f}; feature version {FEATURE_VERSION}")
    rows = pnsn_rows(SHARED, years=(2018, 2019, 2020, 2021))
    inputs, labels, times = pnsn_inputs(rows)
    evidence_inputs = _with_pick_evidence(inputs)
    base = _matrix(inputs, labels, times)
    base[:, COLUMNS] = np.nan
    ours = _matrix(evidence_inputs, labels, times)
    import csv

    with (SHARED / "pnw" / "events.csv").open(newline="") as handle:
        pnw_rows = list(csv.DictReader(handle))
    synthetic = [e for e in _synthetic(pnw_rows) if e.origin_time < SPLIT]
    all_inputs = evidence_inputs + synthetic
    all_labels = np.concatenate([labels, np.full(len(synthetic), FALSE)])
    all_times = np.concatenate([times, [e.origin_time for e in synthetic]])
    order = np.argsort(all_times, kind="stable")
    with_false = _matrix([all_inputs[i] for i in order], all_labels[order], all_times[order])
    false_labels, false_times = all_labels[order], all_times[order]
    test = times >= SPLIT
    magnitudes = np.array([np.nan if e.magnitude is None else e.magnitude for e in inputs])
    results = {}
    for name, matrix, train_labels, train_times, train_rows in (
        ("baseline", base, labels, times, times < SPLIT),
        ("+ evidence", ours, labels, times, times < SPLIT),
        ("+ evidence + synthetic_false", with_false, false_labels, false_times, false_times < SPLIT),
    ):
        model = ranker_fit(
            matrix[train_rows],
            train_labels[train_rows],
            train_times[train_rows],
            feature_names=FEATURE_NAMES,
            feature_version=FEATURE_VERSION,
        )
        evaluated = ours[test] if name != "baseline" else base[test]
        probabilities = model.predict_proba(evaluated)
        metrics = ranker_metrics(labels[test], probabilities, times[test], magnitudes[test], DEFAULT_CLASS_WEIGHTS)
        results[name] = metrics
        print(
            f"{name:<30} train {int(train_rows.sum()):>5} (false {int((train_labels[train_rows] == FALSE).sum())}) "
            f"explosion AP {metrics['explosion_vs_earthquake_average_precision']}  "
            f"importance AP {metrics['importance']['average_precision']}  "
            f"P(not_existing) on 2021 mean {probabilities[:, FALSE].mean():.4f} max {probabilities[:, FALSE].max():.4f}"
        )


if __name__ == "__main__":
    main()
