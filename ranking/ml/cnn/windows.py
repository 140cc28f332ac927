"""One station's CNN input window from an ObsPy trace (pure NumPy/ObsPy, no Django).

A window is ``WINDOW_S`` = 30 s of the vertical component at ``SAMPLING_RATE`` = 40 Hz (1,200 samples),
starting ``PRE_ONSET_S`` = 5 s before the first arrival (picked, predicted, or found by STA/LTA). The
raw samples are cut with a margin, demeaned, detrended, tapered, bandpassed ``BAND_HZ`` (1-15 Hz,
4 corners, zero phase) at the trace's own rate (which must be >= ``MIN_RATE`` = 31 Hz), interpolated
onto the 40 Hz grid and divided by their peak absolute value, so every window lies in [-1, 1] whatever
the instrument and units.

``window_spectra`` turns windows into ``SPECTRAL_FEATURES`` (band-power fractions, P/coda energy,
SNR, spectral centroid), the hand-made second input of the network.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import obspy

from waveforms.measurements import aic_onset, sta_lta_recursive

SAMPLING_RATE = 40.0  # Hz
WINDOW_S = 30.0  # s
PRE_ONSET_S = 5.0  # s of the window before the onset
WINDOW_SAMPLES = int(WINDOW_S * SAMPLING_RATE)  # 1200
BAND_HZ = (1.0, 15.0)
MIN_RATE = 2.0 * BAND_HZ[1] + 1.0  # Hz: the 15 Hz corner must sit below the trace's Nyquist frequency
MARGIN_S = 10.0  # processed beyond the window on both sides when the trace allows, then cut away
COMPONENT_PREFERENCE = ("Z", "3")  # vertical first; missing vertical -> any remaining component
STA_S = 0.5
LTA_S = 5.0

FloatArray = npt.NDArray[np.float32]


class WindowError(ValueError):
    """A trace that cannot give a window (too short, empty, flat, sampling rate too low)."""


@dataclass(frozen=True)
class StationWindow:
    """A prepared window: ``data`` float32 of shape (WINDOW_SAMPLES,), ``start`` its absolute first sample time."""

    seed_id: str
    start: obspy.UTCDateTime
    data: FloatArray
    snr: float  # RMS(onset .. onset + 10 s) / RMS(first 4.5 s), on the bandpassed samples


def trace_pick_component(stream: obspy.Stream) -> obspy.Trace | None:
    """The vertical trace of a one-station stream (the longest one), else the longest remaining trace."""
    traces = [t for t in stream if t.stats.npts > 0]
    if not traces:
        return None
    vertical = [t for t in traces if t.stats.channel[-1:] in COMPONENT_PREFERENCE]
    pool = vertical or traces
    return max(pool, key=lambda t: t.stats.npts)


def _filled(trace: obspy.Trace) -> npt.NDArray[np.float64]:
    data = trace.data
    if isinstance(data, np.ma.MaskedArray):
        data = data.filled(np.ma.mean(data) if data.count() else 0.0)
    return np.asarray(data, dtype=np.float64)


ONSET_SEARCH_S = (0.5, 45.0)  # s after the origin time: the STA/LTA search where no pick or prediction exists
AIC_BEFORE_S = 2.0  # the AIC refinement looks this far before the STA/LTA trigger ...
AIC_AFTER_S = 0.5  # ... and this far after it


def onset_detect(
    trace: obspy.Trace, *, search_start: obspy.UTCDateTime, search_end: obspy.UTCDateTime, threshold: float = 3.0
) -> obspy.UTCDateTime | None:
    """The first arrival inside [search_start, search_end]: the first time a recursive STA/LTA (0.5 s / 5 s,
    on the 1-8 Hz band, its LTA warmed up on the samples before ``search_start``) exceeds ``threshold`` (its
    maximum there when it never does), refined by the AIC minimum from 2 s before to 0.5 s after that
    trigger. None when the trace does not cover a usable search range. Used where no pick and no predicted
    arrival exist (e.g. stations without coordinates); the search range should start just after the origin
    time (``ONSET_SEARCH_S``), since near stations see the P within a second or two."""
    rate = float(trace.stats.sampling_rate)
    if rate < 17.0:
        return None
    work = trace.copy()
    work.data = _filled(work)
    work.detrend("demean")
    work.taper(0.02)
    work.filter("bandpass", freqmin=1.0, freqmax=min(8.0, 0.45 * rate), corners=4, zerophase=False)
    cft = sta_lta_recursive(work.data, rate=rate, sta_s=STA_S, lta_s=LTA_S)
    if cft is None:
        return None
    first = max(round((search_start - trace.stats.starttime) * rate), round(LTA_S * rate))
    last = min(round((search_end - trace.stats.starttime) * rate), cft.size)
    if last - first < rate:
        return None
    part = cft[first:last]
    above = np.flatnonzero(part > threshold)
    trigger = first + (int(above[0]) if above.size else int(np.argmax(part)))
    lo = max(0, trigger - round(AIC_BEFORE_S * rate))
    hi = min(work.data.size, trigger + round(AIC_AFTER_S * rate))
    index = lo + aic_onset(np.asarray(work.data[lo:hi], dtype=np.float64)) if hi - lo > rate else trigger
    return trace.stats.starttime + index / rate


def window_prepare(trace: obspy.Trace, *, onset: obspy.UTCDateTime, pre_onset_s: float = PRE_ONSET_S) -> StationWindow:
    """The normalised 40 Hz window of ``trace`` starting ``pre_onset_s`` before ``onset`` (absolute UTC).

    The trace may have any sampling rate >= ``MIN_RATE`` (31 Hz) and any units. Raises WindowError when the
    trace does not cover the whole window or is flat there.
    """
    rate = float(trace.stats.sampling_rate)
    if rate < MIN_RATE:
        raise WindowError(f"{trace.id}: sampling rate {rate:g} Hz is too low for the {BAND_HZ[1]:g} Hz corner")
    start = onset - pre_onset_s
    end = start + WINDOW_S
    t0 = trace.stats.starttime
    t1 = trace.stats.endtime
    if start < t0 - 0.5 / rate or end > t1 + 1.0 / rate:
        raise WindowError(f"{trace.id}: the trace ({t0} .. {t1}) does not cover the window {start} .. {end}")
    data = _filled(trace)
    first = max(0, int(np.floor((start - MARGIN_S - t0) * rate)))
    last = min(data.size, int(np.ceil((end + MARGIN_S - t0) * rate)) + 1)
    segment = data[first:last]
    if segment.size < rate * WINDOW_S * 0.9 or not np.ptp(segment) > 0:
        raise WindowError(f"{trace.id}: no signal in the window {start} .. {end}")
    work = obspy.Trace(segment, header={"sampling_rate": rate, "starttime": t0 + first / rate})
    work.detrend("demean")
    work.detrend("linear")
    work.taper(max_percentage=0.05, type="hann")
    work.filter("bandpass", freqmin=BAND_HZ[0], freqmax=BAND_HZ[1], corners=4, zerophase=True)
    times = np.arange(WINDOW_SAMPLES) / SAMPLING_RATE + float(start - work.stats.starttime)
    source_times = np.arange(work.stats.npts) / rate
    values = np.interp(times, source_times, work.data)
    peak = float(np.abs(values).max())
    if not peak > 0 or not np.isfinite(peak):
        raise WindowError(f"{trace.id}: flat window {start} .. {end}")
    values /= peak
    return StationWindow(trace.id, start, values.astype(np.float32), window_snr(values, pre_onset_s=pre_onset_s))


def window_snr(values: npt.NDArray[np.floating], *, pre_onset_s: float = PRE_ONSET_S) -> float:
    """RMS of the 10 s after the onset over the RMS of the window before it (the last 0.5 s excluded)."""
    onset = round(pre_onset_s * SAMPLING_RATE)
    noise = values[: max(1, onset - round(0.5 * SAMPLING_RATE))]
    signal = values[onset : onset + round(10.0 * SAMPLING_RATE)]
    noise_rms = float(np.sqrt(np.mean(np.square(noise))))
    signal_rms = float(np.sqrt(np.mean(np.square(signal)))) if signal.size else 0.0
    return signal_rms / noise_rms if noise_rms > 0 else 100.0


SPECTRAL_BANDS_HZ = ((1.0, 3.0), (3.0, 6.0), (6.0, 10.0), (10.0, 15.0))
SPECTRAL_FEATURES = (
    "log_fraction_1_3hz",
    "log_fraction_3_6hz",
    "log_fraction_6_10hz",
    "log_fraction_10_15hz",
    "log_high_low_p",
    "log_high_low_coda",
    "log_p_coda_energy",
    "log_snr",
    "centroid_hz",
)
N_SPECTRAL = len(SPECTRAL_FEATURES)


def _band_power(segment: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Hann-windowed power spectra (n, f) of segments (n, samples) at 40 Hz and their frequencies (Hz)."""
    taper = np.hanning(segment.shape[1])
    power = np.asarray(np.abs(np.fft.rfft(segment * taper, axis=1)) ** 2, dtype=np.float64)
    return power, np.asarray(np.fft.rfftfreq(segment.shape[1], d=1.0 / SAMPLING_RATE), dtype=np.float64)


def window_spectra(windows: npt.NDArray[np.floating], *, pre_onset_s: float = PRE_ONSET_S) -> FloatArray:
    """Hand-made spectral features (n, N_SPECTRAL) float32 of windows (n, WINDOW_SAMPLES) at 40 Hz, onset at
    ``pre_onset_s``: log10 fractions of the 1-3/3-6/6-10/10-15 Hz power in the 20 s after the onset; log10
    high (6-15 Hz) over low (1-3 Hz) power in the first 5 s (P) and in the 5-20 s after the onset (S, coda,
    Rg); log10 energy of the first 5 s over the next 15 s; log10 SNR; the spectral centroid (Hz) of the 20 s.
    These are the kind of features that separate blasts from earthquakes in the PNW (Kharita et al.)."""
    x = np.asarray(windows, dtype=np.float64).reshape(-1, WINDOW_SAMPLES)
    onset = round(pre_onset_s * SAMPLING_RATE)
    p_end = onset + round(5.0 * SAMPLING_RATE)
    coda_end = onset + round(20.0 * SAMPLING_RATE)
    tiny = 1e-12
    whole, freqs = _band_power(x[:, onset:coda_end])
    p_power, p_freqs = _band_power(x[:, onset:p_end])
    coda_power, coda_freqs = _band_power(x[:, p_end:coda_end])

    def band(
        power: npt.NDArray[np.float64], f: npt.NDArray[np.float64], lo: float, hi: float
    ) -> npt.NDArray[np.float64]:
        mask = (f >= lo) & (f < hi)
        result: npt.NDArray[np.float64] = power[:, mask].sum(axis=1)
        return result

    in_band = (freqs >= BAND_HZ[0]) & (freqs < BAND_HZ[1])
    total = whole[:, in_band].sum(axis=1) + tiny
    columns = [np.log10(band(whole, freqs, lo, hi) / total + 1e-6) for lo, hi in SPECTRAL_BANDS_HZ]
    for power, f in ((p_power, p_freqs), (coda_power, coda_freqs)):
        columns.append(np.log10((band(power, f, 6.0, 15.0) + tiny) / (band(power, f, 1.0, 3.0) + tiny)))
    p_energy = np.square(x[:, onset:p_end]).mean(axis=1)
    coda_energy = np.square(x[:, p_end:coda_end]).mean(axis=1)
    columns.append(np.log10((p_energy + tiny) / (coda_energy + tiny)))
    noise = np.square(x[:, : max(1, onset - round(0.5 * SAMPLING_RATE))]).mean(axis=1)
    columns.append(np.log10((p_energy + coda_energy + tiny) / (2 * noise + tiny)))
    columns.append((whole[:, in_band] * freqs[in_band]).sum(axis=1) / total)
    out: FloatArray = np.clip(np.stack(columns, axis=1), -12.0, 40.0).astype(np.float32)
    return out
