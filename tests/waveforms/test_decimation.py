"""Display decimation on real traces: at most four points per pixel column, and no extreme lost."""

from pathlib import Path

import numpy as np
import obspy
import pytest

from waveforms.decimation import column_grid, m4_indices, sample_columns


def _assert_every_column_keeps_its_extremes(
    values: np.ndarray, indices: np.ndarray, columns: np.ndarray, width: int
) -> None:
    kept_columns = columns[indices]
    inside = (columns >= 0) & (columns < width)
    for column in np.unique(columns[inside]):
        raw = values[columns == column]
        drawn = values[indices[kept_columns == column]]
        assert drawn.min() == raw.min() and drawn.max() == raw.max(), f"column {column} lost an extreme"
        assert drawn.size <= 4


@pytest.mark.parametrize("width", [1200, 997, 333])
def test_every_pixel_column_of_a_real_trace_keeps_its_min_and_max(shared_data: Path, width: int) -> None:
    folder = shared_data / "esec/waveforms/1"
    trace = obspy.read(str(sorted(folder.glob("*BHZ*.mseed"))[0]), format="MSEED")[0]
    values = trace.data
    grid = column_grid(
        start_s=0.0,
        sampling_rate=trace.stats.sampling_rate,
        window_start_s=0.0,
        window_end_s=trace.stats.npts / trace.stats.sampling_rate,
        width=width,
    )
    indices = m4_indices(values, grid)
    assert indices.size <= 4 * width and np.all(np.diff(indices) > 0)
    _assert_every_column_keeps_its_extremes(values, indices, sample_columns(grid, np.arange(values.size)), width)


def test_a_zoomed_window_keeps_only_its_columns_and_their_extremes(obspy_data: Path) -> None:
    trace = obspy.read(str(obspy_data / "signal/tests/data/BW.UH1._.SHZ.D.2010.147.cut.slist.gz"), format="SLIST")[0]
    values = trace.data.astype(np.float64)
    rate = trace.stats.sampling_rate
    # A window starting before the trace and ending inside it, with a width that does not divide the samples.
    grid = column_grid(
        start_s=0.0, sampling_rate=rate, window_start_s=-7.3, window_end_s=values.size / rate / 2, width=811
    )
    indices = m4_indices(values, grid)
    columns = sample_columns(grid, np.arange(values.size))
    assert np.all(columns[indices] < 811)
    _assert_every_column_keeps_its_extremes(values, indices, columns, 811)


def test_a_day_of_100_hz_samples_comes_down_to_four_points_per_column(obspy_data: Path) -> None:
    record = obspy.read(str(obspy_data / "signal/tests/data/BW.UH1._.SHZ.D.2010.147.cut.slist.gz"), format="SLIST")[
        0
    ].data
    values = np.tile(record, 86_400 * 100 // record.size + 1)[: 86_400 * 100]
    grid = column_grid(start_s=0.0, sampling_rate=100.0, window_start_s=0.0, window_end_s=86_400.0, width=1200)
    indices = m4_indices(values, grid)
    assert 1200 * 2 <= indices.size <= 4 * 1200
    assert values[indices].min() == values.min() and values[indices].max() == values.max()


def test_a_trace_with_fewer_samples_than_columns_is_drawn_in_full(shared_data: Path) -> None:
    trace = obspy.read(str(sorted((shared_data / "esec/waveforms/1").glob("*BHZ*.mseed"))[0]), format="MSEED")[
        0
    ].slice()
    short = trace.data[:500]
    grid = column_grid(
        start_s=0.0,
        sampling_rate=trace.stats.sampling_rate,
        window_start_s=0.0,
        window_end_s=500 / trace.stats.sampling_rate,
        width=1200,
    )
    assert np.array_equal(m4_indices(short, grid), np.arange(500))


def test_a_trace_outside_the_window_draws_nothing() -> None:
    grid = column_grid(start_s=1000.0, sampling_rate=40.0, window_start_s=0.0, window_end_s=100.0, width=1200)
    assert m4_indices(np.arange(4000, dtype=np.int32), grid).size == 0
