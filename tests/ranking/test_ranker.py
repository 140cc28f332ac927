"""The ranker on real PNSN catalogue rows: calibrated, fast walk equals scikit-learn, explanations, metrics."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from ranking.ml.classes import DECISION_CLASSES, DEFAULT_CLASS_WEIGHTS, EARTHQUAKE, EXPLOSION_LIKE
from ranking.ml.evaluation import expected_calibration_error, ranker_metrics, review_effort
from ranking.ml.explain import explain_importance
from ranking.ml.features import FEATURE_NAMES, FEATURE_VERSION
from ranking.ml.importance import importance_logit, profile_get
from ranking.ml.ranker import RankerModel, importance, ranker_fit
from tests.support.ranking_data import pnsn_features, pnsn_inputs, pnsn_rows

EQ, EX = DECISION_CLASSES.index(EARTHQUAKE), DECISION_CLASSES.index(EXPLOSION_LIKE)


@pytest.fixture(scope="module")
def split(shared_data: Path) -> dict[str, np.ndarray]:
    inputs, labels, times = pnsn_inputs(pnsn_rows(shared_data, years=(2018, 2019)))
    features = pnsn_features(inputs, labels, times)
    train = times < np.datetime64("2019-07-01", "s").astype(float)
    return {
        "features": features,
        "labels": labels,
        "times": times,
        "train": train,
        "magnitudes": np.array([np.nan if e.magnitude is None else e.magnitude for e in inputs]),
    }


@pytest.fixture(scope="module")
def model(split: dict[str, np.ndarray]) -> RankerModel:
    train = split["train"]
    return ranker_fit(
        split["features"][train],
        split["labels"][train],
        split["times"][train],
        feature_names=FEATURE_NAMES,
        feature_version=FEATURE_VERSION,
    )


def test_it_separates_explosions_from_earthquakes_on_later_real_events(split, model) -> None:
    test = ~split["train"]
    probabilities = model.predict_proba(split["features"][test])
    labels = split["labels"][test]
    pair = (labels == EQ) | (labels == EX)
    score = probabilities[pair, EX] / (probabilities[pair, EX] + probabilities[pair, EQ])
    assert average_precision_score(labels[pair] == EX, score) >= 0.95
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_features_no_training_event_has_are_left_out_of_the_model(model) -> None:
    used = {FEATURE_NAMES[c] for c in model.used_columns}
    assert "local_solar_hour" in used and "reviewed_explosion_share" in used
    assert "waveform_snr_median" not in used and "nearest_mine_km" not in used


def test_the_flat_tree_walk_gives_scikit_learns_probabilities(split, model) -> None:
    used = split["features"][~split["train"]][:, list(model.used_columns)]
    assert model.flat_trees is not None
    np.testing.assert_allclose(model.flat_trees.predict_proba(used), model.estimator.predict_proba(used), atol=1e-12)


def test_importance_is_the_class_weighted_sum_and_false_events_weigh_nothing(split, model) -> None:
    probabilities = model.predict_proba(split["features"][:50])
    weights = dict(DEFAULT_CLASS_WEIGHTS)
    expected = sum(probabilities[:, i] * weights[name] for i, name in enumerate(DECISION_CLASSES))
    np.testing.assert_allclose(importance(probabilities, weights), expected)
    false_only = np.zeros((1, 4))
    false_only[0, DECISION_CLASSES.index("not_existing")] = 1.0
    assert importance(false_only, weights)[0] == 0.0


def test_an_explanation_names_the_features_that_moved_the_importance_and_which_way(split, model) -> None:
    row = split["features"][~split["train"]][:1]
    profile = profile_get("regional")
    [explanation] = explain_importance(model, row, profile, top=4)
    assert 1 <= len(explanation) <= 4
    base = importance_logit(model.log_proba(row), row, model, profile)[0]
    for item in explanation:
        column = FEATURE_NAMES.index(item["feature"])
        occluded = row.copy()
        occluded[0, column] = model.reference_values[column]
        effect = base - importance_logit(model.log_proba(occluded), occluded, model, profile)[0]
        assert item["effect"] == pytest.approx(effect, abs=1e-5)
        assert item["direction"] == ("raises" if effect > 0 else "lowers")
    effects = [abs(item["effect"]) for item in explanation]
    assert effects == sorted(effects, reverse=True)


def test_review_effort_counts_the_queue_share_to_reach_each_level() -> None:
    relevant = np.array([False, True, False, True])
    effort = review_effort(relevant, np.arange(4))
    assert effort == {"50%": 0.5, "90%": 1.0, "95%": 1.0, "100%": 1.0}
    assert review_effort(relevant, np.array([1, 3, 0, 2]))["100%"] == 0.5


def test_a_confident_correct_ranker_has_no_calibration_error() -> None:
    probabilities = np.eye(4)[[1, 2, 1, 0]]
    assert expected_calibration_error(np.array([1, 2, 1, 0]), probabilities) == 0.0
    assert expected_calibration_error(np.array([2, 2, 1, 0]), probabilities) == pytest.approx(0.25)


def test_the_ranker_orders_explosions_far_ahead_of_time_and_magnitude(split, model) -> None:
    test = ~split["train"]
    metrics = ranker_metrics(
        split["labels"][test],
        model.predict_proba(split["features"][test]),
        split["times"][test],
        split["magnitudes"][test],
        DEFAULT_CLASS_WEIGHTS,
    )
    effort = metrics["review_effort"][EXPLOSION_LIKE]
    assert effort["class probability"]["95%"] < 0.5
    assert effort["class probability"]["95%"] < effort["origin time"]["95%"] / 2
    assert effort["class probability"]["95%"] < effort["magnitude"]["95%"]
    assert metrics["per_class"][EARTHQUAKE]["roc_auc"] > 0.9


def test_a_class_seen_only_in_the_newest_labels_is_still_learned_without_calibration(split) -> None:
    earthquakes = np.flatnonzero(split["labels"] == EQ)[:200]
    explosions = np.flatnonzero(split["labels"] == EX)
    # Real PNSN earthquakes, then the latest few real explosions: all blasts fall in the newest 20 %.
    rows = np.concatenate([earthquakes, explosions[-10:]])
    times = np.concatenate([np.sort(split["times"][earthquakes]), split["times"][explosions[-10:]] + 1e9])
    model = ranker_fit(
        split["features"][rows],
        split["labels"][rows],
        times,
        feature_names=FEATURE_NAMES,
        feature_version=FEATURE_VERSION,
    )
    assert set(model.trained_classes) == {EQ, EX}
    assert model.calibration is None
    probabilities = model.predict_proba(split["features"][explosions[-10:]])
    assert probabilities[:, EX].mean() > 0.5


def test_labels_of_one_class_only_are_refused(split) -> None:
    earthquakes = np.flatnonzero(split["labels"] == EQ)[:50]
    with pytest.raises(ValueError, match="fewer than two decision classes"):
        ranker_fit(
            split["features"][earthquakes],
            split["labels"][earthquakes],
            split["times"][earthquakes],
            feature_names=FEATURE_NAMES,
            feature_version=FEATURE_VERSION,
        )
