"""The model page's verdict numerics: effort to find 95 % of the events of interest, the paired bootstrap interval
of the difference, and which model a metric row favours."""

import numpy as np

from ranking.ml.verdict import effort_verdict, metric_better, verdict_words


def test_a_candidate_that_ranks_every_event_of_interest_first_reads_less_of_the_queue() -> None:
    generator = np.random.default_rng(7)
    relevant = generator.random(400) < 0.2
    perfect = relevant.astype(np.float64) + 0.01 * generator.random(400)
    noisy = relevant.astype(np.float64) * 0.3 + generator.random(400)

    verdict = effort_verdict(relevant, perfect, noisy, resamples=300, seed=1)

    assert verdict["candidate"] is not None and verdict["active"] is not None
    assert verdict["candidate"] < verdict["active"]
    assert verdict["difference"] == round(verdict["active"] - verdict["candidate"], 4) > 0
    assert verdict["interval"] is not None
    low, high = verdict["interval"]
    assert 0 < low <= verdict["difference"] <= high
    assert verdict["resamples"] == 300
    words = verdict_words(dict(verdict))
    assert words.startswith("Candidate finds 95% of events of interest in ")
    assert "400 held-out events; difference +" in words and "95% interval +" in words


def test_swapping_the_models_flips_the_sign_and_the_interval() -> None:
    generator = np.random.default_rng(3)
    relevant = generator.random(300) < 0.3
    first, second = generator.random(300) + relevant * 0.5, generator.random(300) + relevant * 0.2
    ours, theirs = effort_verdict(relevant, first, second, seed=2), effort_verdict(relevant, second, first, seed=2)
    assert ours["difference"] is not None and theirs["difference"] is not None
    assert ours["interval"] is not None and theirs["interval"] is not None
    assert ours["difference"] == -theirs["difference"]
    assert ours["interval"] == [-theirs["interval"][1], -theirs["interval"][0]]


def test_without_an_active_model_there_is_no_difference() -> None:
    relevant = np.array([True, False, True])
    verdict = effort_verdict(relevant, np.array([0.9, 0.5, 0.1]), None)
    assert (verdict["difference"], verdict["interval"]) == (None, None)
    assert "no active model" in verdict_words(dict(verdict))


def test_each_metric_row_says_which_model_it_favours() -> None:
    assert metric_better("per_class.earthquake.recall", 0.9, 0.8) == "candidate"
    assert metric_better("expected_calibration_error", 0.09, 0.05) == "active"
    assert metric_better("importance.average_precision", 0.7, 0.7) == "same"
    assert metric_better("per_class.explosion_like.support", 12, 10) is None
    assert metric_better("accuracy", None, 0.8) is None
