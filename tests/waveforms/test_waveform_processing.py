"""Processing real traces: filter presets shape the spectrum, bad corners are refused, responses and rotation."""

from pathlib import Path

import numpy as np
import obspy
import pytest
from scipy import signal

from waveforms.processing import (
    FILTER_PRESETS,
    FilterError,
    FilterSpec,
    decimation_factor,
    filter_spec_parse,
    stream_decimate_for_filter,
    stream_detrend,
    stream_filter,
    stream_remove_response,
    stream_rotate_to_zrt,
)

ESEC_EVENT = "1"


def _esec(shared_data: Path, station: str) -> tuple[obspy.Stream, obspy.Inventory]:
    folder = shared_data / "esec"
    stream = obspy.Stream()
    for path in sorted((folder / "waveforms" / ESEC_EVENT).glob(f"AV.{station}..*.mseed")):
        stream += obspy.read(str(path), format="MSEED")
    return stream, obspy.read_inventory(
        str(folder / "stations" / ESEC_EVENT / f"AV.{station}.xml"), format="STATIONXML"
    )


def _band_fraction(trace: obspy.Trace, low: float, high: float) -> float:
    freqs, power = signal.welch(trace.data, fs=trace.stats.sampling_rate, nperseg=512)
    return float(power[(freqs >= low) & (freqs <= high)].sum() / power.sum())


@pytest.mark.parametrize("preset", sorted(FILTER_PRESETS))
def test_a_filter_preset_keeps_its_band_and_removes_the_rest(obspy_data: Path, preset: str) -> None:
    raw = obspy.read(str(obspy_data / "signal/tests/data/BW.UH1._.SHZ.D.2010.147.cut.slist.gz"), format="SLIST")
    low, high = FILTER_PRESETS[preset]
    spec = filter_spec_parse(preset=preset)
    assert spec == FilterSpec("bandpass", low, high)
    filtered = stream_filter(stream=raw, spec=spec)[0]
    before = _band_fraction(stream_detrend(stream=raw)[0], low, high)
    after = _band_fraction(filtered, low, high)
    assert after > 0.9 and after > before
    assert raw[0].data.dtype != np.float64  # the input is left untouched


def test_custom_corners_give_highpass_lowpass_and_bandpass() -> None:
    assert filter_spec_parse(fmin=2.0) == FilterSpec("highpass", 2.0, None)
    assert filter_spec_parse(fmax=3.0) == FilterSpec("lowpass", None, 3.0)
    assert filter_spec_parse(fmin=1.0, fmax=3.0) == FilterSpec("bandpass", 1.0, 3.0)
    assert filter_spec_parse() is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fmin": 8.0, "fmax": 2.0}, "fmin (8 Hz) must be lower than fmax (2 Hz)"),
        ({"fmin": -1.0}, "fmin must be a positive frequency"),
        ({"preset": "3-9"}, "unknown filter preset '3-9'"),
        ({"preset": "1-10", "fmin": 1.0}, "either a filter preset or corners"),
    ],
)
def test_bad_filter_requests_are_refused_with_a_clear_message(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(FilterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        filter_spec_parse(**kwargs)  # type: ignore[arg-type]


def test_a_corner_above_nyquist_names_the_trace(shared_data: Path) -> None:
    stream, _ = _esec(shared_data, "SPCG")  # 50 Hz data: Nyquist 25 Hz
    with pytest.raises(FilterError, match=r"AV\.SPCG\.\.BH.: filter corner 30 Hz is at or above the Nyquist"):
        stream_filter(stream=stream, spec=FilterSpec("bandpass", 5.0, 30.0))


def test_response_removal_turns_counts_into_metres_per_second(shared_data: Path) -> None:
    stream, inventory = _esec(shared_data, "SPCG")
    velocity, problems = stream_remove_response(stream=stream, inventory=inventory)
    assert problems == [] and len(velocity) == 3
    peak = float(np.abs(velocity.select(channel="BHZ")[0].data).max())
    assert 1e-9 < peak < 1e-2  # ground velocity of a lahar at a few km, not millions of counts


def test_response_removal_reports_channels_without_a_response(shared_data: Path) -> None:
    stream, _ = _esec(shared_data, "SPCG")
    _, other_inventory = _esec(shared_data, "SPBG")
    velocity, problems = stream_remove_response(stream=stream, inventory=other_inventory)
    assert len(velocity) == 0 and len(problems) == 3 and all("no usable instrument response" in p for p in problems)


def test_rotation_to_zrt_keeps_the_horizontal_energy(shared_data: Path) -> None:
    stream, inventory = _esec(shared_data, "SPCG")
    stream.trim(max(t.stats.starttime for t in stream), min(t.stats.endtime for t in stream))
    rotated, problems = stream_rotate_to_zrt(stream=stream, back_azimuth=231.0, inventory=inventory)
    assert problems == []
    assert sorted(t.stats.channel for t in rotated) == ["BHR", "BHT", "BHZ"]
    horizontal = sum(float(np.sum(stream.select(channel=c)[0].data.astype(np.float64) ** 2)) for c in ["BHN", "BHE"])
    rotated_energy = sum(float(np.sum(rotated.select(channel=c)[0].data ** 2)) for c in ["BHR", "BHT"])
    assert rotated_energy == pytest.approx(horizontal, rel=1e-6)


def test_a_station_with_one_horizontal_is_reported_not_rotated(shared_data: Path) -> None:
    stream, inventory = _esec(shared_data, "SPBG")  # only BHE was archived for this station
    rotated, problems = stream_rotate_to_zrt(stream=stream, back_azimuth=10.0, inventory=inventory)
    assert [t.stats.channel for t in rotated] == ["BHE"]
    assert problems == ["AV.SPBG..BH?: horizontals ['E'] cannot be rotated to R/T"]


def test_a_gapped_trace_is_filtered_per_segment(obspy_data: Path) -> None:
    stream = obspy.read(str(obspy_data / "io/mseed/tests/data/gaps.mseed"), format="MSEED")
    stream.merge()
    spec = FilterSpec("highpass", 1.0, None)
    filtered = stream_filter(stream=stream, spec=spec)
    assert len(filtered) == len(stream[0].split()) > 1
    assert all(np.isfinite(t.data).all() for t in filtered)


@pytest.mark.parametrize("station", ["SPBG", "SPCP", "SPNN"])
def test_decimating_before_a_low_band_filter_draws_the_same_trace(shared_data: Path, station: str) -> None:
    stream, _ = _esec(shared_data, station)
    spec = FilterSpec("bandpass", 0.5, 2.0)
    for trace in stream:
        factor = decimation_factor(sampling_rate=trace.stats.sampling_rate, spec=spec)
        assert factor >= 2 and trace.stats.sampling_rate / factor >= 10 * 2.0
        full = stream_filter(stream=obspy.Stream([trace]), spec=spec)[0]
        decimated = stream_decimate_for_filter(stream=obspy.Stream([trace]), spec=spec)
        assert decimated[0].stats.starttime == trace.stats.starttime
        assert decimated[0].stats.sampling_rate == trace.stats.sampling_rate / factor
        assert abs(decimated[0].stats.endtime - trace.stats.endtime) < decimated[0].stats.delta
        drawn = stream_filter(stream=decimated, spec=spec)[0]
        expected = full.data[::factor][: drawn.stats.npts]
        assert np.abs(drawn.data[: expected.size] - expected).max() < 0.01 * np.abs(expected).max()


def test_a_high_pass_or_a_band_near_nyquist_is_not_decimated(shared_data: Path) -> None:
    stream, _ = _esec(shared_data, "SPBG")
    rate = stream[0].stats.sampling_rate
    assert decimation_factor(sampling_rate=rate, spec=FilterSpec("highpass", 1.0, None)) == 1
    assert decimation_factor(sampling_rate=rate, spec=FilterSpec("bandpass", 1.0, rate / 4)) == 1
    kept = stream_decimate_for_filter(stream=stream, spec=FilterSpec("highpass", 1.0, None))
    assert [t.stats.npts for t in kept] == [t.stats.npts for t in stream]
