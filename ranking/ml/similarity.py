"""Waveform similarity between events at shared channels (pure ObsPy/NumPy, no Django).

Repeated blasts from one mine or quarry produce nearly the same seismogram at a station, so the highest
normalised cross-correlation with already reviewed nearby events, and the decision of the best match,
recognise them. Each channel's window runs from ``BEFORE_P_S`` before to ``AFTER_P_S`` after the P
arrival (picked, TauP-predicted, or estimated with ``onset_estimate``), band-passed to
``FREQMIN_HZ``-``FREQMAX_HZ`` and resampled to ``RATE_HZ``; two windows are compared with ObsPy's
``correlate`` (normalised, lags up to ``MAX_SHIFT_S``) and ``xcorr_max`` (the largest positive value:
a repeated source keeps its polarity). An event pair's similarity is the mean over its shared
channels, so one noisy channel cannot make two events look alike.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import obspy
from obspy.signal.cross_correlation import correlate, xcorr_max

from waveforms.measurements import sta_lta_classic

BEFORE_P_S = 3.0
AFTER_P_S = 12.0
MAX_SHIFT_S = 2.0
FREQMIN_HZ = 1.0
FREQMAX_HZ = 10.0
RATE_HZ = 40.0
ONSET_STA_S = 1.0
ONSET_LTA_S = 10.0


def _filtered(trace: obspy.Trace) -> obspy.Trace | None:
    rate = float(trace.stats.sampling_rate)
    if rate <= 2.2 * FREQMIN_HZ or trace.stats.npts < 2:
        return None
    copy = trace.copy()
    if isinstance(copy.data, np.ma.MaskedArray):
        copy.data = copy.data.filled(0.0)
    copy.data = copy.data.astype(np.float64)
    copy.detrend("demean")
    copy.taper(0.05)
    copy.filter("bandpass", freqmin=FREQMIN_HZ, freqmax=min(FREQMAX_HZ, 0.45 * rate), zerophase=True)
    return copy


def onset_estimate(trace: obspy.Trace) -> obspy.UTCDateTime | None:
    """The P time of a trace without a pick or a prediction: the maximum of its 1 s / 10 s STA/LTA.

    ``trace`` is one component at any sampling rate; the STA/LTA runs on the 1-10 Hz band. Returns
    None when the trace is shorter than the LTA plus one second.
    """
    filtered = _filtered(trace)
    rate = float(trace.stats.sampling_rate)
    lta = round(ONSET_LTA_S * rate)
    if filtered is None or filtered.stats.npts <= lta + rate:
        return None
    ratio = sta_lta_classic(filtered.data, rate=rate, sta_s=ONSET_STA_S, lta_s=ONSET_LTA_S)
    if ratio is None:
        return None
    ratio[:lta] = 0.0  # the LTA is still filling there
    return trace.stats.starttime + float(np.argmax(ratio)) / rate


def similarity_window(trace: obspy.Trace, p_time: obspy.UTCDateTime) -> obspy.Trace | None:
    """The trace around P as compared: band-passed, at RATE_HZ, from P - BEFORE_P_S to P + AFTER_P_S.

    None when the window is not entirely inside the trace.
    """
    if p_time - BEFORE_P_S < trace.stats.starttime or p_time + AFTER_P_S > trace.stats.endtime:
        return None
    filtered = _filtered(trace)
    if filtered is None:
        return None
    if filtered.stats.sampling_rate != RATE_HZ:
        filtered.resample(RATE_HZ)
    filtered.trim(p_time - BEFORE_P_S, p_time + AFTER_P_S)
    return filtered if filtered.stats.npts >= round((BEFORE_P_S + AFTER_P_S) * RATE_HZ) - 1 else None


def channel_similarity(a: obspy.Trace, b: obspy.Trace) -> float | None:
    """Highest normalised cross-correlation (-1..1) of two similarity windows within +-MAX_SHIFT_S."""
    length = min(a.stats.npts, b.stats.npts)
    first, second = np.asarray(a.data[:length], np.float64), np.asarray(b.data[:length], np.float64)
    if length < 2 or not np.ptp(first) or not np.ptp(second):
        return None
    correlation = correlate(first, second, round(MAX_SHIFT_S * RATE_HZ))
    _shift, value = xcorr_max(correlation, abs_max=False)
    return float(value)


@dataclass(frozen=True)
class SimilarityMatch:
    """The most similar reviewed event: its key, its decision class index, mean correlation, channel count."""

    key: int
    class_index: int
    correlation: float
    channels: int


def event_similarity(a: Mapping[str, obspy.Trace], b: Mapping[str, obspy.Trace]) -> tuple[float, int] | None:
    """Mean channel similarity over the SEED ids both events have windows for, and how many; None if none."""
    values = [v for seed_id in sorted(set(a) & set(b)) if (v := channel_similarity(a[seed_id], b[seed_id])) is not None]
    return (float(np.mean(values)), len(values)) if values else None


def best_match(
    windows: Mapping[str, obspy.Trace], neighbours: Sequence[tuple[int, int, Mapping[str, obspy.Trace]]]
) -> SimilarityMatch | None:
    """The neighbour (key, class index, windows) most similar to ``windows``; None when none shares a channel."""
    best: SimilarityMatch | None = None
    for key, class_index, other in neighbours:
        result = event_similarity(windows, other)
        if result is not None and (best is None or result[0] > best.correlation):
            best = SimilarityMatch(key, class_index, result[0], result[1])
    return best
