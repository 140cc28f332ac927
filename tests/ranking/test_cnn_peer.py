"""The seisclass peer (Jia et al. 2022) on real shared-data windows: its weights come from the installed wheel,
its input is cut as its authors describe, and its frozen features feed the transfer comparison."""

from importlib import resources
from pathlib import Path

import numpy as np
import obspy
import pytest

from ranking.cnn_report import cnn_comparison_lines
from ranking.ml.cnn.datasets import EXPLOSION, LabelledWindows, shared_windows
from ranking.ml.cnn.peer import (
    PEER_MODEL,
    PEER_PACKAGE,
    PEER_SAMPLES,
    _model,
    peer_available,
    peer_embedding,
    peer_finetune,
    peer_inputs,
    peer_model_probabilities,
    peer_probabilities,
    peer_raw_window,
)
from ranking.ml.cnn.peer_evaluation import PEER_TO_OURS, peer_evaluate, peer_versus_cnn

PNW_EXPLOSION = "uw61348817"
# the peer is an optional install (requirements/peer.txt, --no-deps); the test environment of the CNN installs it
pytest.importorskip("seisclass", reason="install requirements/peer.txt (pip install --no-deps) to test the peer")


@pytest.fixture(scope="module")
def few_windows() -> LabelledWindows:
    from django.conf import settings

    return shared_windows(Path(settings.SHARED_DATA_DIR), limit=3)


def test_the_peer_network_is_the_one_shipped_in_the_installed_wheel() -> None:
    assert peer_available() is None
    weights = resources.files(PEER_PACKAGE).joinpath(*PEER_MODEL)
    assert weights.is_file() and "site-packages" in str(weights)


def test_the_peer_window_is_60_s_at_100_hz_from_3_s_before_the_onset(shared_data: Path) -> None:
    path = sorted((shared_data / "pnw" / "waveforms" / PNW_EXPLOSION).glob("*.mseed"))[0]
    trace = obspy.read(str(path), format="MSEED")[0]
    onset = trace.stats.starttime + 55.0
    raw = peer_raw_window(trace, onset=onset)
    assert raw is not None and raw.shape == (PEER_SAMPLES,)
    if trace.stats.sampling_rate == 100.0:  # same grid: the very samples from 52 s on
        first = round(52.0 * 100)
        assert np.allclose(raw, trace.data[first : first + PEER_SAMPLES])
    assert peer_raw_window(trace, onset=trace.stats.endtime - 30.0) is None  # 57 s after it are not recorded


def test_the_peer_classifies_real_explosion_windows_with_its_authors_preprocessing(
    few_windows: LabelledWindows,
) -> None:
    has = np.isfinite(few_windows.peer[:, 0])
    assert has.sum() > 10 and not has[few_windows.labels == 3].any()  # noise windows have no P to cut at
    raw = few_windows.peer[has & (few_windows.labels == EXPLOSION)]
    x = peer_inputs(raw)
    assert x.shape == (len(raw), 100, 60, 3)
    # the authors' per-channel z-score: the vertical has mean 0 and unit variance, absent horizontals stay 0
    assert np.allclose(x[:, :, :, 0].reshape(len(raw), -1).std(axis=1), 1.0, atol=1e-3)
    assert np.all(x[:, :, :, 1:] == 0)
    p = peer_probabilities(raw)
    assert p.shape == (len(raw), 3) and np.allclose(p.sum(axis=1), 1.0, atol=1e-4)
    assert peer_embedding(raw).shape == (len(raw), 16)


def test_fine_tuning_starts_from_the_peer_and_fits_our_windows_without_changing_the_pretrained_network(
    few_windows: LabelledWindows,
) -> None:
    has = np.isfinite(few_windows.peer[:, 0])
    raw = few_windows.peer[has]
    labels = np.array([PEER_TO_OURS.index(int(label)) for label in few_windows.labels[has]])
    before = [w.copy() for w in _model().get_weights()]
    pretrained = peer_model_probabilities(_model(), raw)
    model, kept = peer_finetune(raw, labels, epochs=6)
    tuned = peer_model_probabilities(model, raw)
    assert kept == 6  # without a validation split every epoch is run

    def loss(p: np.ndarray) -> float:  # balanced log-loss on the windows it was tuned on
        return float(np.mean([-np.log(np.clip(p[labels == k, k], 1e-7, 1)).mean() for k in set(labels.tolist())]))

    assert loss(tuned) < 0.8 * loss(pretrained)
    assert all(np.array_equal(a, b) for a, b in zip(before, _model().get_weights(), strict=True))


def test_the_comparison_reports_the_peer_and_the_transfer_per_data_source(few_windows: LabelledWindows) -> None:
    result = peer_evaluate(few_windows, folds=2, finetune_epochs=2)
    finetuned = result["transfer_finetuned"]
    # each fold stopped on its own training events' validation split, never on the events it is tested on
    assert finetuned["epochs"] == 2 and all(1 <= kept <= 2 for kept in finetuned["fold_epochs_kept"])
    assert len(finetuned["fold_epochs_kept"]) == 2
    for key in ("pretrained_zeros", "pretrained_copy", "transfer_frozen", "transfer_finetuned"):
        block = result[key]
        assert block["all"]["n"] == block["events"] > 0
        assert {"pnw", "pnw_2002_2017"} <= set(block["by_source"])
        assert block["pnw"]["n"] == block["by_source"]["pnw"]["n"] + block["by_source"]["pnw_2002_2017"]["n"]
    printed = "\n".join(cnn_comparison_lines({"peer": result}))
    assert (
        "transfer: the peer network fine-tuned per fold, same folds (out-of-fold), early-stopped at epochs" in printed
    )


def test_the_peer_is_compared_with_the_cnn_on_the_same_events_with_a_paired_interval(
    few_windows: LabelledWindows,
) -> None:
    peer_events = peer_evaluate(few_windows, folds=2, finetune_epochs=1)["transfer_finetuned"]["event_probabilities"]
    pairs = [e for e in peer_events if e["source"] in ("pnw", "pnw_2002_2017") and e["truth"] != "surface_event"]
    assert {e["truth"] for e in pairs} == {"earthquake", "explosion"}
    same = peer_versus_cnn(peer_events, peer_events, resamples=200)
    assert same["events"] == len(pairs) and same["difference"] == 0 and same["interval_95"] == [0, 0]
    # a "CNN" that swaps earthquake and explosion ranks every pair the other way round
    swapped = [
        {**e, "probabilities": [e["probabilities"][1], e["probabilities"][0], *e["probabilities"][2:]]}
        for e in peer_events
    ]
    versus = peer_versus_cnn(swapped, peer_events, resamples=200)
    assert versus["auc_cnn"] == pytest.approx(1 - versus["auc_peer_finetuned"], abs=1e-3)
    assert versus["difference"] == pytest.approx(2 * versus["auc_peer_finetuned"] - 1, abs=2e-3)
    low, high = versus["interval_95"]
    assert low <= versus["difference"] <= high
