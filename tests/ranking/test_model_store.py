"""The model store: artifacts load only from the store after their checksum matches; promotion is safe."""

from pathlib import Path

import numpy as np
import pytest

from ranking.ml.features import FEATURE_NAMES, FEATURE_VERSION, ReviewedCatalogue, feature_matrix
from ranking.ml.ranker import RankerModel, ranker_fit
from ranking.models import ModelVersion
from ranking.registry import (
    ModelArtifactError,
    model_artifact_load,
    model_version_promote,
    model_version_register,
    models_cache_clear,
    models_dir,
    ranker_active_load,
)
from tests.support.ranking_data import pnsn_inputs, pnsn_rows

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def small_ranker(shared_data: Path) -> RankerModel:
    inputs, labels, times = pnsn_inputs(pnsn_rows(shared_data, years=(2018,))[:1500])
    features = feature_matrix(inputs, gazetteer=None, reviewed=ReviewedCatalogue.empty())
    return ranker_fit(features, labels, times, feature_names=FEATURE_NAMES, feature_version=FEATURE_VERSION)


def _register(model: RankerModel) -> ModelVersion:
    return model_version_register(
        kind="ranker",
        model=model,
        created_by="test",
        feature_names=list(FEATURE_NAMES),
        feature_version=FEATURE_VERSION,
        training_summary={"events": 1500},
    )


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    models_cache_clear()


def test_a_registered_model_loads_back_and_predicts_the_same(small_ranker) -> None:
    version = _register(small_ranker)
    assert version.status == "candidate" and len(version.artifact_sha256) == 64
    assert (models_dir() / version.artifact_path).is_file()
    loaded = model_artifact_load(model_version=version)
    features = np.full((2, len(FEATURE_NAMES)), np.nan)
    features[:, 10] = [3.0, 13.0]
    np.testing.assert_array_equal(loaded.predict_proba(features), small_ranker.predict_proba(features))


def test_promotion_retires_the_previous_active_model(small_ranker) -> None:
    first = model_version_promote(model_version=_register(small_ranker))
    second = model_version_promote(model_version=_register(small_ranker))
    first.refresh_from_db()
    assert (first.status, second.status) == ("retired", "active")
    assert ModelVersion.objects.filter(kind="ranker", status="active").count() == 1


def test_a_tampered_artifact_is_refused_and_the_serving_model_keeps_serving(small_ranker) -> None:
    serving = model_version_promote(model_version=_register(small_ranker))
    assert ranker_active_load().version.pk == serving.pk  # type: ignore[union-attr]
    candidate = _register(small_ranker)
    path = models_dir() / candidate.artifact_path
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(ModelArtifactError, match="refused"):
        model_artifact_load(model_version=candidate)
    with pytest.raises(ModelArtifactError):
        model_version_promote(model_version=candidate)
    serving.refresh_from_db()
    assert serving.status == "active"
    # Even when the broken model is made active behind the store's back, this process keeps the old one.
    ModelVersion.objects.filter(pk=serving.pk).update(status="retired")
    ModelVersion.objects.filter(pk=candidate.pk).update(status="active")
    assert ranker_active_load().version.pk == serving.pk  # type: ignore[union-attr]


def test_a_missing_artifact_or_one_outside_the_store_is_refused(small_ranker) -> None:
    version = _register(small_ranker)
    (models_dir() / version.artifact_path).unlink()
    with pytest.raises(ModelArtifactError, match="missing"):
        model_artifact_load(model_version=version)
    version.artifact_path = "../../etc/passwd"
    with pytest.raises(ModelArtifactError, match="outside the store"):
        model_artifact_load(model_version=version)


def test_without_an_active_ranker_nothing_is_loaded() -> None:
    assert ranker_active_load() is None
