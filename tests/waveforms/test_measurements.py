"""Per-trace measurements on real PhaseNet windows (P at 30 s, S from picks.csv) and ObsPy's bundled data."""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import obspy
import pytest

from waveforms.measurements import (
    ENERGY_BANDS_HZ,
    TraceMeasurements,
    measure_trace,
    sta_lta_classic,
    sta_lta_recursive,
    sta_lta_window_samples,
)

EVENT = "BG_ACR_2012082505145960.mseed"
# A one-component station whose other two channels the PhaseNet files fill with zeros.
FLAT_EVENT = "NC_MCV_1999071111141796.mseed"


def _phasenet(shared_data: Path, name: str) -> tuple[obspy.Stream, obspy.UTCDateTime, obspy.UTCDateTime]:
    stream = obspy.read(str(shared_data / "phasenet" / name), format="MSEED")
    with (shared_data / "phasenet" / "picks.csv").open() as handle:
        row = next(r for r in csv.DictReader(handle) if r["file"] == name)
    start = stream[0].stats.starttime
    rate = stream[0].stats.sampling_rate
    return stream, start + int(row["p_sample"]) / rate, start + int(row["s_sample"]) / rate


def test_it_measures_a_real_earthquake_around_its_p_pick(shared_data: Path) -> None:
    stream, p_time, s_time = _phasenet(shared_data, EVENT)
    vertical = stream.select(channel="*Z")[0]
    result = measure_trace(vertical, p_time=p_time, s_time=s_time)
    data = vertical.data.astype(np.float64) - vertical.data.mean()
    assert result.peak_amplitude == pytest.approx(np.abs(data).max())
    assert result.snr is not None and result.snr > 3  # a catalogued earthquake stands out of its noise
    assert result.sta_lta_max is not None and result.sta_lta_max > 3
    assert result.signal_duration_s is not None and 1 < result.signal_duration_s < 60
    assert result.dominant_frequency_hz is not None and 0 < result.dominant_frequency_hz < 50
    assert set(result.band_energy) == set(ENERGY_BANDS_HZ)
    assert 0.2 < sum(result.band_energy.values()) <= 1.0 + 1e-9
    assert result.high_low_ratio == pytest.approx(np.log10(result.band_energy["8-20"] / result.band_energy["0.5-2"]))
    assert result.ps_amplitude_ratio is not None and result.ps_amplitude_ratio > 0
    assert result.kurtosis is not None


def test_signal_to_noise_is_the_rms_ratio_of_the_documented_windows(shared_data: Path) -> None:
    stream, p_time, _ = _phasenet(shared_data, EVENT)
    trace = stream.select(channel="*Z")[0]
    data = trace.data.astype(np.float64) - trace.data.mean()
    rate = trace.stats.sampling_rate
    p = round((p_time - trace.stats.starttime) * rate)
    noise = data[p - round(10.5 * rate) : p - round(0.5 * rate)]
    signal = data[p - round(0.5 * rate) : p + round(10 * rate)]
    expected = np.sqrt(np.mean(signal**2)) / np.sqrt(np.mean(noise**2))
    assert measure_trace(trace, p_time=p_time).snr == pytest.approx(expected)


def test_moving_the_p_time_into_the_noise_lowers_the_snr(shared_data: Path) -> None:
    stream, p_time, _ = _phasenet(shared_data, EVENT)
    trace = stream.select(channel="*Z")[0]
    on_pick = measure_trace(trace, p_time=p_time).snr
    in_noise = measure_trace(trace, p_time=p_time - 15).snr
    assert on_pick is not None and in_noise is not None and on_pick > 2 * in_noise


def test_without_arrivals_the_window_measures_stay_none(obspy_data: Path) -> None:
    trace = obspy.read(str(obspy_data / "io/mseed/tests/data/test.mseed"), format="MSEED")[0]
    result = measure_trace(trace, p_time=None)
    assert result.snr is None and result.signal_duration_s is None and result.ps_amplitude_ratio is None
    assert result.peak_amplitude is not None and result.dominant_frequency_hz is not None


def test_a_p_time_outside_the_trace_gives_none_not_an_error(shared_data: Path) -> None:
    stream, p_time, s_time = _phasenet(shared_data, EVENT)
    result = measure_trace(stream[0], p_time=p_time + 3600, s_time=s_time + 3600)
    assert (result.snr, result.signal_duration_s, result.ps_amplitude_ratio) == (None, None, None)


def test_a_too_short_trace_measures_nothing(shared_data: Path) -> None:
    stream, p_time, _ = _phasenet(shared_data, EVENT)
    short = stream[0].slice(p_time, p_time + 0.2)
    assert measure_trace(short, p_time=p_time) == TraceMeasurements(None, None, None, None, None, {}, None, None, None)


def test_a_gapped_trace_is_measured_with_its_gap_filled(obspy_data: Path) -> None:
    stream = obspy.read(str(obspy_data / "io/mseed/tests/data/gaps.mseed"), format="MSEED")
    stream.merge()
    assert isinstance(stream[0].data, np.ma.MaskedArray)
    result = measure_trace(stream[0], p_time=None)
    assert result.peak_amplitude is not None and np.isfinite(result.peak_amplitude)


def test_a_flat_zero_filled_channel_has_no_snr_and_no_kurtosis(shared_data: Path) -> None:
    stream, p_time, s_time = _phasenet(shared_data, FLAT_EVENT)
    flat = stream.select(channel="XX1")[0]
    result = measure_trace(flat, p_time=p_time, s_time=s_time)
    assert (result.snr, result.kurtosis, result.ps_amplitude_ratio) == (None, None, None)
    assert result.peak_amplitude == 0.0


# Run in a child process: before the guard, ObsPy's C STA/LTA corrupted the heap at such rates and aborted the
# process (SIGABRT), which would take pytest down with it. Many calls, as a scoring pool process makes.
_MEASURE_MANY_TIMES = """
import sys
import obspy
from waveforms.measurements import measure_trace
trace = obspy.read(sys.argv[1], format="SAC")[0]
for _ in range(300):
    result = measure_trace(trace, p_time=trace.stats.starttime + 20 * trace.stats.delta)
print(trace.stats.sampling_rate, result.sta_lta_max, result.peak_amplitude is not None, result.skipped, sep="|")
"""


@pytest.mark.parametrize("rate", [0.02, 0.04, 0.3])
def test_a_trace_sampled_too_slowly_for_sta_lta_skips_it_instead_of_crashing(tmp_path: Path, rate: float) -> None:
    # A real record (ObsPy's bundled 100 Hz example) relabelled as sampled at `rate` Hz, written as SAC here.
    trace = obspy.read()[0]
    trace.stats.sampling_rate = rate
    path = tmp_path / f"slow_{rate}.sac"
    trace.write(str(path), format="SAC")
    run = subprocess.run(
        [sys.executable, "-c", _MEASURE_MANY_TIMES, str(path)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    sampled, sta_lta, measured_peak, skipped = run.stdout.strip().split("|")
    assert float(sampled) == pytest.approx(rate)  # SAC stores delta as float32
    assert (sta_lta, measured_peak) == ("None", "True")
    assert skipped == f"STA/LTA skipped: at {rate:g} Hz its 1 s / 10 s windows are under one sample"


def test_sta_lta_windows_are_refused_below_one_sample() -> None:
    assert sta_lta_window_samples(100.0, sta_s=1.0, lta_s=10.0) == (100, 1000)
    assert sta_lta_window_samples(0.6, sta_s=1.0, lta_s=10.0) == (1, 6)
    for rate in (0.5, 0.04, 0.0, -1.0, float("nan"), float("inf")):
        assert sta_lta_window_samples(rate, sta_s=1.0, lta_s=10.0) is None
    data = obspy.read()[0].data.astype(np.float64)
    assert sta_lta_classic(data, rate=0.02, sta_s=1.0, lta_s=10.0) is None
    assert sta_lta_recursive(data, rate=0.02, sta_s=0.5, lta_s=5.0) is None
    assert sta_lta_classic(data[:999], rate=100.0, sta_s=1.0, lta_s=10.0) is None  # shorter than the LTA
