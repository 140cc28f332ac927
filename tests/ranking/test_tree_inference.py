"""The ranker's compiled trees give scikit-learn's probabilities (to 1e-12) on real PNSN rows, and the number of
native threads suits the batch and the process (one per Celery pool child's share of the cores)."""

from pathlib import Path

import numpy as np
import pytest

from ranking.ml import tree_inference
from ranking.ml.features import FEATURE_NAMES, FEATURE_VERSION
from ranking.ml.ranker import RankerModel, ranker_fit
from ranking.ml.tree_inference import COMPILE_MIN_ROWS, compiled_proba, scoring_threads, threads_budget_set
from tests.support.ranking_data import pnsn_features, pnsn_inputs, pnsn_rows


@pytest.fixture(scope="module")
def fitted(shared_data: Path) -> tuple[RankerModel, np.ndarray]:
    inputs, labels, times = pnsn_inputs(pnsn_rows(shared_data, years=(2018, 2019, 2020, 2021)))
    features = pnsn_features(inputs, labels, times)
    train = times < np.datetime64("2021-01-01", "s").astype(float)
    model = ranker_fit(
        features[train], labels[train], times[train], feature_names=FEATURE_NAMES, feature_version=FEATURE_VERSION
    )
    return model, features[~train]


def test_compiled_trees_give_scikit_learns_probabilities_on_real_rows(
    fitted: tuple[RankerModel, np.ndarray], tmp_path: Path
) -> None:
    model, held_out = fitted
    tree_inference.compiled_folder_set(tmp_path)
    rows = np.resize(held_out, (COMPILE_MIN_ROWS, held_out.shape[1]))  # the real 2021 rows, repeated
    used = rows[:, list(model.used_columns)]
    assert np.isnan(used).any()  # missing values take scikit-learn's side
    compiled = compiled_proba(model.estimator, used, threads=2)
    assert compiled is not None, "the trees did not compile (is a C compiler installed?)"
    assert list(tmp_path.glob("hgb-*.so")), "the library is kept for the next process"
    reference = model.estimator.predict_proba(used)
    assert compiled.shape == reference.shape
    np.testing.assert_allclose(compiled, reference, rtol=0, atol=1e-12)
    # once built, a scoring batch of 200 events uses it, and the ranker's output is unchanged
    batch = held_out[:200]
    np.testing.assert_allclose(model.predict_proba(batch), _sklearn_scored(model, batch), rtol=0, atol=1e-12)
    assert compiled_proba(model.estimator, batch[:, list(model.used_columns)], threads=1) is not None


def _sklearn_scored(model: RankerModel, features: np.ndarray) -> np.ndarray:
    """The ranker's calibrated probabilities computed from scikit-learn's predict_proba (ranking.ml.ranker)."""
    from scipy.special import log_softmax

    from ranking.ml.classes import DECISION_CLASSES

    proba = model.estimator.predict_proba(features[:, list(model.used_columns)])
    logits = np.log(np.clip(proba, 1e-300, 1.0))
    if model.calibration is not None:
        logits = model.calibration.apply(logits)
    probabilities = np.zeros((len(features), len(DECISION_CLASSES)))
    probabilities[:, list(model.trained_classes)] = np.exp(log_softmax(logits, axis=1))
    return probabilities


def test_threads_suit_the_batch_and_the_pool_childs_share() -> None:
    try:
        threads_budget_set(None)
        assert scoring_threads(200) == 1
        assert scoring_threads(1_000_000) >= 1
        threads_budget_set(1)  # a prefork child of a pool as large as the cores
        assert scoring_threads(1_000_000) == 1
    finally:
        threads_budget_set(None)
