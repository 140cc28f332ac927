"""Min/max summaries of long files: written at import, drawn without reading samples, no extreme lost.

Real data: ObsPy's bundled hour of 200 Hz background noise (``ref_STS2``, 720,001 samples, CA.STS2..EHZ).
"""

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import obspy
import pytest
from django.core.cache import cache
from django.test import Client

from events.models import Event
from waveforms.decimation import column_grid, m4_indices, sample_columns
from waveforms.importing.waveform_files import waveform_file_import
from waveforms.models import WaveformSource
from waveforms.processing import filter_spec_parse, stream_filter
from waveforms.summaries import SUMMARY_BIN, bins_summarise, m4_from_bins, segment_from_bins
from waveforms.summary_store import PRESET_TAPER_S, summary_folder

REF_STS2 = "signal/tests/data/ref_STS2"
SEED_ID = "CA.STS2..EHZ"


@pytest.fixture(scope="module")
def hour(obspy_data: Path) -> obspy.Trace:
    trace: obspy.Trace = obspy.read(str(obspy_data / REF_STS2), format="MSEED")[0]
    return trace


@pytest.fixture
def data_dir(settings: Any, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    return Path(settings.DATA_DIR)


def _snapped_columns(npts: int, grid: Any, bin_size: int) -> np.ndarray:
    """Column of every sample when each bin belongs to the column of its first sample."""
    bin_columns = sample_columns(grid, np.arange(0, npts, bin_size))
    return np.repeat(bin_columns, bin_size)[:npts]


@pytest.mark.parametrize(
    ("window", "width"), [((0.0, 3600.005), 1200), ((-100.0, 2500.0), 997), ((700.5, 3000.0), 333)]
)
def test_every_snapped_column_keeps_its_exact_first_min_max_and_last_sample(
    hour: obspy.Trace, window: tuple[float, float], width: int
) -> None:
    values, rate = hour.data, hour.stats.sampling_rate
    segment = segment_from_bins(
        seed_id=SEED_ID,
        start=hour.stats.starttime,
        sampling_rate=rate,
        npts=values.size,
        bins=bins_summarise(values),
        bin_size=SUMMARY_BIN,
    )
    grid = column_grid(start_s=0.0, sampling_rate=rate, window_start_s=window[0], window_end_s=window[1], width=width)
    assert grid.s >= 4 * SUMMARY_BIN
    drawn = m4_from_bins(segment, grid)
    assert np.array_equal(values[drawn.indices], drawn.values), "every drawn point is a real sample at its time"
    snapped = _snapped_columns(values.size, grid, SUMMARY_BIN)
    inside = (snapped >= 0) & (snapped < width)
    expected = []
    for column in np.unique(snapped[inside]):
        members = np.flatnonzero(snapped == column)
        part = values[members]
        expected += [members[0], members[part.argmin()], members[part.argmax()], members[-1]]
    assert np.array_equal(drawn.indices, np.unique(expected))
    assert drawn.count == int(inside.sum()) and drawn.total == pytest.approx(float(values[inside].sum()))


def test_the_summary_line_reaches_every_raw_column_extreme_within_one_bin(hour: obspy.Trace) -> None:
    values, rate, width = hour.data, hour.stats.sampling_rate, 1200
    grid = column_grid(
        start_s=0.0, sampling_rate=rate, window_start_s=0.0, window_end_s=values.size / rate, width=width
    )
    segment = segment_from_bins(
        seed_id=SEED_ID,
        start=hour.stats.starttime,
        sampling_rate=rate,
        npts=values.size,
        bins=bins_summarise(values),
        bin_size=SUMMARY_BIN,
    )
    drawn = m4_from_bins(segment, grid)
    raw = m4_indices(values, grid)
    assert values[raw].max() == drawn.values.max() and values[raw].min() == drawn.values.min()
    assert drawn.indices.size <= 4 * width and abs(drawn.indices.size - raw.size) <= 0.05 * raw.size
    raw_columns = sample_columns(grid, np.arange(values.size))
    drawn_columns = _snapped_columns(values.size, grid, SUMMARY_BIN)[drawn.indices]
    for column in range(width):
        # Pixel column c lies inside snapped columns c - 1 and c: their drawn extremes bracket its raw ones.
        raw_part = values[raw_columns == column]
        near = drawn.values[(drawn_columns == column) | (drawn_columns == column - 1)]
        assert near.min() <= raw_part.min() and near.max() >= raw_part.max(), f"column {column}"


def test_import_writes_the_summary_under_the_data_dir_and_it_goes_with_the_source(
    obspy_data: Path, data_dir: Path, tmp_path: Path, db: None, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    path = tmp_path / "user" / "ref_STS2.mseed"
    path.parent.mkdir()
    shutil.copy(obspy_data / REF_STS2, path)
    with django_capture_on_commit_callbacks(execute=True):
        waveform_file_import(path=path)
    first = list(summary_folder().glob("*.npz"))
    source = WaveformSource.objects.get(path=str(path))
    assert len(first) == 1 and first[0].name.startswith(f"{source.pk}-") and first[0].parent == data_dir / "summaries"
    assert sorted(p.name for p in path.parent.iterdir()) == ["ref_STS2.mseed"], "nothing beside the user's data"
    with np.load(first[0]) as archive:
        assert {"s0_raw", "s0_2-8", "s0_5-20"} <= set(archive.files)
        assert archive["s0_raw"]["max"].max() == obspy.read(str(path), format="MSEED")[0].data.max()

    first[0].unlink()  # a file registered before summaries existed is summarised when imported again
    assert waveform_file_import(path=path).status == "unchanged" and len(list(summary_folder().glob("*.npz"))) == 1

    with path.open("ab") as handle:  # the file changes: the re-read replaces its summary
        handle.write(path.read_bytes()[:4096])
    with django_capture_on_commit_callbacks(execute=True):
        assert waveform_file_import(path=path).status == "re-read"
    replaced = list(summary_folder().glob("*.npz"))
    assert len(replaced) == 1 and replaced[0] != first[0]

    with django_capture_on_commit_callbacks(execute=True):
        source.delete()
    assert list(summary_folder().glob("*.npz")) == []


def test_a_short_file_gets_no_summary(shared_data: Path, data_dir: Path, db: None) -> None:
    waveform_file_import(path=next((shared_data / "esec/waveforms/1").glob("AV.SPCG..BHZ__*.mseed")))
    assert not summary_folder().exists() or list(summary_folder().iterdir()) == []


@pytest.fixture
def noise_event(obspy_data: Path, data_dir: Path, db: None) -> Event:
    cache.clear()
    waveform_file_import(path=obspy_data / REF_STS2)
    origin = dt.datetime(2011, 2, 15, 10, 21, tzinfo=dt.UTC)
    return Event.objects.create(public_id="smi:test/ref-sts2-hour", origin_time=origin)


def _section(client: Client, event: Event, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/events/{event.pk}/waveforms/", {"channels": SEED_ID, **params})
    assert response.status_code == 200, response.content[:500]
    body: dict[str, Any] = response.json()
    return body


def _peak_to_peak(body: dict[str, Any]) -> float:
    trace = next(t for t in body["figure"]["data"] if t["name"] == SEED_ID)
    y = np.array(trace["y"], dtype=float)
    return float((np.nanmax(y) - np.nanmin(y)) / 0.45 * body["rows"][0]["scale"])


def test_the_record_section_of_the_hour_is_drawn_from_the_summary_with_the_raw_extremes(
    client: Client, analyst: Any, noise_event: Event, hour: obspy.Trace
) -> None:
    client.force_login(analyst)
    body = _section(client, noise_event, start="0", end="3600.005", width=1200)
    assert body["from_summaries"] == [SEED_ID] and body["problems"] == [] and body["message"] is None
    assert body["rows"][0]["points"] <= 4 * 1200
    assert _peak_to_peak(body) == pytest.approx(float(hour.data.max() - hour.data.min()), rel=1e-3)
    zoomed = _section(client, noise_event, start="600", end="900", width=1200)  # 50 samples per column
    assert zoomed["from_summaries"] == [] and zoomed["rows"][0]["points"] > 0


def test_a_filter_preset_draws_its_own_summary_and_custom_corners_read_the_samples(
    client: Client, analyst: Any, noise_event: Event, hour: obspy.Trace
) -> None:
    client.force_login(analyst)
    preset = _section(client, noise_event, start="0", end="3600.005", filter="5-20")
    assert preset["from_summaries"] == [SEED_ID] and preset["filter"] == "bandpass 5-20 Hz"
    spec = filter_spec_parse(preset="5-20")
    assert spec is not None
    duration = hour.stats.npts / hour.stats.sampling_rate
    filtered = stream_filter(stream=obspy.Stream([hour]), spec=spec, taper_fraction=PRESET_TAPER_S / duration)[0].data
    expected = float(filtered.astype(np.float32).max() - filtered.astype(np.float32).min())
    assert _peak_to_peak(preset) == pytest.approx(expected, rel=1e-3)
    custom = _section(client, noise_event, start="0", end="3600.005", fmin="5", fmax="19")
    assert custom["from_summaries"] == [] and custom["filter"] == "bandpass 5-19 Hz"
    assert 0 < _peak_to_peak(custom) < _peak_to_peak(_section(client, noise_event, start="0", end="3600.005"))
