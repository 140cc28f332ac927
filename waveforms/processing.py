"""Waveform processing: detrend, taper, filter, response removal and rotation (pure ObsPy, no Django).

Every function takes ObsPy objects, works on a copy and returns new objects; the input is never changed.
Frequencies are in Hz, times in s. Traces with gaps (masked samples) are processed per contiguous
segment, because filters and tapers are undefined across a gap.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np
import obspy
from scipy import signal

FilterKind = Literal["bandpass", "highpass", "lowpass"]

# Named presets analysts ask for, as (low corner, high corner) in Hz.
FILTER_PRESETS: dict[str, tuple[float, float]] = {
    "1-10": (1.0, 10.0),
    "2-8": (2.0, 8.0),
    "0.5-5": (0.5, 5.0),
    "5-20": (5.0, 20.0),
}
DEFAULT_TAPER_FRACTION = 0.05
FILTER_CORNERS = 4
# Decimating ahead of a low-pass or band-pass keeps the new rate at least this many times the high corner (on PNW,
# ESEC and PhaseNet records the filtered trace then differs from the full-rate one by a median 0.2-2 % of its peak).
DECIMATION_HEADROOM = 10.0
# The anti-alias FIR passes up to this fraction of the new Nyquist frequency; its Kaiser window (beta 8.6) keeps
# the stop band about 85 dB down, because most of a seismogram's power can lie above the band being drawn.
ANTI_ALIAS_CUTOFF = 0.8


class FilterError(ValueError):
    """A filter request that cannot be applied (bad corners, unknown preset, corner above Nyquist)."""


@dataclass(frozen=True)
class FilterSpec:
    """A Butterworth filter (4 corners, zero phase). ``freqmin``/``freqmax`` in Hz; None where unused."""

    kind: FilterKind
    freqmin: float | None
    freqmax: float | None

    @property
    def label(self) -> str:
        if self.kind == "bandpass":
            return f"bandpass {self.freqmin:g}-{self.freqmax:g} Hz"
        if self.kind == "highpass":
            return f"highpass {self.freqmin:g} Hz"
        return f"lowpass {self.freqmax:g} Hz"

    def check_nyquist(self, *, sampling_rate: float, seed_id: str = "") -> None:
        """Raise FilterError when the highest corner is at or above the Nyquist frequency of ``sampling_rate`` Hz."""
        nyquist = sampling_rate / 2.0
        highest = self.freqmax if self.freqmax is not None else self.freqmin
        assert highest is not None
        if highest >= nyquist:
            where = f"{seed_id}: " if seed_id else ""
            raise FilterError(
                f"{where}filter corner {highest:g} Hz is at or above the Nyquist frequency {nyquist:g} Hz "
                f"of {sampling_rate:g} Hz data"
            )


def filter_spec_parse(
    *, preset: str | None = None, fmin: float | None = None, fmax: float | None = None
) -> FilterSpec | None:
    """A filter from a named preset or custom corners (Hz); None when nothing is asked.

    Only ``fmin`` gives a highpass, only ``fmax`` a lowpass, both a bandpass. Raises FilterError on an
    unknown preset, a preset combined with corners, a corner <= 0 or ``fmin >= fmax``.
    """
    if preset:
        if fmin is not None or fmax is not None:
            raise FilterError("give either a filter preset or corners (fmin, fmax), not both")
        if preset not in FILTER_PRESETS:
            raise FilterError(f"unknown filter preset {preset!r}; choose one of {', '.join(FILTER_PRESETS)}")
        fmin, fmax = FILTER_PRESETS[preset]
    for name, value in (("fmin", fmin), ("fmax", fmax)):
        if value is not None and not (np.isfinite(value) and value > 0):
            raise FilterError(f"{name} must be a positive frequency in Hz, got {value!r}")
    if fmin is not None and fmax is not None:
        if fmin >= fmax:
            raise FilterError(f"fmin ({fmin:g} Hz) must be lower than fmax ({fmax:g} Hz)")
        return FilterSpec("bandpass", fmin, fmax)
    if fmin is not None:
        return FilterSpec("highpass", fmin, None)
    if fmax is not None:
        return FilterSpec("lowpass", None, fmax)
    return None


def _apply_filter(trace: obspy.Trace, spec: FilterSpec) -> None:
    spec.check_nyquist(sampling_rate=float(trace.stats.sampling_rate), seed_id=trace.id)
    if spec.kind == "bandpass":
        trace.filter("bandpass", freqmin=spec.freqmin, freqmax=spec.freqmax, corners=FILTER_CORNERS, zerophase=True)
    elif spec.kind == "highpass":
        trace.filter("highpass", freq=spec.freqmin, corners=FILTER_CORNERS, zerophase=True)
    else:
        trace.filter("lowpass", freq=spec.freqmax, corners=FILTER_CORNERS, zerophase=True)


def stream_detrend(*, stream: obspy.Stream, taper_fraction: float = DEFAULT_TAPER_FRACTION) -> obspy.Stream:
    """Demean, remove a linear trend and apply a Hann taper (``taper_fraction`` of each end) per segment.

    Gapped traces come back split into their contiguous segments (same SEED id). Data become float64.
    """
    result = stream.copy().split()
    for trace in result:
        trace.data = np.asarray(trace.data, dtype=np.float64)
        trace.detrend("demean")
        trace.detrend("linear")
        if taper_fraction > 0 and trace.stats.npts > 2:
            trace.taper(max_percentage=taper_fraction, type="hann")
    return result


def stream_filter(
    *, stream: obspy.Stream, spec: FilterSpec, taper_fraction: float = DEFAULT_TAPER_FRACTION
) -> obspy.Stream:
    """Detrend, taper and filter every trace with ``spec``. Raises FilterError naming the first trace
    whose Nyquist frequency is too low for the filter."""
    result = stream_detrend(stream=stream, taper_fraction=taper_fraction)
    for trace in result:
        _apply_filter(trace, spec)
    return result


def decimation_factor(*, sampling_rate: float, spec: FilterSpec, headroom: float = DECIMATION_HEADROOM) -> int:
    """The largest whole factor that keeps ``sampling_rate / factor >= headroom * spec.freqmax`` (Hz); 1 when
    the filter passes everything up to Nyquist (a high-pass) or the rate is already low."""
    if spec.freqmax is None:
        return 1
    return max(1, int(sampling_rate // (headroom * spec.freqmax)))


def stream_decimate_for_filter(
    *, stream: obspy.Stream, spec: FilterSpec, headroom: float = DECIMATION_HEADROOM
) -> obspy.Stream:
    """Each trace at the lowest rate that still carries ``spec``'s pass band, for drawing a filtered figure
    without filtering every sample.

    A zero-phase FIR anti-alias filter (SciPy ``decimate``, Hamming window, cut-off at the new Nyquist
    frequency) runs before keeping every ``factor``-th sample, so nothing above the new Nyquist aliases into
    the band and arrivals do not move; start times are kept, ``delta`` grows by ``factor``. Gapped traces are
    split into their contiguous segments (as ``stream_filter`` does anyway). Data become float64. Traces too
    short to decimate, or whose factor is 1, come back as they are (as float64)."""
    result = obspy.Stream()
    # No copy of the whole stream: each segment's samples are converted once and its header copied, so the input
    # stays unchanged without holding a second full-rate copy of it.
    for segment in stream.split():
        stats = segment.stats.copy()
        factor = decimation_factor(sampling_rate=float(stats.sampling_rate), spec=spec, headroom=headroom)
        data = np.array(segment.data, dtype=np.float64)
        if factor > 1 and stats.npts > 20 * factor + 1:
            mean = float(data.mean())
            data -= mean
            taps = signal.firwin(40 * factor + 1, ANTI_ALIAS_CUTOFF / factor, window=("kaiser", 8.6))
            data = signal.resample_poly(data, 1, factor, window=taps)
            data += mean
            stats.sampling_rate = stats.sampling_rate / factor
        stats.npts = data.size
        result.append(obspy.Trace(data=np.ascontiguousarray(data), header=stats))
    return result


def trace_filter(
    *, trace: obspy.Trace, spec: FilterSpec, taper_fraction: float = DEFAULT_TAPER_FRACTION
) -> obspy.Stream:
    """Filter one trace (see ``stream_filter``); a stream comes back because a gapped trace splits."""
    return stream_filter(stream=obspy.Stream([trace]), spec=spec, taper_fraction=taper_fraction)


def stream_remove_response(
    *, stream: obspy.Stream, inventory: obspy.Inventory, output: Literal["VEL", "DISP", "ACC"] = "VEL"
) -> tuple[obspy.Stream, list[str]]:
    """Remove the instrument response of each trace, to m/s for ``output="VEL"``.

    A pre-filter from 0.5 x the lowest resolvable frequency to 0.9 x Nyquist stabilises the deconvolution.
    Traces whose response is missing from ``inventory`` are dropped and named in the returned problems.
    """
    result = stream_detrend(stream=stream)
    kept = obspy.Stream()
    problems: list[str] = []
    for trace in result:
        rate = float(trace.stats.sampling_rate)
        duration = trace.stats.npts / rate
        low = max(2.0 / duration, 0.005)
        pre_filt = (low / 2, low, 0.8 * rate / 2, 0.9 * rate / 2)
        try:
            trace.remove_response(inventory=inventory, output=output, pre_filt=pre_filt, water_level=None)
        except Exception as error:  # ObsPy raises a bare Exception when no response matches
            problems.append(f"{trace.id}: no usable instrument response ({error})")
            continue
        kept.append(trace)
    return kept, problems


def stream_rotate_to_zrt(
    *, stream: obspy.Stream, back_azimuth: float, inventory: obspy.Inventory | None = None
) -> tuple[obspy.Stream, list[str]]:
    """Rotate each station's horizontals to radial/transverse for ``back_azimuth`` degrees (event seen from
    the station, clockwise from north).

    Horizontals named 1/2 are first rotated to N/E with the orientations in ``inventory``. Stations
    without two horizontals, or with horizontals of different length, keep their components and are named
    in the returned problems.
    """
    result = stream.copy()
    problems: list[str] = []
    rotated = obspy.Stream()
    for network, station, location, band in sorted(
        {(t.stats.network, t.stats.station, t.stats.location, t.stats.channel[:2]) for t in result}
    ):
        group = result.select(network=network, station=station, location=location, channel=f"{band}?")
        name = f"{network}.{station}.{location}.{band}?"
        components = {t.stats.channel[-1] for t in group}
        try:
            if {"1", "2"} & components and inventory is not None:
                group.rotate("->ZNE", inventory=inventory)
            if {"N", "E"} <= {t.stats.channel[-1] for t in group}:
                group.rotate("NE->RT", back_azimuth=back_azimuth % 360.0)
            elif components - {"Z"}:
                problems.append(f"{name}: horizontals {sorted(components - {'Z'})} cannot be rotated to R/T")
        except ValueError as error:
            problems.append(f"{name}: not rotated ({error})")
        rotated += group
    return rotated, problems
