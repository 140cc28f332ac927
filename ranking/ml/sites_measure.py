"""The blast-site time split on the PNSN catalogue CSV of the shared data (pure; used by learn_blast_sites
--split and evaluate --kind ranker)."""

import csv
import datetime as dt
from pathlib import Path

import numpy as np

from ranking.ml.classes import EARTHQUAKE, EXPLOSION_LIKE, decision_class_for
from ranking.ml.sites import sites_time_split

PNSN_CATALOGUE = Path("catalogs") / "pnsn_comcat_2018-2022.csv"


def pnsn_sites_time_split(folder: Path, *, split: dt.datetime) -> dict[str, float | int]:
    """Sites from the catalogue's explosion-like events before ``split``; shares inside in the year after."""
    path = folder / PNSN_CATALOGUE
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    try:
        times = np.array([float(r["timestamp"]) for r in rows])
        latitudes = np.array([float(r["latitude"]) for r in rows])
        longitudes = np.array([float(r["longitude"]) for r in rows])
    except (KeyError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from None
    classes = [decision_class_for(r.get("event_type", "")) for r in rows]
    start = split.timestamp()
    end = split.replace(year=split.year + 1).timestamp()
    return sites_time_split(
        times,
        latitudes,
        longitudes,
        np.array([c == EXPLOSION_LIKE for c in classes]),
        np.array([c == EARTHQUAKE for c in classes]),
        split=start,
        end=end,
    )
