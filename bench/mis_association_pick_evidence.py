"""Does the pick evidence tell mis-associations from the real earthquakes they were built from? (no database)

Run: .venv/bin/python -m bench.mis_association_pick_evidence [--count N]

The mis-associations are those of ``build_synthetic_false --mis-associations N`` (ranking.ml.mis_association:
real P/S picks of 2-3 earthquakes of ObsPy's bundled Nordic bulletin select.out, shifted into one window, one
TauP iasp91 origin by grid search). The real events are every earthquake used as a source, located the same
way from its own picks. Both go through ranking.ml.false_evidence.pick_evidence exactly as the app's arrivals
do: the residuals of the located origin, and for each pick whether pick - origin time fits the iasp91 curve at
its distance (travel_time_consistent, 2 s + 10 %), with the event's magnitude for the phase deficit. The
label-free prior is computed from the pick evidence alone (rms_s = the located origin's RMS).

Printed: ROC AUC (positive class = mis-association) of each pick feature and of the prior, for the default
origin offsets (0, 4, 9 s) and for tighter ones (0, 1.5, 3 s: the picks of events that close in time), and the
load average. No timing is claimed.
"""

import argparse
import math
import os
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ranking.ml.false_evidence import PRIOR_NAME, pick_evidence, prior_p_false, travel_time_consistent  # noqa: E402
from ranking.ml.mis_association import (  # noqa: E402
    TABLE_DEPTHS_KM,
    TABLE_DISTANCES_DEG,
    Location,
    MisAssociation,
    PickRow,
    mis_associations,
    travel_time_table,
)

FEATURES = (
    "fe_residual_abs_median_s",
    "fe_residual_abs_max_s",
    "fe_residual_outlier_share",
    "fe_inconsistent_phase_share",
    "fe_phase_deficit_log10",
    PRIOR_NAME,
)


def evidence(picks: list[PickRow], location: Location, magnitude: float | None) -> dict[str, float]:
    p_table, s_table = travel_time_table()
    depth_index = TABLE_DEPTHS_KM.index(location.depth_km)
    fits = []
    for pick, distance in zip(picks, location.distances_deg, strict=True):
        table = p_table if pick.phase == "P" else s_table
        predicted = float(np.interp(distance, TABLE_DISTANCES_DEG, table[depth_index]))
        fits.append(travel_time_consistent(pick.time - location.time, predicted))
    row = pick_evidence(
        residuals_s=location.residuals_s,
        defining_phase_count=len(picks),
        magnitude=magnitude,
        travel_time_fits=fits,
    )
    row[PRIOR_NAME] = prior_p_false(row, rms_s=location.rms_s)
    return row


def run(count: int, offsets: tuple[float, ...]) -> None:
    built, _ = mis_associations(count, offsets_s=offsets)
    false_rows: list[dict[str, float]] = []
    real_rows: list[dict[str, float]] = []
    seen: set[str] = set()
    for item in built:
        magnitudes = [s.magnitude for s in item.sources if s.magnitude is not None]
        picks = [p for _, p in item.picks]
        false_rows.append(evidence(picks, item.location, max(magnitudes) if magnitudes else None))
        for source, alone in zip(item.sources, item.source_locations, strict=True):
            if source.key not in seen:
                seen.add(source.key)
                real_rows.append(evidence(source.picks, alone, source.magnitude))
    rms_false = [math.sqrt(np.mean(np.square(i.location.residuals_s))) for i in built]
    print(
        f"\norigin offsets {offsets} s: {len(built)} mis-associations "
        f"({sum(len(i.sources) == 3 for i in built)} of 3 events), {len(real_rows)} real source events"
    )
    print(f"  located RMS: mis-associations median {np.median(rms_false):.2f} s (min {min(rms_false):.2f}); ", end="")
    real_rms = [math.sqrt(np.mean(np.square(r))) for r in [i.residuals_s for i in _real_locations(built)]]
    print(f"real median {np.median(real_rms):.2f} s (max {max(real_rms):.2f})")
    labels = [1] * len(false_rows) + [0] * len(real_rows)
    for name in FEATURES:
        values = np.array([r[name] for r in false_rows + real_rows], dtype=np.float64)
        ok = np.isfinite(values)
        if len(set(np.array(labels)[ok])) < 2:
            print(f"  {name:30s} n/a")
            continue
        auc = roc_auc_score(np.array(labels)[ok], values[ok])
        false_mean = np.nanmean(values[: len(false_rows)])
        real_mean = np.nanmean(values[len(false_rows) :])
        print(f"  {name:30s} ROC AUC {auc:.3f}   mean mis-association {false_mean:.3f}, real {real_mean:.3f}")


def _real_locations(built: list[MisAssociation]) -> list[Location]:
    seen: set[str] = set()
    found: list[Location] = []
    for item in built:
        for source, alone in zip(item.sources, item.source_locations, strict=True):
            if source.key not in seen:
                seen.add(source.key)
                found.append(alone)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    for offsets in ((0.0, 4.0, 9.0), (0.0, 1.5, 3.0)):
        run(args.count, offsets)


if __name__ == "__main__":
    main()
