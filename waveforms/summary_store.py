"""Summary sidecar files of registered waveform files, under ``settings.DATA_DIR/summaries/`` (never beside
the user's data).

One ``.npz`` per waveform source, named ``<source id>-<path digest>-<mtime ns>-<size>.npz``: a file edited
on disk after its import no longer matches its summary, which is then ignored (the raw samples are read).
Written at registration for files with a trace of at least ``MIN_SUMMARY_NPTS`` samples (every trace of
such a channel is summarised), replaced when the source is re-read, deleted with the source. Variants:
``raw`` and each filter preset of ``waveforms.processing.FILTER_PRESETS``, the preset applied to the whole
contiguous trace (demean, detrend, a Hann taper of ``PRESET_TAPER_S`` at each end, zero-phase Butterworth),
stored as float32. A preset above a trace's Nyquist frequency is left out for that trace.
"""

import hashlib
import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import obspy
from django.conf import settings

from waveforms.importing.reading import plain_waveform_file
from waveforms.processing import FILTER_PRESETS, FilterError, filter_spec_parse, stream_filter
from waveforms.summaries import MIN_SUMMARY_NPTS, SUMMARY_BIN, bins_summarise

RAW = "raw"
PRESET_TAPER_S = 60.0
FORMAT_VERSION = 1


def summary_folder() -> Path:
    return Path(settings.DATA_DIR) / "summaries"


def summary_file(*, source_id: int, path: str, size: int, mtime_ns: int) -> Path:
    """Where the summary of source ``source_id`` lives while the file keeps this size and mtime."""
    digest = hashlib.sha256(path.encode()).hexdigest()[:12]
    return summary_folder() / f"{source_id}-{digest}-{mtime_ns}-{size}.npz"


def summary_file_current(*, source_id: int, path: str) -> Path | None:
    """The summary matching the file as it is on disk now, or None (no summary, or the file changed)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    candidate = summary_file(source_id=source_id, path=path, size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    return candidate if candidate.is_file() else None


def stream_summaries(stream: obspy.Stream) -> tuple[dict[str, Any], dict[str, npt.NDArray[np.void]]]:
    """The index and the bin arrays of every trace of the channels having a trace of ``MIN_SUMMARY_NPTS``.

    Pure (no Django). Traces must be gap-free (as ``obspy.read`` returns them). Keys: ``s<i>_<variant>``.
    """
    long_ids = {trace.id for trace in stream if trace.stats.npts >= MIN_SUMMARY_NPTS}
    segments: list[dict[str, Any]] = []
    arrays: dict[str, npt.NDArray[np.void]] = {}
    for trace in stream:
        if trace.id not in long_ids or trace.stats.npts == 0:
            continue
        number = len(segments)
        arrays[f"s{number}_{RAW}"] = bins_summarise(trace.data)
        variants = [RAW]
        duration = trace.stats.npts / trace.stats.sampling_rate
        for preset in FILTER_PRESETS:
            spec = filter_spec_parse(preset=preset)
            assert spec is not None
            try:
                filtered = stream_filter(
                    stream=obspy.Stream([trace]), spec=spec, taper_fraction=min(0.05, PRESET_TAPER_S / duration)
                )
            except FilterError:
                continue
            arrays[f"s{number}_{preset}"] = bins_summarise(filtered[0].data.astype(np.float32))
            variants.append(preset)
        segments.append(
            {
                "seed_id": trace.id,
                "start_ns": trace.stats.starttime.ns,
                "sampling_rate": float(trace.stats.sampling_rate),
                "npts": int(trace.stats.npts),
                "variants": variants,
            }
        )
    index = {"version": FORMAT_VERSION, "bin": SUMMARY_BIN, "channels": sorted(long_ids), "segments": segments}
    return index, arrays


def waveform_summaries_write(*, source_id: int, path: Path, format_name: str, longest_npts: int) -> Path | None:
    """Write the summary of the registered file ``path``; None when no trace is long enough to need one.

    ``longest_npts`` (from the headers already read) spares reading the samples of short files. Raises
    whatever ObsPy raises when the samples cannot be decoded; the caller names the file.
    """
    if longest_npts < MIN_SUMMARY_NPTS:
        return None
    if not format_name:  # never ObsPy's auto-detection, which would also unpickle a pickled stream
        raise ValueError(f"{path}: no format name to read it with")
    stat = path.stat()
    with warnings.catch_warnings(), plain_waveform_file(path) as plain:
        warnings.simplefilter("ignore")
        stream = obspy.read(str(plain), format=format_name)
    index, arrays = stream_summaries(stream.split())
    if not index["segments"]:
        return None
    target = summary_file(source_id=source_id, path=str(path), size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, index=np.array(json.dumps(index)), **arrays)  # type: ignore[arg-type]
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def waveform_summaries_delete(*, source_id: int, keep: Path | None = None) -> None:
    """Remove the summaries of source ``source_id`` (all but ``keep``)."""
    folder = summary_folder()
    if not folder.is_dir():
        return
    for candidate in folder.glob(f"{source_id}-*.npz"):
        if keep is None or candidate != keep:
            candidate.unlink(missing_ok=True)


@dataclass
class SummaryFile:
    """An opened summary: its index, and the bins of one segment and variant on demand."""

    path: Path
    index: dict[str, Any]
    archive: Any  # numpy NpzFile (members load lazily)

    def bins(self, number: int, variant: str) -> npt.NDArray[np.void]:
        bins: npt.NDArray[np.void] = self.archive[f"s{number}_{variant}"]
        return bins


def summary_open(path: Path) -> SummaryFile | None:
    """The summary at ``path``, or None when it is unreadable or of another format version."""
    try:
        archive = np.load(path, allow_pickle=False)
        index = json.loads(str(archive["index"]))
    except (OSError, ValueError, KeyError):
        return None
    if index.get("version") != FORMAT_VERSION:
        return None
    return SummaryFile(path, index, archive)
