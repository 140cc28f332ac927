"""The waveform CNN on real windows: data loading, split by event and time-block folds, spectral features,
a tiny training run with early stopping, the model store (checksum, safe-mode loading, tampering
refused), compiled inference with saliency, event aggregation, and inference through a real Celery
worker, queued by the waveform measurement, stored on the event and shown beside the trace."""

import csv
from pathlib import Path
from typing import Any

import numpy as np
import obspy
import pytest
from django.test import Client

from analyst.cnn import cnn_features_for_events
from analyst.importers.events import events_import_file
from analyst.models import CnnPrediction, Event
from analyst.scoring import events_measure_waveforms
from ranking.cnn.datasets import (
    CLASSES,
    EARTHQUAKE,
    NOISE,
    LabelledWindows,
    shared_windows,
    split_by_event,
    time_block_folds,
)
from ranking.cnn.network import (
    CnnPredictor,
    event_aggregate,
    first_layer_filters,
    fit_with_validation,
    model_inputs,
    train_network,
)
from ranking.cnn.windows import N_SPECTRAL, SAMPLING_RATE, WINDOW_SAMPLES, WindowError, window_prepare
from ranking.models import ModelVersion
from ranking.registry import ModelArtifactError, model_artifact_load, model_version_promote, model_version_register
from tests.conftest import wait_for
from waveforms.importing.waveform_files import waveform_file_import

PNW_EVENT = "uw61348817"  # a real PNSN explosion with 5 vertical records in the shared data


@pytest.fixture(scope="module")
def few_windows() -> LabelledWindows:
    """Real windows of the first 3 events/records of every shared source (no cache: reads the files)."""
    from django.conf import settings

    return shared_windows(Path(settings.SHARED_DATA_DIR), limit=3)


@pytest.fixture(scope="module")
def tiny_model(few_windows: LabelledWindows) -> Any:
    train, _ = split_by_event(few_windows)
    return train_network(few_windows.subset(train), epochs=2, steps=2, batch_size=16, filters=(4, 8, 8)).model


def test_it_loads_real_windows_of_all_four_classes_normalised_at_40_hz(few_windows: LabelledWindows) -> None:
    counts = few_windows.counts()
    assert set(counts) == set(CLASSES) and all(counts[c] > 0 for c in CLASSES), counts
    assert few_windows.windows.shape == (len(few_windows), WINDOW_SAMPLES) == (len(few_windows), 30 * SAMPLING_RATE)
    assert np.allclose(np.abs(few_windows.windows).max(axis=1), 1.0)
    assert set(few_windows.sources.tolist()) == {"pnw", "esec", "se_usa", "phasenet"}
    # the hand-made baseline features are measured on most windows
    assert np.isfinite(few_windows.features[:, 2]).mean() > 0.9


def test_it_splits_by_event_never_by_trace(few_windows: LabelledWindows) -> None:
    train, test = split_by_event(few_windows)
    assert train.any() and test.any() and not (train & test).any()
    assert not set(few_windows.groups[train].tolist()) & set(few_windows.groups[test].tolist())
    # noise windows of a record stay with the record's earthquake window
    for group in set(few_windows.groups[few_windows.labels == NOISE].tolist()):
        sides = {bool(t) for t, g in zip(test, few_windows.groups, strict=True) if g == group}
        assert len(sides) == 1


def test_every_event_falls_in_exactly_one_time_block_fold_and_older_events_in_earlier_folds(
    few_windows: LabelledWindows,
) -> None:
    folds = time_block_folds(few_windows, folds=3)
    assert set(folds.tolist()) == {0, 1, 2}
    for group in set(few_windows.groups.tolist()):
        assert len(set(folds[few_windows.groups == group].tolist())) == 1
    pnw_quakes = (few_windows.sources == "pnw") & (few_windows.labels == EARTHQUAKE)
    order = np.argsort(few_windows.times[pnw_quakes], kind="stable")
    assert np.all(np.diff(folds[pnw_quakes][order]) >= 0)
    with pytest.raises(ValueError, match="at least 2"):
        time_block_folds(few_windows, folds=1)


def test_the_spectral_input_is_finite_and_separates_noise_from_earthquakes_by_snr(
    few_windows: LabelledWindows,
) -> None:
    window, spectra = model_inputs(few_windows.windows)
    assert window.shape == (len(few_windows), WINDOW_SAMPLES, 1) and spectra.shape == (len(few_windows), N_SPECTRAL)
    assert np.isfinite(spectra).all()
    log_snr = spectra[:, 7]
    assert np.median(log_snr[few_windows.labels == EARTHQUAKE]) > np.median(log_snr[few_windows.labels == NOISE]) + 0.3


def test_early_stopping_keeps_the_best_validation_epoch_and_refits_on_all_training_windows(
    few_windows: LabelledWindows,
) -> None:
    train, _ = split_by_event(few_windows)
    result = fit_with_validation(
        few_windows.subset(train), epochs=3, steps=1, batch_size=16, filters=(4, 8, 8), patience=2
    )
    validated = [row for row in result.history if "val_loss" in row]
    assert validated and 1 <= result.best_epoch <= len(validated)
    best = min(range(len(validated)), key=lambda i: validated[i]["val_loss"]) + 1
    assert result.best_epoch == best
    assert len(result.history) == len(validated) + result.best_epoch  # the refit ran for the best epoch count


def test_it_refuses_a_trace_that_does_not_cover_the_window(obspy_data: Path) -> None:
    trace = obspy.read()[0]  # ObsPy's bundled 100 Hz, 30 s example
    with pytest.raises(WindowError, match="too low"):
        window_prepare(trace.copy().decimate(4), onset=trace.stats.starttime + 5.0)  # 25 Hz cannot hold 15 Hz
    window = window_prepare(trace, onset=trace.stats.starttime + 5.0)
    assert window.data.shape == (WINDOW_SAMPLES,) and window.data.dtype == np.float32
    with pytest.raises(WindowError, match="does not cover the window"):
        window_prepare(trace, onset=trace.stats.starttime + 10.0)


def test_an_event_with_one_clear_station_and_ten_noisy_ones_is_called_from_the_clear_one() -> None:
    clear = np.array([[0.02, 0.95, 0.02, 0.01]])
    noisy = np.tile([[0.4, 0.1, 0.2, 0.3]], (10, 1))
    probabilities = event_aggregate(np.vstack([clear, noisy]), np.array([40.0] + [1.05] * 10))
    assert CLASSES[int(np.argmax(probabilities))] == "explosion"
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    unweighted = event_aggregate(np.vstack([clear, noisy]), np.ones(11))
    assert CLASSES[int(np.argmax(unweighted))] != "explosion"


def test_compiled_inference_matches_keras_and_saliency_has_the_window_length(
    tiny_model: Any, few_windows: LabelledWindows
) -> None:
    predictor = CnnPredictor(tiny_model, batch_size=32)
    windows = few_windows.windows[:40]
    probabilities = predictor.predict(windows)
    reference = tiny_model.predict(model_inputs(windows), verbose=0)
    assert probabilities.shape == (40, 4) and np.allclose(probabilities, reference, atol=1e-5)
    curves, again = predictor.saliency(windows)
    assert curves.shape == (40, WINDOW_SAMPLES) and np.allclose(again, probabilities, atol=1e-5)
    assert curves.min() >= 0.0 and curves.max() <= 1.0 + 1e-6
    filters = first_layer_filters(tiny_model)
    assert len(filters["kernels"]) == 4 and len(filters["response_db"][0]) == len(filters["frequency_hz"])


@pytest.mark.django_db
def test_the_store_checksums_the_keras_file_loads_it_in_safe_mode_and_refuses_a_tampered_one(
    tiny_model: Any, few_windows: LabelledWindows, settings: Any
) -> None:
    version = model_version_register(
        kind=ModelVersion.Kind.CNN, model=tiny_model, created_by="test", feature_names=list(CLASSES),
        feature_version="cnn1d-v1", training_summary={"windows": len(few_windows)},
    )  # fmt: skip
    assert version.artifact_path.endswith(".keras")
    loaded = model_artifact_load(model_version=version)
    x = model_inputs(few_windows.windows[:8])
    assert np.allclose(loaded.predict(x, verbose=0), tiny_model.predict(x, verbose=0), atol=1e-6)
    path = Path(settings.DATA_DIR) / "models" / version.artifact_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelArtifactError, match="SHA-256"):
        model_artifact_load(model_version=version)
    with pytest.raises(ModelArtifactError):
        model_version_promote(model_version=version)
    assert ModelVersion.objects.get(pk=version.pk).status == ModelVersion.Status.CANDIDATE


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_classifies_a_real_event_and_stores_probabilities_stations_and_saliency(
    celery_worker_process: None, tiny_model: Any, shared_data: Path, tmp_path: Path, analyst: Any, settings: Any
) -> None:
    from analyst.tasks_cnn import classify_events_cnn

    rows = list(csv.reader((shared_data / "pnw" / "events.csv").open()))
    catalogue = tmp_path / "one_event.csv"
    with catalogue.open("w", newline="") as handle:
        csv.writer(handle).writerows([rows[0], next(r for r in rows if r[0] == PNW_EVENT)])
    event_id = events_import_file(path=catalogue).event_ids[0]
    for path in sorted((shared_data / "pnw" / "waveforms" / PNW_EVENT).glob("*.mseed")):
        waveform_file_import(path=path)
    version = model_version_register(
        kind=ModelVersion.Kind.CNN, model=tiny_model, created_by="test", feature_names=list(CLASSES),
        feature_version="cnn1d-v1", training_summary={},
    )  # fmt: skip
    model_version_promote(model_version=version)

    assert classify_events_cnn.name == "analyst.tasks.classify_events_cnn"
    # measuring the event's waveforms (the scoring chain's first step) queues it for the CNN on commit
    assert events_measure_waveforms(event_ids=[event_id]) == 1
    wait_for(lambda: CnnPrediction.objects.filter(event_id=event_id).exists(), timeout=120, what="the CNN prediction")

    prediction = CnnPrediction.objects.get(event_id=event_id)
    assert prediction.model_version == version.version
    assert len(prediction.stations) >= 3
    assert sum(prediction.class_probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert prediction.predicted_class == max(prediction.class_probabilities, key=prediction.class_probabilities.get)
    station = prediction.stations[0]
    assert set(station) >= {"seed_id", "probabilities", "snr", "window_start"}
    with np.load(Path(settings.DATA_DIR) / prediction.saliency_path) as stored:
        assert stored["saliency"].shape == (len(prediction.stations), WINDOW_SAMPLES)
        assert stored["saliency"].dtype == np.float16

    features = cnn_features_for_events([event_id, event_id + 999])
    assert list(features) == [event_id]
    assert features[event_id]["cnn_p_explosion"] == pytest.approx(prediction.class_probabilities["explosion"])

    client = Client()
    client.force_login(analyst)
    body = client.get(f"/api/events/{event_id}/waveforms/{station['seed_id']}/").json()
    assert body["saliency"]["model_version"] == version.version
    assert len(body["saliency"]["values"]) == WINDOW_SAMPLES
    assert Event.objects.get(pk=event_id).cnn_predictions.count() == 1


@pytest.mark.slow
@pytest.mark.django_db
def test_the_full_training_command_registers_a_cnn_that_beats_the_spectral_baseline(shared_data: Path) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("train", kind="cnn", data=shared_data, epochs=40, promote=True, stdout=out)
    version = ModelVersion.objects.get(kind=ModelVersion.Kind.CNN, status=ModelVersion.Status.ACTIVE)
    held_out, baseline = version.metrics["held_out"], version.metrics["baseline"]
    assert version.training_summary["held_out_events"] > 50
    assert held_out["event"]["macro_f1"] > baseline["event"]["macro_f1"]
    assert held_out["event"]["per_class"]["noise"]["f1"] > 0.8
