"""The seisclass peer (Jia et al. 2022) on real shared-data windows: its weights come from the installed wheel,
its input is cut as its authors describe, and its frozen features feed the transfer comparison."""

from importlib import resources
from pathlib import Path

import numpy as np
import obspy
import pytest

from ranking.ml.cnn.datasets import EXPLOSION, LabelledWindows, shared_windows
from ranking.ml.cnn.peer import (
    PEER_MODEL,
    PEER_PACKAGE,
    PEER_SAMPLES,
    peer_available,
    peer_embedding,
    peer_inputs,
    peer_probabilities,
    peer_raw_window,
)
from ranking.ml.cnn.peer_evaluation import peer_evaluate

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


def test_the_comparison_reports_the_peer_and_the_transfer_per_data_source(few_windows: LabelledWindows) -> None:
    result = peer_evaluate(few_windows, folds=2)
    for key in ("pretrained_zeros", "pretrained_copy", "transfer_frozen"):
        block = result[key]
        assert block["all"]["n"] == block["events"] > 0
        assert {"pnw", "pnw_2002_2017"} <= set(block["by_source"])
        assert block["pnw"]["n"] == block["by_source"]["pnw"]["n"] + block["by_source"]["pnw_2002_2017"]["n"]
