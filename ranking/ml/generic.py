"""The generic (cold-start) ranker: location-independent features, trained on a shared labelled catalogue.

A network with few labels of its own learns little from them; a model trained elsewhere on features
that mean the same thing anywhere (local solar time, depth, magnitude, origin quality, waveform
measurements, CNN output) still ranks its events. It sees no latitude, longitude, gazetteer distance,
reviewed neighbours, similarity or learned blast sites (ranking.ml.features.LOCATION_GROUPS). The local
ranker pools it in with weight GENERIC_HALF_WEIGHT_LABELS / (GENERIC_HALF_WEIGHT_LABELS + local labels)
(ranking.ml.ranker).

The shared catalogue is the PNSN ComCat CSV of the shared data (``pnsn_comcat_2018-2022.csv`` columns:
timestamp, event_type, latitude, longitude, depth, magnitude, magnitude_type, number_of_pick).
"""

import csv
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ranking.ml.classes import DECISION_CLASSES, decision_class_for
from ranking.ml.features import (
    FEATURE_NAMES,
    FEATURE_VERSION,
    LOCATION_GROUPS,
    EventInputs,
    ReviewedCatalogue,
    feature_matrix,
    features_of_groups,
)
from ranking.ml.ranker import RankerModel, ranker_fit

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

GENERIC_EXCLUDED_FEATURES: tuple[str, ...] = features_of_groups(LOCATION_GROUPS)


class CatalogueError(ValueError):
    """A shared catalogue row that cannot be read (names the file and line)."""


def catalogue_read(path: Path, *, until: float | None = None) -> tuple[list[EventInputs], IntArray, FloatArray]:
    """EventInputs, decision class indices and POSIX times of a PNSN-style catalogue's labelled rows.

    Rows at or after ``until`` (POSIX seconds) and rows whose type names no decision class are left out.
    """
    inputs: list[EventInputs] = []
    labels: list[int] = []
    with path.open(newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                decision_class = decision_class_for(row["event_type"])
                time = float(row["timestamp"])
                if decision_class is None or (until is not None and time >= until):
                    continue
                inputs.append(
                    EventInputs(
                        origin_time=time,
                        latitude=float(row["latitude"]),
                        longitude=float(row["longitude"]),
                        depth_km=float(row["depth"]) if row["depth"] else None,
                        magnitude=float(row["magnitude"]) if row["magnitude"] else None,
                        magnitude_type=row["magnitude_type"] or "",
                        used_phase_count=int(row["number_of_pick"]) if row["number_of_pick"] else None,
                    )
                )
            except (KeyError, ValueError) as error:
                raise CatalogueError(f"{path}, line {line}: {error}") from None
            labels.append(DECISION_CLASSES.index(decision_class))
    times = np.array([event.origin_time for event in inputs], dtype=np.float64)
    return inputs, np.array(labels, dtype=np.int64), times


def generic_fit(features: FloatArray, labels: IntArray, times: FloatArray) -> RankerModel:
    """A ranker on the location-independent features only (same feature layout as the local ranker)."""
    return ranker_fit(
        features,
        labels,
        times,
        feature_names=FEATURE_NAMES,
        feature_version=FEATURE_VERSION,
        excluded_features=GENERIC_EXCLUDED_FEATURES,
    )


def generic_fit_from_catalogue(path: Path, *, until: float | None = None) -> RankerModel | None:
    """The generic ranker trained on a shared catalogue's rows before ``until``; None with too few labels."""
    inputs, labels, times = catalogue_read(path, until=until)
    if len(labels) < 100 or len(np.unique(labels)) < 2:
        return None
    features = feature_matrix(inputs, gazetteer=None, reviewed=ReviewedCatalogue.empty())
    return generic_fit(features, labels, times)
