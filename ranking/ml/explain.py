"""Per-event explanations: which features moved this event's importance, and which way.

Method: occlusion against the training median, on the importance's log-odds scale z
(ranking.ml.importance). For each feature, the event's value is replaced by the median the ranker saw
in training (NaN for a feature never present) and z is recomputed; the attribution is
z(event) - z(event with that feature at the median), in log-odds units. Working on z rather than on the
bounded importance or on probabilities means a saturated event (P(class) = 0.99999) still has
reasons: its log-odds still move. The strongest reasons come first; an event always gets at least one
(the feature with the largest |effect|, even when every effect is tiny). It costs one batched
prediction of F + 1 rows per event. Attributions are local and do not add up exactly when features interact.
"""

from typing import TypedDict

import numpy as np
import numpy.typing as npt

from ranking.ml.importance import Profile, importance_logit
from ranking.ml.ranker import RankerModel

FloatArray = npt.NDArray[np.float64]
# Effects below this many log-odds units are shown only when nothing larger is there.
NEGLIGIBLE_EFFECT = 1e-3


class FeatureAttribution(TypedDict):
    feature: str
    value: float | None
    reference: float | None
    effect: float
    direction: str


def _plain(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 6)


def attribution_effects(model: RankerModel, features: FloatArray, profile: Profile) -> FloatArray:
    """Occlusion effects on z, shape (n, F): z(event) - z(event with feature f at its training median)."""
    n, width = features.shape
    occluded = np.repeat(features[:, None, :], width + 1, axis=1)  # (n, F + 1, F); slot 0 stays intact
    columns = np.arange(width)
    occluded[:, columns + 1, columns] = model.reference_values[None, :]
    flat = occluded.reshape(-1, width)
    z = importance_logit(model.log_proba(flat), flat, model, profile).reshape(n, width + 1)
    return np.asarray(z[:, :1] - z[:, 1:], dtype=np.float64)


def explain_importance(
    model: RankerModel, features: FloatArray, profile: Profile, *, top: int = 5
) -> list[list[FeatureAttribution]]:
    """For each row of ``features`` (shape (n, F)), the ``top`` features with the largest |effect| on z."""
    if features.shape[0] == 0:
        return []
    effects = attribution_effects(model, features, profile)
    reference = model.reference_values
    explanations: list[list[FeatureAttribution]] = []
    for row in range(features.shape[0]):
        order = np.argsort(-np.abs(effects[row]), kind="stable")
        chosen: list[FeatureAttribution] = []
        for rank, column in enumerate(order[:top]):
            effect = float(effects[row, column])
            if rank > 0 and abs(effect) < NEGLIGIBLE_EFFECT:
                break
            chosen.append(
                FeatureAttribution(
                    feature=model.feature_names[column],
                    value=_plain(features[row, column]),
                    reference=_plain(reference[column]),
                    effect=round(effect, 6),
                    direction="raises" if effect > 0 else "lowers" if effect < 0 else "leaves",
                )
            )
        explanations.append(chosen)
    return explanations
