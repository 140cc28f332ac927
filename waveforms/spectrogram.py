"""Spectrogram of one trace for display (pure ObsPy/NumPy/SciPy, no Django)."""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import obspy
from scipy import signal

MAX_COLUMNS = 600
SEGMENT_S = 2.0
DB_FLOOR = -400.0


@dataclass(frozen=True)
class Spectrogram:
    """``power_db[f, t]``: 10 log10 of the power spectral density (trace units² / Hz) at ``freqs_hz[f]`` and
    ``times_s[t]`` (segment centres, seconds after the trace start)."""

    times_s: npt.NDArray[np.float64]
    freqs_hz: npt.NDArray[np.float64]
    power_db: npt.NDArray[np.float64]


def trace_spectrogram(
    *, trace: obspy.Trace, segment_s: float = SEGMENT_S, max_columns: int = MAX_COLUMNS
) -> Spectrogram:
    """Hann-windowed spectrogram with ``segment_s`` s segments (50 % overlap), at most ``max_columns`` columns:
    long traces get a longer hop instead of more columns. Gaps (masked samples) are filled with the mean."""
    rate = float(trace.stats.sampling_rate)
    data = trace.data
    if isinstance(data, np.ma.MaskedArray):
        data = data.filled(np.ma.mean(data) if data.count() else 0.0)
    values = np.asarray(data, dtype=np.float64)
    segment = max(8, min(values.size, round(segment_s * rate)))
    if values.size < segment:
        raise ValueError(f"{trace.id}: {values.size} samples are too few for a spectrogram")
    hop = max(segment // 2, int(np.ceil((values.size - segment) / max(1, max_columns - 1))))
    overlap = max(0, segment - hop)  # a hop longer than a segment: no overlap, columns thinned below
    freqs, times, power = signal.spectrogram(
        values - values.mean(), fs=rate, window="hann", nperseg=segment, noverlap=overlap, detrend="linear"
    )
    if times.size > max_columns:
        keep = np.linspace(0, times.size - 1, max_columns).round().astype(int)
        times, power = times[keep], power[:, keep]
    power_db = 10 * np.log10(np.maximum(power, 10 ** (DB_FLOOR / 10)))
    return Spectrogram(np.asarray(times, np.float64), np.asarray(freqs, np.float64), np.asarray(power_db, np.float64))
