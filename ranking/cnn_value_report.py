"""The ``evaluate --kind ranker --cnn-value`` section: the CNN's proof of value in the ranker and the blast-site
time split, as text lines (runs ranking.cnn_value_runs and ranking.ml.sites_measure)."""

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from ranking.cnn_value_runs import CnnValueError, cnn_value_evaluate
from ranking.ml.sites_measure import pnsn_sites_time_split

SITE_SPLITS = (dt.datetime(2020, 1, 1, tzinfo=dt.UTC), dt.datetime(2021, 1, 1, tzinfo=dt.UTC))


def cnn_value_lines(*, data_dir: Path | None = None) -> list[str]:
    folder = data_dir or Path(settings.SHARED_DATA_DIR)
    try:
        r = cnn_value_evaluate(data_dir=folder)
    except (CnnValueError, OSError, ValueError) as error:
        raise CommandError(str(error)) from None
    verdict = "IN the default ranker" if r["cnn_features_in_default_ranker"] else "OUT of the default ranker"
    lines = [
        f"== CNN proof of value ({r['cnn_model']}): ranker with vs without the CNN features, {r['events']} PNSN "
        f"events with waveforms ({r['explosions']} explosions), out-of-fold CNN probabilities, {r['folds']} "
        f"time-block folds, {r['bootstrap']} paired bootstrap resamples ==",
        f"  AP (explosion-like)  with {r['ap_with']}  without {r['ap_without']}  ΔAP {r['delta_ap']}  "
        f"95 % interval {r['delta_ap_interval']}",
        f"  accuracy             with {r['accuracy_with']}  without {r['accuracy_without']}  Δaccuracy "
        f"{r['delta_accuracy']}  95 % interval {r['delta_accuracy_interval']}",
        f"  largest change of any class probability: {r['max_probability_change']}",
        f"  decision: the CNN features are {verdict} (SEISTRIAGE_RANKER_CNN_FEATURES=auto)",
        "",
        "== blast sites on the PNSN catalogue time split (sites from the explosions before the split date) ==",
    ]
    for split in SITE_SPLITS:
        s = pnsn_sites_time_split(folder, split=split)
        lines.append(
            f"  before {split:%Y-%m-%d}: {s['sites']} sites from {s['learned_from_explosions']} explosions; "
            f"{split.year}: {s['explosions_inside']:.1%} of {s['test_explosions']} explosions and "
            f"{s['earthquakes_inside']:.1%} of {s['test_earthquakes']} earthquakes inside a site "
            "(targets >= 90 % and < 5 %)"
        )
    return lines
