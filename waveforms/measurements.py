"""Per-trace measurements that the ranker and the analyst UI read (pure ObsPy/NumPy, no Django).

Every measure works on a demeaned float64 copy of the trace, at the trace's own sampling rate, in the
trace's own units (counts for raw data, m/s after response removal). Windows are relative to the first
arrival time ``p_time`` (picked or predicted):

- noise window: ``NOISE_S`` seconds ending ``GAP_S`` seconds before P;
- signal window: from ``GAP_S`` seconds before P to ``SIGNAL_S`` seconds after P;
- P window: from P to ``PHASE_WINDOW_S`` s after P or to S, whichever is first; S window: ``PHASE_WINDOW_S``
  s from S (each at least ``MIN_PHASE_WINDOW_S`` s).

Without a P time the measures that need those windows stay ``None`` and the spectral ones use the whole
trace. Any measure whose window does not fit inside the trace (or holds too few samples) stays ``None``.
"""

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import obspy
from obspy.signal.trigger import classic_sta_lta, recursive_sta_lta
from scipy import signal as scipy_signal
from scipy import stats

NOISE_S = 10.0
GAP_S = 0.5
SIGNAL_S = 10.0
STA_S = 1.0
LTA_S = 10.0
ENVELOPE_SMOOTH_S = 1.0
DURATION_NOISE_FACTOR = 2.0
PHASE_WINDOW_S = 5.0
MIN_WINDOW_S = 1.0
MIN_PHASE_WINDOW_S = 0.25
SPECTRUM_SEGMENT_S = 4.0
ENERGY_BANDS_HZ: dict[str, tuple[float, float]] = {"0.5-2": (0.5, 2.0), "2-8": (2.0, 8.0), "8-20": (8.0, 20.0)}
LOW_BAND = "0.5-2"
HIGH_BAND = "8-20"

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TraceMeasurements:
    """Measurements of one trace; ``None`` where the trace or the arrivals do not allow the measure."""

    snr: float | None  # RMS(signal window) / RMS(noise window), dimensionless
    dominant_frequency_hz: float | None  # peak of the Welch spectrum of the signal window (whole trace without P), Hz
    signal_duration_s: float | None  # s from P until the smoothed envelope last exceeds 2 x the noise level
    peak_amplitude: float | None  # max |x| over the whole trace, trace units (counts, or m/s after response removal)
    sta_lta_max: float | None  # max of the classic STA/LTA (1 s / 10 s) over the whole trace, dimensionless
    band_energy: dict[str, float]  # fraction of spectral energy per band (keys in Hz), empty when unmeasurable
    high_low_ratio: float | None  # log10(energy 8-20 Hz / energy 0.5-2 Hz), same window as band_energy
    ps_amplitude_ratio: float | None  # peak |x| in the P window / peak |x| in the S window
    kurtosis: float | None  # excess (Fisher) kurtosis of noise + signal windows (whole trace without P)
    skipped: str | None = None  # why a measure was skipped rather than attempted (e.g. a rate too low for STA/LTA)


def sta_lta_window_samples(rate: float, *, sta_s: float, lta_s: float) -> tuple[int, int] | None:
    """The (STA, LTA) window lengths in samples at ``rate`` Hz, or None when the STA is shorter than one
    sample or the LTA is not longer than the STA (``rate`` below about 1 / ``sta_s``).

    ObsPy's C STA/LTA corrupts the heap and aborts the process when a window rounds to 0 samples (any rate
    below 0.05 Hz for a 10 s LTA): never call into it without this check.

    >>> sta_lta_window_samples(100.0, sta_s=1.0, lta_s=10.0), sta_lta_window_samples(0.02, sta_s=1.0, lta_s=10.0)
    ((100, 1000), None)
    """
    if not math.isfinite(rate) or rate <= 0:
        return None
    sta, lta = round(sta_s * rate), round(lta_s * rate)
    return (sta, lta) if 1 <= sta < lta else None


def sta_lta_classic(data: FloatArray, *, rate: float, sta_s: float, lta_s: float) -> FloatArray | None:
    """ObsPy's classic STA/LTA of ``data`` (sampled at ``rate`` Hz) with ``sta_s`` / ``lta_s`` windows (s), or
    None when the windows are shorter than one sample or longer than the data (see sta_lta_window_samples)."""
    windows = sta_lta_window_samples(rate, sta_s=sta_s, lta_s=lta_s)
    if windows is None or data.size <= windows[1]:
        return None
    return np.asarray(classic_sta_lta(np.ascontiguousarray(data, dtype=np.float64), *windows), dtype=np.float64)


def sta_lta_recursive(data: FloatArray, *, rate: float, sta_s: float, lta_s: float) -> FloatArray | None:
    """ObsPy's recursive STA/LTA of ``data`` (``rate`` Hz, windows in s), or None as for sta_lta_classic."""
    windows = sta_lta_window_samples(rate, sta_s=sta_s, lta_s=lta_s)
    if windows is None or data.size <= windows[1]:
        return None
    return np.asarray(recursive_sta_lta(np.ascontiguousarray(data, dtype=np.float64), *windows), dtype=np.float64)


def trace_samples(trace: obspy.Trace) -> FloatArray:
    """The trace's samples as float64 with the mean removed; gaps (masked samples) filled with the mean."""
    data = trace.data
    if isinstance(data, np.ma.MaskedArray):
        data = data.filled(np.ma.mean(data) if data.count() else 0.0)
    values = np.asarray(data, dtype=np.float64)
    return values - values.mean() if values.size else values


def aic_onset(values: FloatArray) -> int:
    """Index of the minimum of Maeda's AIC, k log var(x[:k]) + (n - k - 1) log var(x[k:]): the sample where a
    quiet segment turns into a louder one (the first 5 % and last 5 % of the samples are not considered)."""
    n = values.size
    edge = max(2, n // 20)
    k = np.arange(edge, n - edge)
    energy = np.cumsum(np.square(values - values.mean()))
    before = energy[k - 1] / k
    after = (energy[-1] - energy[k - 1]) / (n - k)
    aic = k * np.log(before + 1e-30) + (n - k - 1) * np.log(after + 1e-30)
    return int(k[int(np.argmin(aic))])


def _slice(
    data: FloatArray,
    trace: obspy.Trace,
    start: obspy.UTCDateTime,
    end: obspy.UTCDateTime,
    min_s: float = MIN_WINDOW_S,
) -> FloatArray | None:
    """Samples between two absolute times, or None when the window is not fully inside the trace or too short."""
    rate = float(trace.stats.sampling_rate)
    first = round((start - trace.stats.starttime) * rate)
    last = round((end - trace.stats.starttime) * rate)
    if first < 0 or last > data.size or last - first < max(1.0, min_s * rate):
        return None
    return data[first:last]


def _rms(values: FloatArray) -> float:
    return float(np.sqrt(np.mean(values**2)))


def _spectrum(values: FloatArray, rate: float) -> tuple[FloatArray, FloatArray]:
    segment = int(min(values.size, max(16, SPECTRUM_SEGMENT_S * rate)))
    freqs, power = scipy_signal.welch(values, fs=rate, nperseg=segment, detrend="linear")
    return np.asarray(freqs, dtype=np.float64), np.asarray(power, dtype=np.float64)


def _band_energy(freqs: FloatArray, power: FloatArray) -> dict[str, float]:
    total = float(power[freqs > 0].sum())
    if total <= 0:
        return {}
    return {
        name: float(power[(freqs >= low) & (freqs < high)].sum()) / total
        for name, (low, high) in ENERGY_BANDS_HZ.items()
    }


def _signal_duration(
    data: FloatArray, trace: obspy.Trace, p_time: obspy.UTCDateTime, noise: FloatArray
) -> float | None:
    rate = float(trace.stats.sampling_rate)
    width = max(1, round(ENVELOPE_SMOOTH_S * rate))
    envelope = np.abs(scipy_signal.hilbert(data))
    smooth = np.convolve(envelope, np.ones(width) / width, mode="same")
    p_index = round((p_time - trace.stats.starttime) * rate)
    noise_end = round((p_time - GAP_S - trace.stats.starttime) * rate)
    noise_level = float(np.median(smooth[max(0, noise_end - noise.size) : noise_end]))
    if noise_level <= 0:
        return None
    above = np.flatnonzero(smooth[p_index:] > DURATION_NOISE_FACTOR * noise_level)
    return float(above[-1] + 1) / rate if above.size else 0.0


def _phase_peak(data: FloatArray, trace: obspy.Trace, start: obspy.UTCDateTime, end: obspy.UTCDateTime) -> float | None:
    window = _slice(data, trace, start, end, MIN_PHASE_WINDOW_S)
    return float(np.abs(window).max()) if window is not None else None


def _ps_ratio(
    data: FloatArray, trace: obspy.Trace, p_time: obspy.UTCDateTime, s_time: obspy.UTCDateTime
) -> float | None:
    if s_time - p_time < MIN_PHASE_WINDOW_S:
        return None
    p_peak = _phase_peak(data, trace, p_time, min(p_time + PHASE_WINDOW_S, s_time))
    s_peak = _phase_peak(data, trace, s_time, s_time + PHASE_WINDOW_S)
    if p_peak is None or s_peak is None or s_peak == 0:
        return None
    return p_peak / s_peak


def measure_trace(
    trace: obspy.Trace, *, p_time: obspy.UTCDateTime | None, s_time: obspy.UTCDateTime | None = None
) -> TraceMeasurements:
    """Measure one trace around its first arrival.

    ``trace`` is any single-component trace at any sampling rate (processed or raw, gaps as masked
    samples); ``p_time`` and ``s_time`` are absolute UTC arrival times (picked or predicted), or None.

    >>> from obspy import read
    >>> st = read()  # ObsPy's bundled 100 Hz example event
    >>> measure_trace(st[0], p_time=None).peak_amplitude is not None
    True
    """
    rate = float(trace.stats.sampling_rate)
    data = trace_samples(trace)
    if data.size < MIN_WINDOW_S * rate or rate <= 0:
        return TraceMeasurements(None, None, None, None, None, {}, None, None, None)

    peak = float(np.abs(data).max())
    lta = round(LTA_S * rate)
    ratio = sta_lta_classic(data, rate=rate, sta_s=STA_S, lta_s=LTA_S) if data.size > lta + rate else None
    sta_lta = float(ratio[lta:].max()) if ratio is not None else None
    skipped = None
    if sta_lta_window_samples(rate, sta_s=STA_S, lta_s=LTA_S) is None:
        skipped = f"STA/LTA skipped: at {rate:g} Hz its {STA_S:g} s / {LTA_S:g} s windows are under one sample"

    noise = signal = None
    if p_time is not None:
        noise = _slice(data, trace, p_time - GAP_S - NOISE_S, p_time - GAP_S)
        signal = _slice(data, trace, p_time - GAP_S, p_time + SIGNAL_S)
    snr = duration = None
    if noise is not None and signal is not None and _rms(noise) > 0:
        snr = _rms(signal) / _rms(noise)
        assert p_time is not None
        duration = _signal_duration(data, trace, p_time, noise)

    spectral = signal if signal is not None else (data if p_time is None else None)
    dominant = None
    bands: dict[str, float] = {}
    high_low = None
    if spectral is not None:
        freqs, power = _spectrum(spectral, rate)
        positive = freqs > 0
        if power[positive].max(initial=0.0) > 0:
            dominant = float(freqs[positive][np.argmax(power[positive])])
        bands = _band_energy(freqs, power)
        if bands.get(HIGH_BAND, 0.0) > 0 and bands.get(LOW_BAND, 0.0) > 0:
            high_low = float(np.log10(bands[HIGH_BAND] / bands[LOW_BAND]))

    kurtosis_window = data if p_time is None else _slice(data, trace, p_time - GAP_S - NOISE_S, p_time + SIGNAL_S)
    kurtosis = (
        float(stats.kurtosis(kurtosis_window)) if kurtosis_window is not None and np.ptp(kurtosis_window) else None
    )

    ps_ratio = _ps_ratio(data, trace, p_time, s_time) if p_time is not None and s_time is not None else None
    return TraceMeasurements(
        snr=snr,
        dominant_frequency_hz=dominant,
        signal_duration_s=duration,
        peak_amplitude=peak,
        sta_lta_max=sta_lta,
        band_energy=bands,
        high_low_ratio=high_low,
        ps_amplitude_ratio=ps_ratio,
        kurtosis=kurtosis,
        skipped=skipped,
    )
