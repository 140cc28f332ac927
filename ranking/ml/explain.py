"""Per-event explanations: which features moved this event's importance, and which way.

Method: occlusion against the training median. For each feature, the event's value is replaced by
the median the ranker saw in training (NaN for a feature never present) and the importance is
recomputed; the attribution is importance(event) - importance(event with that feature at the
median). Unlike tree-path contributions it explains the calibrated importance itself (after the
isotonic maps and the class weights), and it costs one batched prediction of F + 1 rows per event.
Attributions are local and do not add up exactly to the difference from the median event when
features interact.
"""

from collections.abc import Mapping
from typing import TypedDict

import numpy as np
import numpy.typing as npt

from ranking.ml.ranker import RankerModel, importance

FloatArray = npt.NDArray[np.float64]


class FeatureAttribution(TypedDict):
    feature: str
    value: float | None
    reference: float | None
    effect: float
    direction: str


def _plain(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 6)


def explain_importance(
    model: RankerModel, features: FloatArray, weights: Mapping[str, float], *, top: int = 5
) -> list[list[FeatureAttribution]]:
    """For each row of ``features`` (shape (n, F)), the ``top`` features with the largest |effect| on importance."""
    n, width = features.shape
    if n == 0:
        return []
    reference = model.reference_values
    occluded = np.repeat(features[:, None, :], width + 1, axis=1)  # (n, F + 1, F); slot 0 stays intact
    columns = np.arange(width)
    occluded[:, columns + 1, columns] = reference[None, :]
    scores = importance(model.predict_proba(occluded.reshape(-1, width)), weights).reshape(n, width + 1)
    effects = scores[:, :1] - scores[:, 1:]
    explanations: list[list[FeatureAttribution]] = []
    for row in range(n):
        order = np.argsort(-np.abs(effects[row]), kind="stable")
        chosen: list[FeatureAttribution] = []
        for column in order[:top]:
            effect = float(effects[row, column])
            if abs(effect) < 1e-6:
                break
            chosen.append(
                FeatureAttribution(
                    feature=model.feature_names[column],
                    value=_plain(features[row, column]),
                    reference=_plain(reference[column]),
                    effect=round(effect, 6),
                    direction="raises" if effect > 0 else "lowers",
                )
            )
        explanations.append(chosen)
    return explanations
