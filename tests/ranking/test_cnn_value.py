"""The CNN's proof of value in the ranker: the with/without comparison and its bootstrap interval on real PNSN
catalogue events, the stored verdict the ranker's features follow, and what the model page says."""

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from ranking.inputs import ranker_uses_cnn_features
from ranking.ml.classes import CNN_CLASSES, DECISION_CLASSES, EXPLOSION_LIKE
from ranking.ml.cnn.network import build_model
from ranking.ml.cnn_value import cnn_value, cnn_value_decision, pnsn_catalogue_inputs
from ranking.models import ModelVersion
from ranking.registry import model_version_promote, model_version_register


@pytest.fixture(scope="module")
def catalogue(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, ...]:
    """The real 2021 PNSN catalogue rows and, as the events "with waveforms", its 30 PNW waveform events."""
    source = shared_data / "catalogs" / "pnsn_comcat_2018-2022.csv"
    lines = source.read_text().splitlines()
    path = tmp_path_factory.mktemp("pnsn") / "pnsn_2021.csv"
    path.write_text("\n".join([lines[0], *[line for line in lines[1:] if ",2021," in line]]) + "\n")
    ids, features, labels, times = pnsn_catalogue_inputs(path)
    with (shared_data / "pnw" / "events.csv").open(newline="") as handle:
        waveform_ids = {row["source_id"] for row in csv.DictReader(handle)}
    rows = np.array([i for i, source_id in enumerate(ids) if source_id in waveform_ids])
    return features, labels, times, rows


def test_an_uninformative_cnn_stays_out_and_an_informative_one_comes_in(catalogue: tuple[Any, ...]) -> None:
    features, labels, times, rows = catalogue
    assert rows.size >= 10
    ex = DECISION_CLASSES.index(EXPLOSION_LIKE)
    # the same value for every event carries no information: the interval of ΔAP straddles 0 (or lies below)
    flat = cnn_value(features, labels, times, {int(r): [0.25] * 4 for r in rows}, folds=2, bootstrap=200)
    assert flat["events"] == rows.size and not flat["cnn_features_in_default_ranker"]
    assert flat["delta_ap_interval"][0] <= 0.0
    # the truth itself as 'CNN' output (a check of the statistics, not a CNN): AP cannot fall
    rows_truth = {int(r): bool(labels[r] == ex) for r in rows}
    informed = cnn_value(
        features,
        labels,
        times,
        {r: ([0.02, 0.96, 0.01, 0.01] if v else [0.96, 0.02, 0.01, 0.01]) for r, v in rows_truth.items()},
        folds=2,
        bootstrap=200,
    )
    assert informed["ap_with"] >= informed["ap_without"]
    assert informed["delta_ap_interval"][0] <= informed["delta_ap"] <= informed["delta_ap_interval"][1]


def test_the_verdict_keeps_the_cnn_only_when_the_whole_interval_lies_above_zero() -> None:
    assert cnn_value_decision({"delta_ap_interval": [0.01, 0.2]})
    assert not cnn_value_decision({"delta_ap_interval": [-0.01, 0.2]})
    assert not cnn_value_decision({"delta_ap_interval": [0.0, 0.0]})


@pytest.mark.django_db
def test_the_ranker_and_the_model_page_follow_the_stored_verdict(client: Client, analyst: Any, settings: Any) -> None:
    assert ranker_uses_cnn_features()  # no CNN, no verdict: as before
    version = model_version_register(
        kind=ModelVersion.Kind.CNN,
        model=build_model(),
        created_by="test",
        feature_names=list(CNN_CLASSES),
        feature_version="cnn1d-spectral-v2",
        training_summary={},
    )
    model_version_promote(model_version=version)
    version.metrics = {
        "cnn_value": {
            "events": 68,
            "explosions": 17,
            "folds": 5,
            "bootstrap": 2000,
            "ap_with": 0.9,
            "ap_without": 0.91,
            "delta_ap": -0.01,
            "delta_ap_interval": [-0.05, 0.03],
            "accuracy_with": 0.93,
            "accuracy_without": 0.93,
            "delta_accuracy": 0.0,
            "delta_accuracy_interval": [-0.03, 0.03],
            "cnn_features_in_default_ranker": False,
        }
    }
    version.save(update_fields=["metrics"])
    assert not ranker_uses_cnn_features()
    client.force_login(analyst)
    page = client.get(reverse("model-dashboard", args=["ranker"])).content.decode()
    assert "The default ranker leaves the CNN&#x27;s probabilities out" in page or (
        "The default ranker leaves the CNN's probabilities out" in page
    )
    assert "-0.05 … 0.03" in page
    settings.SEISTRIAGE_RANKER_CNN_FEATURES = "on"
    assert ranker_uses_cnn_features()
    page = client.get(reverse("model-dashboard", args=["ranker"])).content.decode()
    assert "The ranker stacks the CNN" in page
    settings.SEISTRIAGE_RANKER_CNN_FEATURES = "sometimes"
    with pytest.raises(ValueError, match="SEISTRIAGE_RANKER_CNN_FEATURES must be one of auto, on, off"):
        ranker_uses_cnn_features()
