"""Min/max summaries of long traces, and the M4 display decimation drawn from them (pure NumPy/ObsPy).

A summary cuts one contiguous trace into bins of ``SUMMARY_BIN`` consecutive samples (the last bin may be
shorter) and keeps, per bin: the first and last sample, the minimum and maximum with their offsets in the
bin, and the sum (for the mean). 100 samples is 1 s at 100 Hz, 2 s at 50 Hz, 0.5 s at 200 Hz: about
1/4 of the MiniSEED file's size per variant, a few milliseconds to load for a day, and fine enough that
any plot whose pixel column spans ``MIN_BINS_PER_COLUMN`` (4) bins or more, i.e. at least 400 samples per
column (a window of 80 min or more at 100 Hz on 1200 px), can be drawn without reading a raw sample.

Exact guarantee of ``m4_from_bins``: it returns exactly what M4 (``waveforms.decimation.m4_indices``)
returns on the raw samples when every pixel column's left edge is moved forward to the next bin boundary
(each bin belongs to the column of its first sample). Each such "snapped" column differs from its pixel
column by less than one bin (< 1/4 of a column): every snapped column keeps its exact first sample, last
sample, minimum and maximum (first occurrence on ties, like ``numpy.argmin``), at their true sample
times. So every raw sample lies in a snapped column whose drawn line reaches at least as low and as high
as it: no peak disappears, and the global extremes of the window are drawn exactly. Samples of the bins
straddling the window's start are left out and those of the bin straddling its end kept (< 1 bin each).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from obspy import UTCDateTime

from waveforms.decimation import ColumnGrid, IndexArray, sample_columns

SUMMARY_BIN = 100  # samples per bin
MIN_BINS_PER_COLUMN = 4  # a pixel column must span this many bins to be drawn from the summary
MIN_SUMMARY_NPTS = 100_000  # shorter traces (< 17 min at 100 Hz) are read raw in a few milliseconds

FloatArray = npt.NDArray[np.float64]


def summary_dtype(value_dtype: npt.DTypeLike) -> np.dtype[np.void]:
    """One bin: first, min, max, last (in ``value_dtype``), offsets of min and max in the bin, float64 sum."""
    value = np.dtype(value_dtype)
    return np.dtype(
        [
            ("first", value),
            ("min", value),
            ("max", value),
            ("last", value),
            ("argmin", np.uint16),
            ("argmax", np.uint16),
            ("sum", np.float64),
        ]
    )


def bins_summarise(values: npt.NDArray[np.generic], *, bin_size: int = SUMMARY_BIN) -> npt.NDArray[np.void]:
    """The per-bin summary of a 1-D, gap-free, NaN-free sample array: ``ceil(len / bin_size)`` records.

    Integer samples are kept as int64-compatible ``values.dtype``; float32 stays float32, anything else
    becomes float64. Cost: one reshape and a few vectorised reductions.
    """
    if values.ndim != 1 or values.size == 0 or not 1 <= bin_size <= np.iinfo(np.uint16).max:
        raise ValueError("need a non-empty 1-D array and 1 <= bin_size <= 65535")
    if np.ma.isMaskedArray(values) and np.ma.getmaskarray(values).any():
        raise ValueError("masked samples (a gap) cannot be summarised: split the trace first")
    plain = np.asarray(np.ma.getdata(values))
    if plain.dtype.kind not in "iuf" or plain.dtype == np.float16:
        plain = plain.astype(np.float64)
    full, rest = divmod(plain.size, bin_size)
    summary = np.empty(full + (1 if rest else 0), dtype=summary_dtype(plain.dtype))
    blocks = [(plain[: full * bin_size].reshape(full, bin_size), slice(0, full))] if full else []
    if rest:
        blocks.append((plain[full * bin_size :].reshape(1, rest), slice(full, full + 1)))
    for block, rows in blocks:
        argmin, argmax = block.argmin(axis=1), block.argmax(axis=1)
        taken = np.arange(block.shape[0])
        summary["first"][rows] = block[:, 0]
        summary["last"][rows] = block[:, -1]
        summary["min"][rows] = block[taken, argmin]
        summary["max"][rows] = block[taken, argmax]
        summary["argmin"][rows] = argmin
        summary["argmax"][rows] = argmax
        summary["sum"][rows] = block.sum(axis=1, dtype=np.float64)
    return summary


@dataclass(frozen=True)
class SummarySegment:
    """A contiguous run of samples described by bins: bin ``j`` starts at sample ``bin_starts[j]``.

    ``start`` is the time of sample 0, ``sampling_rate`` in Hz, ``npts`` the run's sample count.
    """

    seed_id: str
    start: UTCDateTime
    sampling_rate: float
    npts: int
    bins: npt.NDArray[np.void]
    bin_starts: IndexArray
    bin_size: int  # the longest bin, samples

    @property
    def end(self) -> UTCDateTime:
        """Time of the last sample."""
        return self.start + (self.npts - 1) / self.sampling_rate


def segment_from_bins(
    *, seed_id: str, start: UTCDateTime, sampling_rate: float, npts: int, bins: npt.NDArray[np.void], bin_size: int
) -> SummarySegment:
    """A segment whose bins are the regular ``bin_size`` bins written by ``bins_summarise``."""
    if bins.size != -(-npts // bin_size):
        raise ValueError(f"{seed_id}: {bins.size} bins do not describe {npts} samples in bins of {bin_size}")
    starts: IndexArray = np.arange(bins.size, dtype=np.int64) * bin_size
    return SummarySegment(seed_id, start, sampling_rate, npts, bins, starts, bin_size)


def segments_join(segments: Sequence[SummarySegment]) -> list[SummarySegment] | None:
    """Contiguous runs of one channel's segments (sorted by start), or None when two overlap.

    Two segments are contiguous when the second starts one sample after the first ends, rounded to the
    nearest sample (ObsPy's rule in ``Trace.__add__``); the run then takes the first segment's time base,
    as ``Stream.merge`` does. Mixed sampling rates give None too (the raw path decides what to keep).
    """
    ordered = sorted(segments, key=lambda s: s.start)
    if len({s.sampling_rate for s in ordered}) > 1:
        return None
    runs: list[SummarySegment] = []
    for segment in ordered:
        if runs:
            last = runs[-1]
            step = round((segment.start - last.end) * last.sampling_rate)
            if step < 1:
                return None
            if step == 1:
                values_dtype = np.result_type(last.bins.dtype["min"], segment.bins.dtype["min"])
                dtype = summary_dtype(values_dtype)
                runs[-1] = SummarySegment(
                    last.seed_id,
                    last.start,
                    last.sampling_rate,
                    last.npts + segment.npts,
                    np.concatenate([last.bins.astype(dtype), segment.bins.astype(dtype)]),
                    np.concatenate([last.bin_starts, segment.bin_starts + last.npts]),
                    max(last.bin_size, segment.bin_size),
                )
                continue
        runs.append(segment)
    return runs


@dataclass(frozen=True)
class BinDecimation:
    indices: IndexArray  # sorted sample indices into the segment (at most 4 per column)
    values: FloatArray  # the samples at those indices
    total: float  # sum of all samples in the kept bins
    count: int  # number of samples in the kept bins


def m4_from_bins(segment: SummarySegment, grid: ColumnGrid) -> BinDecimation:
    """First, min, max and last sample of every snapped column (see the module docstring), from bins only.

    ``grid`` is the segment's ``waveforms.decimation.column_grid``. Bins whose first sample falls outside
    the window's columns are left out. Cost: O(number of bins), no raw sample read.
    """
    bins, starts = segment.bins, segment.bin_starts
    columns = sample_columns(grid, starts)
    inside = np.flatnonzero((columns >= 0) & (columns < grid.width))
    if inside.size == 0:
        return BinDecimation(np.empty(0, np.int64), np.empty(0), 0.0, 0)
    lo, hi = int(inside[0]), int(inside[-1]) + 1  # columns grow with the bin index: one slice
    bins, starts, columns = bins[lo:hi], starts[lo:hi], columns[lo:hi]
    ends = np.append(segment.bin_starts[lo + 1 :], segment.npts)[: hi - lo]  # one past each bin's last sample
    group = np.flatnonzero(np.diff(columns, prepend=columns[0] - 1))  # first bin of each column
    last_bin = np.append(group[1:], bins.size) - 1
    order = np.arange(bins.size)
    mins, maxs = bins["min"], bins["max"]
    group_min = np.minimum.reduceat(mins, group)
    group_max = np.maximum.reduceat(maxs, group)
    lengths = np.diff(np.append(group, bins.size))
    # First bin of each column reaching the column's extreme: ties resolve to the earliest sample.
    min_bin = np.minimum.reduceat(np.where(mins == np.repeat(group_min, lengths), order, bins.size), group)
    max_bin = np.minimum.reduceat(np.where(maxs == np.repeat(group_max, lengths), order, bins.size), group)
    indices = np.concatenate(
        [
            starts[group],
            starts[min_bin] + bins["argmin"][min_bin],
            starts[max_bin] + bins["argmax"][max_bin],
            ends[last_bin] - 1,
        ]
    ).astype(np.int64)
    values = np.concatenate([bins["first"][group], group_min, group_max, bins["last"][last_bin]]).astype(np.float64)
    unique, first_position = np.unique(indices, return_index=True)
    count = int(ends[-1] - starts[0])
    return BinDecimation(unique, values[first_position], float(bins["sum"].sum()), count)
