"""Registering waveform files (trace headers only) and SDS archive roots; one transaction per file."""

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from fileimport.errors import ImportFileError
from waveforms.importing.reading import read_waveform_headers, utc_datetime
from waveforms.models import WaveformSource, WaveformTrace
from waveforms.summary_store import summary_file_current, waveform_summaries_delete, waveform_summaries_write

SDS_FILE_NAME = re.compile(
    r"^(?P<net>[^.]+)\.(?P<sta>[^.]+)\.(?P<loc>[^.]*)\.(?P<cha>[^.]+)\.(?P<type>[A-Z])\.\d{4}\.\d{3}$"
)
_CODE_LIMIT = 8


@dataclass
class WaveformImportReport:
    path: str
    format: str = ""
    status: str = "registered"  # registered, re-read (changed or forced), unchanged
    traces: int = 0

    def summary(self) -> str:
        return f"{self.path} [{self.format}]: {self.status}, {self.traces} traces"


@dataclass
class SdsRegisterReport:
    path: str
    created: bool
    channel_folders: int

    def summary(self) -> str:
        verb = "registered" if self.created else "already registered"
        return f"{self.path} [SDS]: {verb}, {self.channel_folders} channel folders"


def _modified_at(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)


def waveform_file_import(*, path: Path, format: str | None = None, force: bool = False) -> WaveformImportReport:
    """Register one waveform file's traces; an unchanged file (same size and mtime) is not re-read.

    Raises ImportFileError, with nothing written for the file, when it cannot be read.
    """
    path = Path(path).absolute()
    if not path.is_file():
        raise ImportFileError(path, "no such file" if not path.exists() else "not a regular file")
    size, modified_at = path.stat().st_size, _modified_at(path)
    existing = WaveformSource.objects.filter(path=str(path)).first()
    if existing is not None and existing.kind == WaveformSource.Kind.SDS:
        raise ImportFileError(path, "already registered as an SDS archive root")
    if existing is not None and not force and (existing.size_bytes, existing.modified_at) == (size, modified_at):
        if summary_file_current(source_id=existing.pk, path=str(path)) is None:
            # Registered before summaries existed (or the summary was removed): add it now.
            longest = max(existing.traces.values_list("npts", flat=True), default=0)
            _summaries_write(existing, path, existing.format, longest)
        return WaveformImportReport(str(path), existing.format, "unchanged", existing.traces.count())
    stream, format_name = read_waveform_headers(path, format)
    for trace in stream:
        stats = trace.stats
        for name in ("network", "station", "location", "channel"):
            if len(stats[name]) > _CODE_LIMIT:
                raise ImportFileError(path, f"trace {trace.id}: field '{name}' longer than {_CODE_LIMIT} characters")
    with transaction.atomic():
        source, created = WaveformSource.objects.update_or_create(
            path=str(path),
            defaults={
                "kind": WaveformSource.Kind.FILE,
                "format": format_name,
                "size_bytes": size,
                "modified_at": modified_at,
            },
        )
        source.traces.all().delete()
        WaveformTrace.objects.bulk_create(
            WaveformTrace(
                source=source,
                network=trace.stats.network,
                station=trace.stats.station,
                location=trace.stats.location,
                channel=trace.stats.channel,
                start_time=utc_datetime(trace.stats.starttime),
                end_time=utc_datetime(trace.stats.endtime),
                sampling_rate=float(trace.stats.sampling_rate),
                npts=int(trace.stats.npts),
            )
            for trace in stream
        )
        # Inside the transaction: a file whose samples cannot be decoded is refused with nothing registered.
        _summaries_write(source, path, format_name, max((t.stats.npts for t in stream), default=0))
    return WaveformImportReport(str(path), format_name, "registered" if created else "re-read", len(stream))


def _summaries_write(source: WaveformSource, path: Path, format_name: str, longest_npts: int) -> None:
    """Write the min/max summary of a long file (waveforms.summary_store) and drop the source's older ones."""
    try:
        written = waveform_summaries_write(
            source_id=source.pk, path=path, format_name=format_name, longest_npts=longest_npts
        )
    except Exception as error:  # ObsPy's readers raise many exception types for undecodable samples.
        raise ImportFileError(path, f"samples unreadable as {format_name}: {error}") from None
    transaction.on_commit(lambda: waveform_summaries_delete(source_id=source.pk, keep=written))


def sds_channel_folders(root: Path) -> list[Path]:
    """The YEAR/NET/STA/CHAN.TYPE folders under an SDS root that hold at least one SDS day file."""
    found = []
    for folder in sorted(root.glob("[0-9][0-9][0-9][0-9]/*/*/*.[A-Z]")):
        if folder.is_dir() and any(SDS_FILE_NAME.match(child.name) for child in folder.iterdir()):
            found.append(folder)
    return found


def sds_archive_register(*, root: Path) -> SdsRegisterReport:
    """Register an SDS archive root (YEAR/NET/STA/CHAN.D/NET.STA.LOC.CHAN.D.YEAR.DOY); its files are read on demand."""
    root = Path(root).absolute()
    if not root.is_dir():
        raise ImportFileError(root, "no such folder" if not root.exists() else "not a folder")
    folders = sds_channel_folders(root)
    if not folders:
        raise ImportFileError(
            root, "does not look like an SDS archive: no YEAR/NET/STA/CHAN.D/NET.STA.LOC.CHAN.D.YEAR.DOY files"
        )
    with transaction.atomic():
        source, created = WaveformSource.objects.update_or_create(
            path=str(root),
            defaults={"kind": WaveformSource.Kind.SDS, "format": "MSEED", "modified_at": _modified_at(root)},
        )
        source.traces.all().delete()
    return SdsRegisterReport(str(root), created, len(folders))
