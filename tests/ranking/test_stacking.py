"""Stacking: the waveform CNN's event probabilities as ranker features, from the feature vector to a real worker
that measures a real PNW explosion, classifies it with a small trained CNN and scores it again with them."""

import csv
import dataclasses
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command

from analyst.ingest.services import events_ingest_file
from analyst.models import AuditAction
from analyst.review import event_review
from events.models import Event
from events.vocabulary import ScoringState
from ranking.ml.classes import CNN_CLASSES
from ranking.ml.cnn.datasets import CLASSES, shared_windows, split_by_event
from ranking.ml.cnn.network import train_network
from ranking.ml.features import (
    CNN_FEATURE_NAMES,
    FEATURE_NAMES,
    FEATURE_VERSION,
    FEATURES,
    ReviewedCatalogue,
    feature_matrix,
)
from ranking.ml.ranker import ranker_fit
from ranking.models import CnnPrediction, EventScore, ModelVersion
from ranking.registry import model_version_promote, model_version_register, models_cache_clear
from ranking.scoring import events_measure_waveforms, events_score
from ranking.training import labelled_events, ranker_train
from tests.conftest import wait_for
from tests.support.ranking_data import pnsn_inputs, pnsn_rows

PNW_EVENT = "uw61348817"  # a real PNSN explosion with 5 vertical records in the shared data
PREVIOUS_FEATURE_VERSION = "origin-time-place-waveform-similarity-2"  # the list before the CNN features


def test_the_cnn_features_are_documented_and_follow_the_cnns_classes() -> None:
    assert CNN_CLASSES == CLASSES
    assert CNN_FEATURE_NAMES[:4] == tuple(f"cnn_p_{name}" for name in CLASSES)
    assert CNN_FEATURE_NAMES[4:] == ("cnn_stations", "cnn_max_snr")
    documented = {spec.name: spec for spec in FEATURES}
    assert all(documented[name].unit and documented[name].computation for name in CNN_FEATURE_NAMES)
    assert FEATURE_VERSION != PREVIOUS_FEATURE_VERSION


def test_an_event_without_a_cnn_prediction_carries_nan_cnn_features(shared_data: Path) -> None:
    inputs, _, _ = pnsn_inputs(pnsn_rows(shared_data, years=(2018,))[:2])
    plain = feature_matrix(inputs, gazetteer=None, reviewed=ReviewedCatalogue.empty())
    columns = [FEATURE_NAMES.index(name) for name in CNN_FEATURE_NAMES]
    assert np.isnan(plain[:, columns]).all()
    given = {"cnn_p_explosion": 0.7, "cnn_stations": 3.0}  # a prediction without some values
    classified = [dataclasses.replace(inputs[0], cnn_features=given), inputs[1]]
    stacked = feature_matrix(classified, gazetteer=None, reviewed=ReviewedCatalogue.empty())
    assert stacked[0, FEATURE_NAMES.index("cnn_p_explosion")] == 0.7
    assert stacked[0, FEATURE_NAMES.index("cnn_stations")] == 3.0
    assert np.isnan(stacked[0, FEATURE_NAMES.index("cnn_p_earthquake")])
    assert np.isnan(stacked[1, columns]).all()
    others = [i for i in range(len(FEATURE_NAMES)) if i not in columns]
    np.testing.assert_array_equal(stacked[:, others], plain[:, others])  # NaN == NaN here


@pytest.mark.django_db
def test_an_active_ranker_trained_on_the_features_before_the_cnn_ones_asks_to_retrain(
    shared_data: Path, obspy_data: Path
) -> None:
    inputs, labels, times = pnsn_inputs(pnsn_rows(shared_data, years=(2018,))[:1500])
    previous = [name for name in FEATURE_NAMES if name not in CNN_FEATURE_NAMES]
    features = feature_matrix(inputs, gazetteer=None, reviewed=ReviewedCatalogue.empty())[:, : len(previous)]
    model = ranker_fit(features, labels, times, feature_names=previous, feature_version=PREVIOUS_FEATURE_VERSION)
    version = model_version_register(
        kind="ranker",
        model=model,
        created_by="test",
        feature_names=previous,
        feature_version=PREVIOUS_FEATURE_VERSION,
        training_summary={"events": 1500},
    )
    model_version_promote(model_version=version)
    models_cache_clear()
    [event_id] = events_ingest_file(path=obspy_data / "io/quakeml/tests/data/usgs_event.xml").event_ids

    outcome = events_score(event_ids=[event_id])

    assert outcome.state == ScoringState.FAILED and outcome.skipped == [event_id]
    event = Event.objects.get(pk=event_id)
    assert event.scoring_state == ScoringState.FAILED and event.importance is None
    assert PREVIOUS_FEATURE_VERSION in event.scoring_error and FEATURE_VERSION in event.scoring_error
    assert "train and promote a new ranker" in event.scoring_error
    assert not EventScore.objects.filter(event_id=event_id).exists()


@pytest.fixture(scope="module")
def tiny_cnn() -> Any:
    """A small CNN trained for a few steps on real windows of every shared source (as tests/ranking/test_cnn.py)."""
    from django.conf import settings

    windows = shared_windows(Path(settings.SHARED_DATA_DIR), limit=3)
    train, _ = split_by_event(windows)
    return train_network(windows.subset(train), epochs=2, steps=2, batch_size=16, filters=(4, 8, 8)).model


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_scores_a_measured_event_again_with_the_cnns_probabilities(
    celery_worker_process: None, tiny_cnn: Any, shared_data: Path, tmp_path: Path, analyst: Any
) -> None:
    # A ranker on real reviewed PNSN rows (without the PNW event, which must arrive unreviewed).
    lines = (shared_data / "catalogs" / "pnsn_comcat_2018-2022.csv").read_text().splitlines()
    reviewed = tmp_path / "pnsn_2018_head.csv"
    reviewed.write_text("\n".join(line for line in lines[:1501] if not line.startswith(PNW_EVENT)) + "\n")
    events_ingest_file(path=reviewed, reviewed=True)
    ranker = ranker_train(created_by="test", promote=True)
    cnn = model_version_register(
        kind=ModelVersion.Kind.CNN,
        model=tiny_cnn,
        created_by="test",
        feature_names=list(CLASSES),
        feature_version="cnn1d-test",
        training_summary={},
    )
    model_version_promote(model_version=cnn)
    call_command("import_waveforms", shared_data / "pnw" / "waveforms" / PNW_EVENT, stdout=StringIO())

    rows = list(csv.reader((shared_data / "pnw" / "events.csv").open()))
    catalogue = tmp_path / "one_event.csv"
    with catalogue.open("w", newline="") as handle:
        csv.writer(handle).writerows([rows[0], next(r for r in rows if r[0] == PNW_EVENT)])
    # On commit: measure_waveforms -> score_events on `cpu`; the measurement queues the CNN on `gpu`, whose
    # stored prediction queues score_events again.
    [event_id] = events_ingest_file(path=catalogue).event_ids

    def stacked() -> bool:
        return EventScore.objects.filter(event_id=event_id, model_versions__has_key="cnn").exists()

    wait_for(stacked, timeout=180, what="a score with the CNN features")
    prediction = CnnPrediction.objects.get(event_id=event_id)
    assert prediction.model_version == cnn.version and len(prediction.stations) >= 3
    score = EventScore.objects.get(event_id=event_id, model_versions__has_key="cnn")
    assert score.model_versions == {"ranker": ranker.version, "cnn": cnn.version}
    assert score.feature_version == FEATURE_VERSION and score.scored_at >= prediction.created_at
    for name in CLASSES:
        assert score.features[f"cnn_p_{name}"] == pytest.approx(prediction.class_probabilities[name], abs=1e-6)
    assert score.features["cnn_stations"] == len(prediction.stations)
    assert score.features["cnn_max_snr"] == pytest.approx(max(s["snr"] for s in prediction.stations))
    assert score.features["waveform_station_count"] >= 3  # measured by the chain's first step
    event = Event.objects.get(pk=event_id)
    wait_for(lambda: Event.objects.get(pk=event_id).scoring_state == ScoringState.SCORED, what="the scored state")
    event.refresh_from_db()
    assert event.importance == pytest.approx(score.importance) and event.review_state == "scored"
    # Scoring again changes nothing: the stored score already includes the prediction.
    count = EventScore.objects.filter(event_id=event_id).count()
    assert events_score(event_ids=[event_id]).skipped == [event_id]
    assert EventScore.objects.filter(event_id=event_id).count() == count <= 2

    # A new CNN promoted: measuring the event again queues it for that CNN only, and only the rescoring the CNN
    # task sends after storing its prediction can give a score with the new version.
    newer = model_version_register(
        kind=ModelVersion.Kind.CNN,
        model=tiny_cnn,
        created_by="test",
        feature_names=list(CLASSES),
        feature_version="cnn1d-test",
        training_summary={},
    )
    model_version_promote(model_version=newer)
    assert events_measure_waveforms(event_ids=[event_id]) == 1
    wait_for(
        lambda: EventScore.objects.filter(event_id=event_id, model_versions__cnn=newer.version).exists(),
        timeout=120,
        what="the rescoring with the new CNN",
    )
    assert EventScore.objects.filter(event_id=event_id).count() == count + 1
    assert set(CnnPrediction.objects.filter(event_id=event_id).values_list("model_version", flat=True)) == {
        cnn.version,
        newer.version,
    }

    # Once an analyst labels it, training reads the active CNN's features for it.
    event.refresh_from_db()
    event_review(
        event_id=event_id, user=analyst, version=event.version, decision=AuditAction.ACCEPT, event_type="quarry blast"
    )
    data = labelled_events()
    row = data.event_ids.index(event_id)
    assert data.cnn_versions == {event_id: newer.version}
    for name in CNN_FEATURE_NAMES:
        assert data.features[row, FEATURE_NAMES.index(name)] == pytest.approx(score.features[name])

    # Had that CNN been trained on this event, its probabilities would be in-sample: training leaves them out.
    newer.training_summary = {**newer.training_summary, "trained_on_events": [event_id]}
    newer.save(update_fields=["training_summary"])
    data = labelled_events()
    assert data.cnn_versions == {} and data.cnn_in_sample == 1
    row = data.event_ids.index(event_id)
    assert all(np.isnan(data.features[row, FEATURE_NAMES.index(name)]) for name in CNN_FEATURE_NAMES)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_promoting_a_cnn_sends_the_labelled_events_with_waveforms_to_it_so_the_ranker_can_stack_on_it(
    celery_worker_process: None, tiny_cnn: Any, shared_data: Path, tmp_path: Path
) -> None:
    from ranking.training_runs import model_promote

    # Two real PNW events imported as reviewed (labelled, so never measured); only the first has waveforms.
    rows = list(csv.reader((shared_data / "pnw" / "events.csv").open()))
    other = next(r for r in rows[1:] if r[0] != PNW_EVENT)
    catalogue = tmp_path / "two_events.csv"
    with catalogue.open("w", newline="") as handle:
        csv.writer(handle).writerows([rows[0], next(r for r in rows if r[0] == PNW_EVENT), other])
    events_ingest_file(path=catalogue, reviewed=True)
    call_command("import_waveforms", shared_data / "pnw" / "waveforms" / PNW_EVENT, stdout=StringIO())
    with_waveforms = Event.objects.get(public_id__endswith=PNW_EVENT).pk
    without = Event.objects.get(public_id__endswith=other[0]).pk
    assert labelled_events().cnn_versions == {}

    cnn = model_version_register(
        kind=ModelVersion.Kind.CNN,
        model=tiny_cnn,
        created_by="test",
        feature_names=list(CLASSES),
        feature_version="cnn1d-test",
        training_summary={},
    )
    model_promote(model_version=cnn, by="test")
    wait_for(
        lambda: CnnPrediction.objects.filter(event_id=with_waveforms, model_version=cnn.version).exists(),
        timeout=120,
        what="the new CNN's prediction for the labelled event",
    )
    assert not CnnPrediction.objects.filter(event_id=without).exists()
    data = labelled_events()
    assert data.cnn_versions == {with_waveforms: cnn.version}
    row = data.event_ids.index(with_waveforms)
    assert 0.0 <= data.features[row, FEATURE_NAMES.index("cnn_p_explosion")] <= 1.0
