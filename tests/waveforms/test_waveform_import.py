"""Registering real waveform files and SDS archives: trace rows, idempotent re-import, bad files write nothing."""

import datetime as dt
import gzip
import os
import re
import shutil
import struct
from pathlib import Path
from typing import Any

import obspy
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from obspy.io.sac import SACTrace

from events.models import Event
from fileimport.errors import ImportFileError
from waveforms.importing.waveform_files import sds_archive_register, waveform_file_import
from waveforms.models import WaveformSource, WaveformTrace
from waveforms.sources import stream_for_window

pytestmark = pytest.mark.django_db

ESEC_SPBG_BHE = "esec/waveforms/1/AV.SPBG..BHE__20140910T192005Z__20140910T192305Z.mseed"


def _counts() -> tuple[int, int]:
    return WaveformSource.objects.count(), WaveformTrace.objects.count()


def test_it_registers_an_esec_miniseed_trace_field_by_field(shared_data: Path) -> None:
    report = waveform_file_import(path=shared_data / ESEC_SPBG_BHE)
    assert (report.format, report.status, report.traces) == ("MSEED", "registered", 1)
    source = WaveformSource.objects.get()
    assert source.kind == "file" and source.path == str(shared_data / ESEC_SPBG_BHE)
    assert source.size_bytes == (shared_data / ESEC_SPBG_BHE).stat().st_size
    assert source.modified_at is not None
    trace = WaveformTrace.objects.get()
    assert trace.seed_id == "AV.SPBG..BHE"
    assert trace.start_time == dt.datetime(2014, 9, 10, 19, 20, 5, tzinfo=dt.UTC)
    assert trace.end_time == dt.datetime(2014, 9, 10, 19, 23, 5, tzinfo=dt.UTC)
    assert (trace.sampling_rate, trace.npts) == (50.0, 9001)


def test_a_miniseed_file_with_gaps_gets_one_row_per_contiguous_trace(obspy_data: Path) -> None:
    report = waveform_file_import(path=obspy_data / "io/mseed/tests/data/gaps.mseed")
    assert report.traces == 4
    rows = list(WaveformTrace.objects.order_by("start_time").values_list("npts", flat=True))
    assert rows == [412, 824, 824, 50668]


def test_sac_files_register_traces_but_create_no_events(shared_data: Path) -> None:
    folder = shared_data / "se_usa_sac/EQ"
    call_command("import_waveforms", str(folder))
    sac_files = list(folder.glob("*.SAC"))
    assert WaveformSource.objects.filter(format="SAC").count() == len(sac_files) == WaveformTrace.objects.count()
    assert set(WaveformTrace.objects.values_list("sampling_rate", flat=True)) == {50.0}
    assert Event.objects.count() == 0


def test_a_folder_is_walked_recursively_with_progress(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = shared_data / "pnw/waveforms"
    events = sorted(folder.iterdir())[:2]
    parent_files = [p for event in events for p in event.glob("*.mseed")]
    call_command("import_waveforms", *map(str, events))
    out = capsys.readouterr().out
    assert f"[{len(parent_files)}/{len(parent_files)}]" in out
    assert WaveformSource.objects.count() == len(parent_files)


def test_reimporting_an_unchanged_file_is_idempotent_and_a_changed_one_is_reread(
    tmp_path: Path, shared_data: Path
) -> None:
    path = tmp_path / "data.mseed"
    shutil.copy(shared_data / ESEC_SPBG_BHE, path)
    waveform_file_import(path=path)
    before = list(WaveformTrace.objects.values_list("id", flat=True))
    assert waveform_file_import(path=path).status == "unchanged"
    assert list(WaveformTrace.objects.values_list("id", flat=True)) == before
    assert waveform_file_import(path=path, force=True).status == "re-read"
    assert WaveformTrace.objects.count() == 1
    # The file is replaced by another station's real record; size or mtime changes, so it is read again.
    shutil.copy(shared_data / "pnw/waveforms/uw61348817/UW.BHW..EHZ.mseed", path)
    os.utime(path, (1e9, 1e9))
    report = waveform_file_import(path=path)
    assert report.status == "re-read"
    assert _counts() == (1, 1)
    assert WaveformTrace.objects.get().seed_id == "UW.BHW..EHZ"


def _bad_files(tmp_path: Path, shared_data: Path) -> dict[str, Path]:
    real = (shared_data / ESEC_SPBG_BHE).read_bytes()
    contents = {
        "cut_inside_a_record.mseed": real[: 512 * 20 + 300],
        "junk.mseed": bytes(range(256)) * 16,
        "empty.mseed": b"",
    }
    for name, content in contents.items():
        (tmp_path / name).write_bytes(content)
    return {name: tmp_path / name for name in contents}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("cut_inside_a_record.mseed", "truncated MiniSEED: 10540 bytes is not a whole number of 512-byte records"),
        # ObsPy's WIN detector accepts almost any bytes; the WIN reader then fails on them.
        ("junk.mseed", "junk.mseed: (not a waveform format ObsPy reads|unreadable as [A-Z0-9_]+: )"),
        ("empty.mseed", "the file is empty"),
    ],
)
def test_a_bad_file_fails_naming_it_and_writes_nothing(
    tmp_path: Path, shared_data: Path, name: str, reason: str
) -> None:
    path = _bad_files(tmp_path, shared_data)[name]
    with pytest.raises(ImportFileError, match=reason) as caught:
        waveform_file_import(path=path)
    assert caught.value.path == str(path)
    assert _counts() == (0, 0)


def test_the_command_continues_past_bad_files_and_fails_at_the_end(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _bad_files(tmp_path, shared_data)
    good = shared_data / ESEC_SPBG_BHE
    with pytest.raises(CommandError, match="3 of 4 sources failed"):
        call_command("import_waveforms", str(tmp_path), str(good))
    err = capsys.readouterr().err
    assert all(f"FAILED {tmp_path / name}" in err for name in ("cut_inside_a_record.mseed", "junk.mseed"))
    assert _counts() == (1, 1)


def sds_archive_from_real_records(root: Path, shared_data: Path) -> list[str]:
    """Real ESEC event-1 MiniSEED records re-arranged into an SDS tree (YEAR/NET/STA/CHAN.D/day files).

    The samples are the recorded ones, untouched; only the file layout is new.
    """
    seed_ids = []
    for path in sorted((shared_data / "esec/waveforms/1").glob("AV.SPCG*.mseed")):
        for trace in obspy.read(path, format="MSEED"):
            stats = trace.stats
            day = stats.starttime
            folder = root / f"{day.year}" / stats.network / stats.station / f"{stats.channel}.D"
            folder.mkdir(parents=True, exist_ok=True)
            trace.write(str(folder / f"{trace.id}.D.{day.year}.{day.julday:03d}"), format="MSEED")
            seed_ids.append(trace.id)
    return seed_ids


def test_an_sds_root_is_verified_and_registered(tmp_path: Path, shared_data: Path) -> None:
    sds_archive_from_real_records(tmp_path / "sds", shared_data)
    report = sds_archive_register(root=tmp_path / "sds")
    assert (report.created, report.channel_folders) == (True, 3)
    source = WaveformSource.objects.get()
    assert (source.kind, source.path) == ("sds", str(tmp_path / "sds"))
    assert sds_archive_register(root=tmp_path / "sds").created is False
    assert WaveformSource.objects.count() == 1


def test_a_folder_that_is_not_an_sds_tree_is_refused(shared_data: Path) -> None:
    with pytest.raises(CommandError, match="1 of 1 sources failed"):
        call_command("import_waveforms", "--sds", str(shared_data / "esec/waveforms"))
    assert _counts() == (0, 0)


SE_USA_SAC = "se_usa_sac/EQ/20170216020223.CO.PAULI.HHZ.SAC"


def _absurd_header_files(tmp_path: Path, shared_data: Path) -> dict[str, Path]:
    """Crafted copies of real files, written here: the recorded samples under one impossible header value."""
    files = {}
    for name, field, value in [("b_1e30.sac", "b", 1e30), ("delta_1e30.sac", "delta", 1e30)]:
        sac = SACTrace.read(str(shared_data / SE_USA_SAC))
        setattr(sac, field, value)
        sac.write(str(tmp_path / name))
        files[name] = tmp_path / name
    sac = SACTrace.read(str(shared_data / SE_USA_SAC))
    assert sac.byteorder == "little"
    sac.write(str(tmp_path / "nzyear_99999.sac"))
    content = bytearray((tmp_path / "nzyear_99999.sac").read_bytes())
    content[280:284] = struct.pack("<i", 99999)  # nzyear, the first integer header (SACTrace refuses to set it)
    (tmp_path / "nzyear_99999.sac").write_bytes(bytes(content))
    files["nzyear_99999.sac"] = tmp_path / "nzyear_99999.sac"
    trace = obspy.read(str(shared_data / ESEC_SPBG_BHE), format="MSEED")[0]
    # The same samples spread until year 13179.
    trace.stats.sampling_rate = (trace.stats.npts - 1) / (obspy.UTCDateTime(2100, 1, 1) - trace.stats.starttime)
    trace.stats.sampling_rate /= (13179 - 2014) / (2100 - 2014)
    trace.write(str(tmp_path / "ends_in_13179.mseed"), format="MSEED")
    files["ends_in_13179.mseed"] = tmp_path / "ends_in_13179.mseed"
    return files


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("b_1e30.sac", r"trace CO.PAULI.00.HHZ: field 'starttime' is outside 1900..2099"),
        ("delta_1e30.sac", r"trace CO.PAULI.00.HHZ: field 'sampling_rate' is 1e-30 Hz, outside 0.001..10000 Hz"),
        ("nzyear_99999.sac", r"trace CO.PAULI.00.HHZ: SAC reference time is not a date \(nzyear=99999, nzjday=47"),
        ("ends_in_13179.mseed", r"trace AV.SPBG..BHE: field 'sampling_rate' is [0-9.e-]+ Hz, outside 0.001"),
    ],
)
def test_a_waveform_file_with_an_absurd_header_is_refused_naming_the_file_and_trace(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str], name: str, reason: str
) -> None:
    path = _absurd_header_files(tmp_path, shared_data)[name]
    with pytest.raises(CommandError, match="1 of 1 sources failed"):
        call_command("import_waveforms", str(path))
    assert re.search(f"FAILED {re.escape(str(path))}: {reason}", capsys.readouterr().err)
    assert _counts() == (0, 0)


def test_a_sampling_rate_of_a_thousandth_of_a_hertz_is_still_registered(tmp_path: Path, shared_data: Path) -> None:
    trace = obspy.read(str(shared_data / ESEC_SPBG_BHE), format="MSEED")[0]
    trace.stats.sampling_rate = 1e-3
    trace.write(str(tmp_path / "slow.mseed"), format="MSEED")
    call_command("import_waveforms", str(tmp_path / "slow.mseed"))
    assert WaveformTrace.objects.get().sampling_rate == pytest.approx(1e-3)


def test_a_gzipped_record_is_read_through_a_copy_under_the_data_dir_that_is_removed(
    tmp_path: Path, shared_data: Path, settings: Any
) -> None:
    settings.DATA_DIR = tmp_path / "data"
    path = tmp_path / "spbg.mseed.gz"
    path.write_bytes(gzip.compress((shared_data / ESEC_SPBG_BHE).read_bytes()))
    call_command("import_waveforms", str(path))
    trace = WaveformTrace.objects.get()
    assert trace.seed_id == "AV.SPBG..BHE"
    result = stream_for_window(start=trace.start_time, end=trace.end_time, seed_ids=["AV.SPBG..BHE"])
    assert result.problems == [] and result.stream[0].stats.npts == trace.npts
    assert list((tmp_path / "data" / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    ("limit", "reason"),
    [
        ("ratio", r"gzip content expands more than 100 times \([0-9,]+ compressed bytes became [0-9,]+; a gzip bomb"),
        ("size", r"gzip content is over the limit of 5,000 bytes decompressed"),
    ],
)
def test_the_import_command_refuses_gzip_past_the_limits_and_leaves_no_temporary_file(
    tmp_path: Path, shared_data: Path, settings: Any, capsys: pytest.CaptureFixture[str], limit: str, reason: str
) -> None:
    settings.DATA_DIR = tmp_path / "data"
    if limit == "size":
        settings.SEISTRIAGE_GZIP_MAX_BYTES = 5000
        path = tmp_path / "spbg.mseed.gz"
        path.write_bytes(gzip.compress((shared_data / ESEC_SPBG_BHE).read_bytes()))
    else:
        path = tmp_path / "zeros.mseed.gz"  # a gzip bomb: 64 MiB of zeros
        path.write_bytes(gzip.compress(bytes(64 << 20)))
    with pytest.raises(CommandError, match="1 of 1 sources failed"):
        call_command("import_waveforms", str(path))
    assert re.search(f"FAILED {re.escape(str(path))}: {reason}", capsys.readouterr().err)
    assert _counts() == (0, 0)
    assert list((tmp_path / "data" / "tmp").iterdir()) == []
