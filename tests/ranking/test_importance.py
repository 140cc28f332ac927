"""The queue's importance on real PNSN catalogue events: continuous, large events first, uncertain events above
routine ones, explanations never empty, calibration with resolution, conformal coverage, the generic model.

The issue's time split: trained on 2018-2020, checked on the 2021 events (the shared catalogue, read in place)."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from ranking.ml.classes import DECISION_CLASSES, EXPLOSION_LIKE
from ranking.ml.conformal import class_thresholds, conformal_report, conformal_threshold, triage
from ranking.ml.evaluation import distinct_levels, expected_calibration_error, profile_report, tie_rate
from ranking.ml.explain import explain_importance
from ranking.ml.false_evidence import false_evidence_row, station_onset_evidence
from ranking.ml.features import (
    DEFAULT_EXCLUDED_GROUPS,
    FEATURE_GROUPS,
    FEATURE_NAMES,
    FEATURE_VERSION,
    LOCATION_GROUPS,
    features_of_groups,
)
from ranking.ml.generic import generic_fit
from ranking.ml.importance import PROFILES, importance_from_logit, importance_logit, importance_scores, profile_get
from ranking.ml.ranker import GENERIC_HALF_WEIGHT_LABELS, RankerModel, ranker_fit
from tests.support.ranking_data import phasenet_rows, phasenet_vertical, pnsn_features, pnsn_inputs, pnsn_rows

EX = DECISION_CLASSES.index(EXPLOSION_LIKE)


@pytest.fixture(scope="module")
def split(shared_data: Path) -> dict[str, np.ndarray]:
    inputs, labels, times = pnsn_inputs(pnsn_rows(shared_data, years=(2018, 2019, 2020, 2021)))
    features = pnsn_features(inputs, labels, times)
    train = times < np.datetime64("2021-01-01", "s").astype(float)
    return {"features": features, "labels": labels, "times": times, "train": train}


@pytest.fixture(scope="module")
def model(split: dict[str, np.ndarray]) -> RankerModel:
    train = split["train"]
    return ranker_fit(
        split["features"][train],
        split["labels"][train],
        split["times"][train],
        feature_names=FEATURE_NAMES,
        feature_version=FEATURE_VERSION,
        excluded_features=features_of_groups(DEFAULT_EXCLUDED_GROUPS),
    )


@pytest.fixture(scope="module")
def generic(split: dict[str, np.ndarray]) -> RankerModel:
    train = split["train"]
    return generic_fit(split["features"][train], split["labels"][train], split["times"][train])


def _held_out(split: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    test = ~split["train"]
    return split["features"][test], split["labels"][test], split["times"][test]


@pytest.mark.parametrize("profile", list(PROFILES))
def test_no_two_events_share_an_importance_unless_their_inputs_are_the_same(split, model, profile) -> None:
    features, _, _ = _held_out(split)
    scores = importance_scores(model, features, profile_get(profile))
    distinct_inputs = len(np.unique(np.nan_to_num(features, nan=-1e9), axis=0))
    assert len(np.unique(scores)) == distinct_inputs
    assert tie_rate(scores) < 0.01
    assert ((scores > 0) & (scores < 1)).all()


def test_the_largest_events_reach_the_first_screen_in_every_profile(split, model) -> None:
    features, labels, times = _held_out(split)
    magnitudes = features[:, FEATURE_NAMES.index("magnitude")]
    largest = np.nan_to_num(magnitudes, nan=-10) >= model.magnitude_quantiles["q999"]
    assert largest.any(), "the held-out events hold an event above the training's 99.9 % magnitude"
    for name in PROFILES:
        order = np.argsort(-importance_scores(model, features, profile_get(name)), kind="stable")
        assert set(np.flatnonzero(largest)) <= set(order[:50]), name
    regional = profile_report(model, features, labels, times, "regional")
    assert regional["magnitude_3_events"] > 0
    assert regional["magnitude_3_last_position_share"] <= 0.05


@pytest.mark.parametrize("profile", list(PROFILES))
def test_uncertain_events_rank_above_confident_routine_ones(split, model, profile) -> None:
    features, labels, times = _held_out(split)
    report = profile_report(model, features, labels, times, profile)
    assert report["uncertain_events"] >= 5
    assert report["uncertain_median_position_share"] < report["routine_median_position_share"]
    # The same event made sure of its class moves down: the uncertainty term is what lifted it.
    probabilities = model.predict_proba(features)
    ordered = np.sort(probabilities, axis=1)
    uncertain = np.flatnonzero(ordered[:, -1] - ordered[:, -2] < 0.2)
    log_proba = model.log_proba(features[uncertain])
    sure = np.full_like(log_proba, -30.0)
    sure[np.arange(len(uncertain)), log_proba.argmax(axis=1)] = 0.0
    chosen = profile_get(profile)
    as_is = importance_logit(log_proba, features[uncertain], model, chosen)
    made_sure = importance_logit(sure, features[uncertain], model, chosen)
    interest = np.isin(log_proba.argmax(axis=1), [DECISION_CLASSES.index(c) for c in chosen.interest])
    assert (as_is[~interest] > made_sure[~interest]).all()


def test_the_verification_profile_puts_the_explosions_first_near_an_oracle(split, model) -> None:
    features, labels, times = _held_out(split)
    report = profile_report(model, features, labels, times, "verification")
    assert report["effort_over_oracle"] <= 1.1
    shares = report["share_read_for_95_percent"]
    assert shares["importance"] < shares["origin time"] / 3 and shares["importance"] < shares["magnitude"] / 2
    regional = profile_report(model, features, labels, times, "regional")
    assert regional["share_read_for_95_percent"]["importance"] > shares["importance"]


def test_every_event_gets_reasons_even_when_its_class_is_saturated(split, model) -> None:
    features, _, _ = _held_out(split)
    probabilities = model.predict_proba(features)
    saturated = np.flatnonzero(probabilities.max(axis=1) > 0.999)
    assert len(saturated) > 0
    rows = np.concatenate([saturated[:100], np.arange(100)])
    explanations = explain_importance(model, features[rows], profile_get("regional"))
    assert all(len(explanation) >= 1 for explanation in explanations)
    assert sum(abs(explanation[0]["effect"]) > 1e-3 for explanation in explanations) == len(rows)


def test_calibration_is_smooth_and_keeps_the_trees_resolution(split, model) -> None:
    features, labels, _ = _held_out(split)
    probabilities = model.predict_proba(features)
    assert distinct_levels(probabilities) > 2 * len(labels)
    assert (probabilities[:, list(model.trained_classes)] > 0).all()
    assert (probabilities < 1).all()
    assert expected_calibration_error(labels, probabilities) <= 0.02
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_conformal_sets_cover_the_true_class_of_later_events(split, model) -> None:
    features, labels, _ = _held_out(split)
    probabilities = model.predict_proba(features)
    for alpha in (0.01, 0.05):
        report = conformal_report(probabilities, labels, class_thresholds(model.conformal_scores, alpha), alpha)
        # A guarantee for exchangeable events; later events drift a little, hence the small allowance.
        assert report["achieved_error"] <= alpha + 0.01, report
        assert report["confident_share"] >= 0.6, report
    strict = conformal_report(probabilities, labels, class_thresholds(model.conformal_scores, 0.001), 0.001)
    loose = conformal_report(probabilities, labels, class_thresholds(model.conformal_scores, 0.2), 0.2)
    assert strict["confident_share"] <= loose["confident_share"]
    decided = triage(probabilities[:20], class_thresholds(model.conformal_scores, 0.01))
    assert {state for state, _ in decided} <= {"confident", "needs_review"}
    assert all((cls is not None) == (state == "confident") for state, cls in decided)


def test_a_conformal_threshold_needs_enough_calibration_scores() -> None:
    scores = np.linspace(0.0, 0.5, 50)
    assert conformal_threshold(scores, 0.01) == 1.0  # 50 scores cannot give 99 % coverage
    assert conformal_threshold(scores, 0.1) == pytest.approx(scores[45])


def test_the_generic_model_ranks_explosions_without_any_location_feature(split, generic) -> None:
    used = {FEATURE_NAMES[c] for c in generic.used_columns}
    assert not used & set(features_of_groups(LOCATION_GROUPS))
    assert {"local_solar_hour", "magnitude", "depth_km"} <= used
    features, labels, _ = _held_out(split)
    assert average_precision_score(labels == EX, generic.predict_proba(features)[:, EX]) >= 0.95


def test_the_generic_model_weighs_less_as_local_labels_accumulate(split, model, generic) -> None:
    features, _, _ = _held_out(split)
    alone = RankerModel(**{**model.__dict__, "generic": generic, "local_labels": 0})
    np.testing.assert_allclose(alone.predict_proba(features[:20]), generic.predict_proba(features[:20]), rtol=1e-9)
    pooled = RankerModel(**{**model.__dict__, "generic": generic, "local_labels": GENERIC_HALF_WEIGHT_LABELS})
    np.testing.assert_allclose(
        pooled.predict_proba(features[:20]),
        0.5 * model.predict_proba(features[:20]) + 0.5 * generic.predict_proba(features[:20]),
        rtol=1e-9,
    )
    many = RankerModel(**{**model.__dict__, "generic": generic, "local_labels": 30000})
    assert many.generic_weight() < 0.01 < pooled.generic_weight() == 0.5


def test_every_feature_belongs_to_exactly_one_group() -> None:
    grouped = [name for names in FEATURE_GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(FEATURE_NAMES)
    assert set(DEFAULT_EXCLUDED_GROUPS) <= set(FEATURE_GROUPS)


def test_an_importance_from_log_odds_never_rounds_to_0_or_1() -> None:
    z = np.array([-1e6, -700.0, -1.0, 0.0, 1.0, 700.0, 700.001, 1e6])
    scores = importance_from_logit(z)
    assert ((scores > 0) & (scores < 1)).all()
    assert (np.diff(scores) > 0).all()


@pytest.fixture(scope="module")
def phasenet_evidence(shared_data: Path) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """Evidence measured on real PhaseNet records: at the analyst's P pick (an onset), and 15 s before it inside
    the same record's pre-event noise (what a false trigger's TauP arrival looks at)."""
    onsets, noise = [], []
    for row in phasenet_rows(shared_data)[:12]:
        trace, p_time = phasenet_vertical(shared_data, row)
        seen = station_onset_evidence(trace, arrival=p_time, source="picks")
        quiet = station_onset_evidence(
            trace.slice(trace.stats.starttime, p_time - 3.0), arrival=p_time - 15.0, source="taup"
        )
        if seen.state == "onset" and quiet.state == "no_onset":
            onsets.append(false_evidence_row([seen], magnitude=None))
            noise.append(false_evidence_row([quiet], magnitude=None))
    assert len(onsets) >= 6, "the PhaseNet records hold clear onsets and quiet noise before them"
    return onsets, noise


def _with_evidence(features: np.ndarray, evidence: list[dict[str, float]]) -> np.ndarray:
    """Real catalogue rows carrying real measured evidence (the catalogue has no waveforms of its own)."""
    rows = features.copy()
    for row, values in zip(rows, evidence, strict=True):
        for name, value in values.items():
            if name in FEATURE_NAMES:
                row[FEATURE_NAMES.index(name)] = value
    return rows


def test_without_false_labels_the_label_free_prior_is_the_false_probability(phasenet_evidence, split, model) -> None:
    onsets, noise = phasenet_evidence
    features, _, _ = _held_out(split)
    assert model.false_labels == 0 and model.false_prior_weight() == 0.0
    plain = model.predict_proba(features[: len(noise)])
    assert (plain[:, DECISION_CLASSES.index("not_existing")] == 0).all()
    for evidence in (onsets, noise):
        rows = _with_evidence(features[: len(evidence)], evidence)
        probabilities = model.predict_proba(rows)
        prior = np.array([values["fe_prior_p_false"] for values in evidence])
        assert probabilities[:, 0] == pytest.approx(prior, abs=1e-9)
        assert probabilities.sum(axis=1) == pytest.approx(1.0)
        # The real classes keep the model's proportions among themselves.
        real = probabilities[:, 1:] / probabilities[:, 1:].sum(axis=1, keepdims=True)
        assert real == pytest.approx(plain[: len(evidence), 1:], abs=1e-9)
    # Pick evidence alone is not a calibrated probability (docs/false_events.md): it does not become P(false).
    picks_only = features[:1].copy()
    picks_only[0, FEATURE_NAMES.index("fe_prior_p_false")] = 0.5
    assert model.predict_proba(picks_only)[0, 0] == 0.0


def test_likely_false_events_sink_under_the_real_events_in_the_regional_queue(phasenet_evidence, split, model) -> None:
    onsets, noise = phasenet_evidence
    features, _, _ = _held_out(split)
    magnitudes = features[:, FEATURE_NAMES.index("magnitude")]
    # The largest held-out events below the large-event bonus: a false trigger's copied magnitude can be large.
    candidates = np.flatnonzero(np.nan_to_num(magnitudes, nan=-10) < model.magnitude_quantiles["q999"])
    largest = candidates[np.argsort(-magnitudes[candidates])][: len(noise)]
    false_rows = _with_evidence(features[largest], noise)
    real_rows = _with_evidence(features[: len(onsets)], onsets)
    regional = profile_get("regional")
    false_scores = importance_scores(model, false_rows, regional)
    real_scores = importance_scores(model, np.vstack([real_rows, features]), regional)
    assert (model.predict_proba(false_rows)[:, 0] > 0.9).all()
    assert false_scores.max() < np.quantile(real_scores, 0.01), (false_scores, np.quantile(real_scores, 0.01))
