"""Importance: what an analyst should see first, per deployment profile (docs/ranking.md).

A profile names its events of interest and the value of each decision class to that deployment.
Importance is one continuous score built on the log-odds scale, so that it never saturates (two
events share a score only when their inputs are the same):

    z = ln v - gamma ln(1 - v)                       expected class value (v = sum w_c P(c) / max w)
        + r ln(10) beta (M - M_median)               expected significance: beta decades per magnitude unit
        + r nu_place / (1 + neighbours)              novelty of the place (few earlier reviewed events nearby)
        + r nu_type sum_c P(c) (1 - neighbour share c)   novelty of the type for that place
        + r kappa max(1 - margin, 4 q (1 - q))        uncertainty: class margin, or whether it is of interest
        + lambda ln r                                  likely false events last
        + r LARGE_EVENT_BONUS [M >= large]             the largest events reach the first screen
        + 1e-6 (2/pi) arctan(sum_f r_f (x_f - median_f) / (|median_f| + 1))   tie-break (below)
    importance = 1/2 + z / (2 (|z| + 10))    (monotonic in z, in (0, 1), and never rounds to 0 or 1)

where q = P(event of interest) and r = 1 - P(not existing): an event that may not exist has only that chance
of its significance, novelty and doubt (an analyst's look settles a doubt about the class only if the event
exists), and the term lambda ln r puts likely false events under the real ones (regional: P(false) = 0.9
costs 3 x 2.3, more than two magnitude units; P(false) = 0.1 costs 0.3). ``gamma`` sets how much the class
value decides among events that are surely of interest (1: full log-odds; small: the value only pushes
unlikely events down). Missing magnitude counts as the median; no neighbour information counts as no novelty.

The trees are piecewise constant, so two events whose inputs differ only inside one leaf of every tree
would share a score. The last term, at most 1e-6 (far below any difference the other terms make),
separates them by a fixed projection of all their inputs (weights r_f = frac(f x golden ratio) + 0.5), so
two events share an importance only where their inputs are the same.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.special import logsumexp

from ranking.ml.classes import DECISION_CLASSES, EARTHQUAKE, EXPLOSION_LIKE, NOT_EXISTING, OTHER_NATURAL
from ranking.ml.ranker import RankerModel

FloatArray = npt.NDArray[np.float64]

LARGE_MAGNITUDE: Final = 5.0
TIE_BREAK: Final = 1e-6
LARGE_EVENT_BONUS: Final = 40.0
SCALE: Final = 10.0


@dataclass(frozen=True)
class Profile:
    name: str
    objective: str
    weights: Mapping[str, float]
    interest: tuple[str, ...]
    gamma: float
    beta: float
    nu_place: float
    nu_type: float
    kappa: float = 3.0
    false_penalty: float = 2.0
    extra: Mapping[str, float] = field(default_factory=dict)


PROFILES: Final[dict[str, Profile]] = {
    "regional": Profile(
        name="regional",
        objective="real events first, ordered by expected significance (magnitude, novel place or type); "
        "likely false events last",
        weights={NOT_EXISTING: 0.0, EARTHQUAKE: 1.0, EXPLOSION_LIKE: 0.3, OTHER_NATURAL: 0.8},
        interest=(EARTHQUAKE, OTHER_NATURAL),
        gamma=0.05,
        beta=1.0,
        nu_place=1.0,
        nu_type=1.0,
        false_penalty=3.0,
    ),
    "verification": Profile(
        name="verification",
        objective="explosion-like and unusual events first (a CTBT/NORSAR-style verification centre)",
        weights={NOT_EXISTING: 0.0, EARTHQUAKE: 0.02, EXPLOSION_LIKE: 1.0, OTHER_NATURAL: 0.3},
        interest=(EXPLOSION_LIKE,),
        gamma=1.0,
        beta=0.02,
        nu_place=0.1,
        nu_type=0.1,
        kappa=1.0,
    ),
    "hazard": Profile(
        name="hazard",
        objective="other natural events (slides, avalanches, volcanic, ice) first, for volcano and landslide "
        "observatories",
        weights={NOT_EXISTING: 0.0, EARTHQUAKE: 0.1, EXPLOSION_LIKE: 0.02, OTHER_NATURAL: 1.0},
        interest=(OTHER_NATURAL,),
        gamma=1.0,
        beta=0.1,
        nu_place=0.2,
        nu_type=0.2,
        kappa=1.0,
    ),
}
DEFAULT_PROFILE: Final = "regional"


def profile_get(name: str, weights: Mapping[str, float] | None = None) -> Profile:
    """The named profile, with its class weights replaced by ``weights`` where given (ValueError if unknown)."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    profile = PROFILES[name]
    if weights is None:
        return profile
    return Profile(**{**profile.__dict__, "weights": dict(weights)})


def _column(model: RankerModel, name: str) -> int | None:
    return model.feature_names.index(name) if name in model.feature_names else None


def importance_logit(log_proba: FloatArray, features: FloatArray, model: RankerModel, profile: Profile) -> FloatArray:
    """The log-odds-scale score z of the module docstring, shape (n,)."""
    n = log_proba.shape[0]
    weights = np.array([profile.weights.get(name, 0.0) for name in DECISION_CLASSES], dtype=np.float64)
    top = weights.max() if weights.max() > 0 else 1.0
    share = weights / top
    with np.errstate(divide="ignore"):
        log_v = logsumexp(np.log(share)[None, :] + log_proba, axis=1)
        log_rest = logsumexp(np.log1p(-share)[None, :] + log_proba, axis=1)
    # Fully saturated ends (a value of exactly 0 or 1 at float precision) are bounded, never infinite.
    z = np.clip(log_v, -700.0, 0.0) - profile.gamma * np.clip(log_rest, -700.0, 0.0)
    probabilities = np.exp(log_proba)
    magnitude_column = _column(model, "magnitude")
    median = model.magnitude_quantiles.get("median", 0.0)
    magnitudes = features[:, magnitude_column] if magnitude_column is not None else np.full(n, np.nan)
    known = np.isfinite(magnitudes)
    # An event that may not exist has only that chance of its significance: magnitude and novelty count in
    # proportion to P(real) (a false trigger copies a magnitude from its picks, but nothing happened).
    real = 1.0 - probabilities[:, DECISION_CLASSES.index(NOT_EXISTING)]
    z += real * np.log(10.0) * profile.beta * np.where(known, magnitudes - median, 0.0)
    count_column = _column(model, "reviewed_neighbour_count")
    if count_column is not None:
        counts = features[:, count_column]
        z += real * profile.nu_place * np.where(np.isfinite(counts), 1.0 / (1.0 + np.maximum(counts, 0.0)), 0.0)
        shares = np.zeros((n, len(DECISION_CLASSES)))
        for name, feature in (
            (EXPLOSION_LIKE, "reviewed_explosion_share"),
            (OTHER_NATURAL, "reviewed_other_natural_share"),
            (NOT_EXISTING, "reviewed_false_share"),
        ):
            column = _column(model, feature)
            if column is not None:
                shares[:, DECISION_CLASSES.index(name)] = features[:, column]
        has_neighbours = np.isfinite(shares).all(axis=1)
        shares = np.nan_to_num(shares)
        shares[:, DECISION_CLASSES.index(EARTHQUAKE)] = 1.0 - shares.sum(axis=1)
        novelty = (probabilities * (1.0 - shares)).sum(axis=1)
        z += real * profile.nu_type * np.where(has_neighbours, novelty, 0.0)
    ordered = np.sort(probabilities, axis=1)
    margin = ordered[:, -1] - ordered[:, -2]
    interest = [DECISION_CLASSES.index(name) for name in profile.interest]
    q = probabilities[:, interest].sum(axis=1)
    z += real * profile.kappa * np.maximum(1.0 - margin, 4.0 * q * (1.0 - q))
    z += profile.false_penalty * np.clip(
        np.log1p(-np.minimum(probabilities[:, DECISION_CLASSES.index(NOT_EXISTING)], 1.0)), -700.0, 0.0
    )
    large = min(LARGE_MAGNITUDE, model.magnitude_quantiles.get("q999", LARGE_MAGNITUDE))
    z += real * LARGE_EVENT_BONUS * (known & (np.nan_to_num(magnitudes, nan=-np.inf) >= large))
    z += TIE_BREAK * _input_projection(features, model)
    return np.asarray(z, dtype=np.float64)


def _input_projection(features: FloatArray, model: RankerModel) -> FloatArray:
    """A fixed projection of the standardised inputs into (-1, 1), shape (n,); NaN counts as the median."""
    reference = np.nan_to_num(model.reference_values, nan=0.0)
    if reference.shape[0] != features.shape[1]:
        reference = np.zeros(features.shape[1])
    weights = np.mod(np.arange(1, features.shape[1] + 1) * 0.6180339887498949, 1.0) + 0.5
    standardised = np.nan_to_num((features - reference) / (np.abs(reference) + 1.0), nan=0.0)
    return np.asarray(np.arctan(standardised @ weights) * (2.0 / np.pi), dtype=np.float64)


def importance_from_logit(z: FloatArray) -> FloatArray:
    """Importance in (0, 1), strictly increasing in z; unlike a sigmoid it keeps large |z| apart in float64."""
    return np.asarray(0.5 + 0.5 * z / (np.abs(z) + SCALE), dtype=np.float64)


def importance_scores(model: RankerModel, features: FloatArray, profile: Profile) -> FloatArray:
    """Importance per event, shape (n,), for a feature matrix of shape (n, len(model.feature_names))."""
    return importance_from_logit(importance_logit(model.log_proba(features), features, model, profile))


def events_of_interest(labels: npt.NDArray[np.int64], profile: Profile) -> npt.NDArray[np.bool_]:
    """Which labelled events are of interest to the profile."""
    interest = np.array([DECISION_CLASSES.index(name) for name in profile.interest])
    return np.isin(labels, interest)
