"""Display decimation: keep at most four samples per pixel column (M4: first, min, max, last).

Pure NumPy. A trace segment is ``values`` sampled evenly at ``sampling_rate`` Hz from ``start_s`` seconds
(any time origin); the plot shows ``[window_start_s, window_end_s)`` over ``width`` pixel columns. Sample
``i`` falls in column ``floor(u + i / s)`` where ``u`` is the segment start in columns and ``s`` the
samples per column (see ``sample_columns``). Because every column keeps its minimum and its maximum, the
drawn line touches every extreme of the raw data at that resolution, whatever the trace length (the
method of Jugel et al. 2014, "M4", and of ObsPy's own min/max plotting).
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IndexArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ColumnGrid:
    """How one evenly sampled segment maps onto pixel columns: sample ``i`` is in column ``floor(u + i / s)``."""

    u: float  # column coordinate of the first sample
    s: float  # samples per column
    width: int  # number of pixel columns in the window


def column_grid(
    *, start_s: float, sampling_rate: float, window_start_s: float, window_end_s: float, width: int
) -> ColumnGrid:
    """The column grid for a segment starting at ``start_s`` s sampled at ``sampling_rate`` Hz."""
    if width < 1 or window_end_s <= window_start_s or sampling_rate <= 0:
        raise ValueError("need width >= 1 px, window_end_s > window_start_s and sampling_rate > 0")
    column_s = (window_end_s - window_start_s) / width
    return ColumnGrid(u=(start_s - window_start_s) / column_s, s=column_s * sampling_rate, width=width)


def sample_columns(grid: ColumnGrid, indices: IndexArray) -> IndexArray:
    """The pixel column of each sample index (may fall outside ``[0, width)`` for samples outside the window)."""
    columns: IndexArray = np.floor(grid.u + indices / grid.s).astype(np.int64)
    return columns


def _column_starts(grid: ColumnGrid, columns: IndexArray, npts: int) -> IndexArray:
    """First sample index of each column, consistent with ``sample_columns`` despite float rounding."""
    starts: IndexArray = np.ceil((columns - grid.u) * grid.s).astype(np.int64)
    starts = np.clip(starts, 0, npts).astype(np.int64)
    # One-step fix-ups so the boundary agrees exactly with floor(u + i / s).
    too_early = (starts < npts) & (sample_columns(grid, np.minimum(starts, npts - 1)) < columns)
    starts[too_early] += 1
    too_late = (starts > 0) & (sample_columns(grid, np.maximum(starts - 1, 0)) >= columns)
    starts[too_late] -= 1
    return starts


def m4_indices(values: npt.NDArray[np.generic], grid: ColumnGrid) -> IndexArray:
    """Sorted indices of the samples to draw: first, min, max and last sample of every pixel column.

    ``values`` is 1-D (any real dtype, no NaN). Samples outside the window's columns are left out. At most
    ``4 * grid.width`` indices come back; when a column holds four samples or fewer they all come back.
    Cost: a few vectorised passes over the samples (no Python loop per column).
    """
    npts = int(values.shape[0])
    if npts == 0:
        return np.empty(0, dtype=np.int64)
    first_column = max(0, int(sample_columns(grid, np.array([0]))[0]))
    last_column = min(grid.width - 1, int(sample_columns(grid, np.array([npts - 1]))[0]))
    if last_column < first_column:
        return np.empty(0, dtype=np.int64)
    columns = np.arange(first_column, last_column + 2, dtype=np.int64)
    bounds = _column_starts(grid, columns, npts)
    lo, hi = int(bounds[0]), int(bounds[-1])
    if hi - lo <= 4 * (last_column - first_column + 1):
        return np.arange(lo, hi, dtype=np.int64)
    starts, lengths = bounds[:-1], np.diff(bounds)
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    argmin, argmax = _column_argextremes(values[lo:hi], starts - lo, lengths)
    picked = np.concatenate([starts, argmin + lo, argmax + lo, starts + lengths - 1])
    return np.unique(picked)


def _column_argextremes(
    values: npt.NDArray[np.generic], starts: IndexArray, lengths: IndexArray
) -> tuple[IndexArray, IndexArray]:
    """Index (into ``values``) of the minimum and maximum of each column.

    Evenly spaced samples on evenly spaced columns give column lengths k or k + 1. Removing the extra
    (last) sample of each long column lets the rest reshape to (columns, k) for one vectorised argmin and
    argmax; the removed samples are then compared with their column's extremes.
    """
    k = int(lengths.min())
    longer = np.flatnonzero(lengths > k)
    if int(lengths.max()) > k + 1:  # not evenly spaced: fall back to a padded gather (rare)
        return _column_argextremes_padded(values, starts, lengths)
    extra_positions = starts[longer] + k
    core = np.delete(values, extra_positions) if longer.size else values
    blocks = core.reshape(-1, k)
    # Row c holds the first k samples of column c, so a within-row index maps back by adding starts[c].
    block_min = blocks.argmin(axis=1)
    block_max = blocks.argmax(axis=1)
    argmin = block_min + starts
    argmax = block_max + starts
    if longer.size:
        extra = values[extra_positions]
        lower = extra < blocks[longer, block_min[longer]]
        higher = extra > blocks[longer, block_max[longer]]
        argmin[longer[lower]] = extra_positions[lower]
        argmax[longer[higher]] = extra_positions[higher]
    return argmin.astype(np.int64), argmax.astype(np.int64)


def _column_argextremes_padded(
    values: npt.NDArray[np.generic], starts: IndexArray, lengths: IndexArray
) -> tuple[IndexArray, IndexArray]:
    as_float = np.asarray(values, dtype=np.float64)
    index = starts[:, None] + np.arange(int(lengths.max()))
    valid = index < (starts + lengths)[:, None]
    gathered = as_float[np.minimum(index, as_float.size - 1)]
    argmin = np.where(valid, gathered, np.inf).argmin(axis=1) + starts
    argmax = np.where(valid, gathered, -np.inf).argmax(axis=1) + starts
    return argmin.astype(np.int64), argmax.astype(np.int64)
