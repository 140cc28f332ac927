"""The model page's one-line verdict: how much of the queue each model makes an analyst read to find 95 % of the
events of interest, on the same held-out events, with a paired bootstrap interval on the difference.

Inputs: ``relevant`` shape (n,) bool (the events of interest, ranking.ml.learning.interesting_events), and each
model's importance scores shape (n,) on the same held-out events (higher = reviewed earlier). Shares are
fractions of the queue in [0, 1]; a difference is active minus candidate, so a positive one means the candidate
finds the events sooner.
"""

from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt

from ranking.ml.learning import effort_to_find

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class EffortVerdict(TypedDict):
    level: float  # the share of the events of interest to find (0.95)
    events: int  # held-out events
    relevant: int  # of them, events of interest
    candidate: float | None  # share of the queue read, in the candidate's order
    active: float | None  # the same in the active model's order; None without an active model
    difference: float | None  # active - candidate (positive: the candidate is better)
    interval: list[float] | None  # the difference's 95 % paired bootstrap interval [low, high]
    resamples: int


def _share(relevant: BoolArray, scores: FloatArray, level: float) -> float | None:
    return effort_to_find(relevant, np.argsort(-scores, kind="stable"), level)


def effort_verdict(
    relevant: BoolArray,
    candidate: FloatArray,
    active: FloatArray | None,
    *,
    level: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> EffortVerdict:
    """Shares of the queue to read before ``level`` of the relevant events are seen, per model, their difference
    and its paired bootstrap interval (events resampled with replacement, both models on the same resample).

    >>> relevant = np.array([True, False, True, False])
    >>> candidate, active = np.array([0.9, 0.1, 0.8, 0.2]), np.array([0.1, 0.9, 0.8, 0.2])
    >>> verdict = effort_verdict(relevant, candidate, active, resamples=0)
    >>> verdict["candidate"], verdict["active"], verdict["difference"]
    (0.5, 1.0, 0.5)
    """
    n = len(relevant)
    ours = _share(relevant, candidate, level)
    theirs = _share(relevant, active, level) if active is not None else None
    verdict: EffortVerdict = {
        "level": level,
        "events": n,
        "relevant": int(relevant.sum()),
        "candidate": None if ours is None else round(ours, 4),
        "active": None if theirs is None else round(theirs, 4),
        "difference": None if ours is None or theirs is None else round(theirs - ours, 4),
        "interval": None,
        "resamples": 0,
    }
    if active is None or ours is None or theirs is None or resamples <= 0 or n < 2:
        return verdict
    generator = np.random.default_rng(seed)
    differences: list[float] = []
    for _ in range(resamples):
        chosen = generator.integers(0, n, size=n)
        sample = relevant[chosen]
        if not sample.any():
            continue
        a, b = _share(sample, active[chosen], level), _share(sample, candidate[chosen], level)
        if a is not None and b is not None:
            differences.append(a - b)
    if differences:
        low, high = np.percentile(np.array(differences), [2.5, 97.5])
        verdict["interval"] = [round(float(low), 4), round(float(high), 4)]
        verdict["resamples"] = len(differences)
    return verdict


def metric_direction(name: str) -> str | None:
    """Whether a bigger value of a (dotted) metric name is better ("higher"), worse ("lower"), or neither (None:
    counts and sizes)."""
    last = name.rsplit(".", 1)[-1]
    if last in {"events", "support", "windows", "count", "held_out_events_in_its_training_span"} or "count" in last:
        return None
    if any(word in name for word in ("error", "loss", "brier", "seconds", "effort")):
        return "lower"
    return "higher"


def metric_better(name: str, candidate: float | None, active: float | None) -> str | None:
    """Which model a metric row favours: "candidate", "active", "same", or None (no direction or a value missing)."""
    direction = metric_direction(name)
    if direction is None or candidate is None or active is None:
        return None
    if abs(candidate - active) < 1e-9:
        return "same"
    candidate_higher = candidate > active
    return "candidate" if candidate_higher == (direction == "higher") else "active"


def verdict_words(verdict: dict[str, Any], *, what: str = "events of interest") -> str:
    """The verdict as one sentence (percent of the queue, differences in percentage points)."""

    def percent(share: float) -> str:
        return f"{100 * share:.0f}%"

    level = percent(float(verdict.get("level", 0.95)))
    ours, theirs = verdict.get("candidate"), verdict.get("active")
    events = int(verdict.get("events", 0))
    if ours is None:
        return f"The candidate's effort cannot be measured: no {what} among the {events:,} held-out events."
    words = f"Candidate finds {level} of {what} in {percent(ours)} of the queue"
    if theirs is None:
        return f"{words} (no active model to compare with); {events:,} held-out events."
    words += f" vs {percent(theirs)} for the active model; {events:,} held-out events"
    difference = verdict.get("difference")
    if difference is not None:
        words += f"; difference {100 * difference:+.0f} points"
        interval = verdict.get("interval")
        if interval:
            words += f", 95% interval {100 * interval[0]:+.0f} to {100 * interval[1]:+.0f}"
    return words + "."
