"""False-event evidence that needs no labels (pure NumPy/ObsPy, no Django).

An automatic event that does not exist (a noise burst, picks of different events associated into one origin)
leaves two kinds of traces:

- **in the waveforms**: at the arrival time (picked, or predicted by TauP, or the STA/LTA maximum where neither
  exists) the stations with data show no onset, or only a noise-sized one; and stations that should have
  recorded the event, given its magnitude and distance, show nothing;
- **in the picks**: the arrival residuals are large and scattered, fewer phases define the origin than its
  magnitude implies, picks do not fit the travel-time curve, the gap, RMS and location uncertainty are large.

``station_onset_evidence`` measures one station; ``waveform_evidence`` and ``pick_evidence`` aggregate an event;
``prior_p_false`` turns both into a probability with physically set coefficients (no labels: a new deployment
gets a false-event score on day one). docs/false_events.md gives each threshold and the attenuation relation.
"""

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import obspy

from waveforms.measurements import aic_onset, sta_lta_recursive, trace_samples

FloatArray = npt.NDArray[np.float64]

# Onset measurement (per station) ---------------------------------------------------------------------------
BAND_HZ = (1.0, 10.0)  # onset band (the STA/LTA band of the pipeline); upper corner capped at 0.4 x the rate
MIN_RATE_HZ = 10.0  # below this the band and the 0.5 s STA have too few samples: the station is not measured
STA_S = 0.5
LTA_S = 5.0
RMS_WINDOW_S = 1.0  # the signal level: the largest 1 s RMS from the search window's start ...
SIGNAL_AFTER_S = 6.0  # ... to this long after its end (emergent onsets, surface events, grow for seconds)
NOISE_S = 20.0  # pre-arrival noise: at most this long ...
MIN_NOISE_S = 4.0  # ... and at least this long, or the station is "not measurable"
NOISE_GAP_S = 1.0  # the noise window ends this long before the search window opens
AIC_BEFORE_S = 2.0  # AIC onset: from this long before the loudest second ...
AIC_AFTER_S = 0.5  # ... to this long after it
ONSET_SNR = 3.0  # an onset: SNR >= 3 ...
ONSET_STA_LTA = 2.5  # ... and STA/LTA >= 2.5 ...
# ... and its AIC onset within the search tolerance of the arrival (seconds, by where the arrival came from):
TOLERANCE_S: dict[str, float] = {"picks": 1.5, "taup": 2.0, "sta_lta": 1.0, "default": 1.0}
TAUP_TOLERANCE_PER_S = 0.05  # a TauP prediction's tolerance also grows 5 % of the travel time (model, location)

# Who should have recorded the event (Hutton & Boore 1987, southern California ML) ----------------------------
# log10 A(mm, Wood-Anderson) = M - 1.11 log10(r / 100) - 0.00189 (r - 100) - 3.0, r hypocentral km.
# A station is expected to record the event when A >= DETECTABLE_WA_MM (10 x a typical 0.001 mm short-period
# noise level): M 1 out to about 100 km, M 0 to about 20 km, M 2 to about 220 km.
DETECTABLE_WA_MM = 0.01

# Defining phases expected for a magnitude (median of the PNSN 2018-2021 catalogue: picks per event by
# magnitude, least squares in log10): N = 10 ** (1.03 + 0.148 M), 11 at M 0, 15 at M 1, 21 at M 2.
EXPECTED_PHASES_LOG10 = (1.03, 0.148)
RESIDUAL_OUTLIER_S = 2.0  # an arrival residual beyond this is an outlier
TRAVEL_TIME_TOLERANCE = (2.0, 0.1)  # a pick fits the curve when |obs - TauP| <= 2 s + 10 % of the travel time

# The label-free prior: logit(P(real)) = sum of these terms (docs/false_events.md) ------------------------------
PRIOR_SNR_REFERENCE = 3.0  # the consensus SNR where the waveform term is zero
PRIOR_SNR_SLOPE = 8.0  # logit per decade of consensus SNR (a doubling of SNR: +2.4)
PRIOR_ONSET_SHARE_SLOPE = 2.0  # logit for all stations showing an onset against none (centred at one half)
PRIOR_MISSING_SLOPE = 2.0  # logit lost when every station expected to record it shows nothing
PRIOR_PHASE_SLOPE = 2.0  # logit per decade of defining phases against the magnitude's expectation
PRIOR_OUTLIER_SLOPE = 3.0  # logit lost when every residual is an outlier
PRIOR_RMS_SLOPE = 1.0  # logit lost per second of RMS above RMS_REFERENCE_S
RMS_REFERENCE_S = 0.5
PRIOR_PICK_BIAS = 0.5  # pick evidence alone starts slightly on the side of a real event (most events are)
PRIOR_PICK_WEIGHT = 0.5  # with waveforms, the pick terms count half

Onset = Literal["onset", "no_onset", "unmeasurable"]


@dataclass(frozen=True)
class StationEvidence:
    """Onset evidence at one station around one arrival time.

    ``state``: "onset" (an onset consistent with the arrival), "no_onset" (measured, nothing there), or
    "unmeasurable" (``reason`` says why: rate too low, no noise window before the arrival, ...).
    """

    state: Onset
    arrival: float  # POSIX s of the arrival looked at
    source: str  # where the arrival came from: picks, taup, sta_lta, default
    tolerance_s: float
    snr: float | None = None  # largest 1 s RMS in the search window / RMS of the pre-arrival noise (band-passed)
    sta_lta: float | None = None  # largest recursive STA/LTA (0.5 s / 5 s) in the search window
    aic_onset: float | None = None  # POSIX s of the AIC onset before the loudest second
    aic_offset_s: float | None = None  # AIC onset minus the arrival, s
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: (None if isinstance(v, float) and not math.isfinite(v) else v) for key, v in asdict(self).items()}


def tolerance_for(source: str, travel_time_s: float | None = None) -> float:
    """How far (s) from the arrival an onset may lie and still belong to it."""
    base = TOLERANCE_S.get(source, 1.0)
    if source == "taup" and travel_time_s is not None and math.isfinite(travel_time_s):
        base += TAUP_TOLERANCE_PER_S * max(0.0, travel_time_s)
    return base


def station_onset_evidence(
    trace: obspy.Trace, *, arrival: obspy.UTCDateTime, source: str, tolerance_s: float | None = None
) -> StationEvidence:
    """Is there an onset at ``arrival`` on ``trace``? Band-passed SNR and STA/LTA in the search window
    (arrival +- tolerance, plus one RMS window) against the noise before it, and the AIC onset's distance.

    ``trace``: one component, any rate and units, gaps masked. Every window is checked against the trace: a
    trace too slow, too short before the arrival, or ending before it is "unmeasurable" with the reason.
    """
    tolerance = tolerance_for(source) if tolerance_s is None else tolerance_s
    stamp = float(arrival.timestamp)

    def unmeasurable(reason: str) -> StationEvidence:
        return StationEvidence("unmeasurable", stamp, source, tolerance, reason=reason)

    rate = float(trace.stats.sampling_rate)
    if not math.isfinite(rate) or rate < MIN_RATE_HZ:
        return unmeasurable(f"sampling rate {rate:g} Hz is below {MIN_RATE_HZ:g} Hz")
    start = trace.stats.starttime
    search_start = arrival - tolerance
    search_end = arrival + tolerance + SIGNAL_AFTER_S
    noise_end = search_start - NOISE_GAP_S
    noise_start = max(start, noise_end - NOISE_S)
    if noise_end - noise_start < MIN_NOISE_S:
        return unmeasurable(
            f"{max(0.0, noise_end - start):.1f} s of data before the arrival window (needs {MIN_NOISE_S:g} s of noise)"
        )
    if search_end > trace.stats.endtime:
        return unmeasurable("the trace ends before the arrival window does")
    data = trace_samples(trace)
    first = round((noise_start - start) * rate)
    last = min(data.size, round((search_end + AIC_AFTER_S - start) * rate) + 1)
    segment = trace.copy()
    segment.data = data[first:last].copy()
    segment.stats.starttime = start + first / rate
    if not np.ptp(segment.data):
        return unmeasurable("the trace is flat around the arrival")
    segment.taper(max_percentage=0.05, max_length=1.0)
    segment.filter("bandpass", freqmin=BAND_HZ[0], freqmax=min(BAND_HZ[1], 0.4 * rate), corners=4, zerophase=True)
    values = np.asarray(segment.data, dtype=np.float64)
    noise_samples = round((noise_end - noise_start) * rate)
    noise_rms = float(np.sqrt(np.mean(values[:noise_samples] ** 2)))
    if noise_rms <= 0:
        return unmeasurable("no noise energy before the arrival")
    width = max(1, round(RMS_WINDOW_S * rate))
    power = np.convolve(values**2, np.ones(width) / width, mode="valid")  # power[i]: mean over [i, i + width)
    s0 = round((search_start - segment.stats.starttime) * rate)
    s1 = round((search_end - segment.stats.starttime) * rate) - width + 1
    if s1 <= s0 or s1 > power.size:
        return unmeasurable("the arrival window does not fit inside the trace")
    loudest = s0 + int(np.argmax(power[s0:s1]))
    snr = float(np.sqrt(power[loudest])) / noise_rms
    sta_lta = None
    ratio = sta_lta_recursive(values, rate=rate, sta_s=STA_S, lta_s=LTA_S)
    if ratio is not None:
        e0, e1 = max(s0, round(LTA_S * rate)), min(ratio.size, s1 + width)
        if e1 > e0:
            sta_lta = float(ratio[e0:e1].max())
    # The onset is before the first second loud enough to count (else the loudest): AIC from 2 s before it.
    loud = np.flatnonzero(power[s0:s1] >= (ONSET_SNR * noise_rms) ** 2)
    first_loud = s0 + int(loud[0]) if loud.size else loudest
    peak = first_loud + width
    lo = max(0, min(first_loud, s0) - round(AIC_BEFORE_S * rate))
    hi = min(values.size, peak + round(AIC_AFTER_S * rate))
    aic_time = segment.stats.starttime + (lo + aic_onset(values[lo:hi])) / rate if hi - lo > 8 else None
    offset = None if aic_time is None else float(aic_time - arrival)
    seen = (
        snr >= ONSET_SNR
        and (sta_lta is None or sta_lta >= ONSET_STA_LTA)
        and offset is not None
        and abs(offset) <= tolerance
    )
    return StationEvidence(
        "onset" if seen else "no_onset",
        stamp,
        source,
        tolerance,
        snr=snr,
        sta_lta=sta_lta,
        aic_onset=None if aic_time is None else float(aic_time.timestamp),
        aic_offset_s=offset,
    )


# Who should have recorded it -------------------------------------------------------------------------------


def wood_anderson_log10_mm(magnitude: float, distance_km: float, depth_km: float = 0.0) -> float:
    """log10 of the Wood-Anderson amplitude (mm) a magnitude predicts at an epicentral distance and depth
    (Hutton & Boore 1987; hypocentral distance at least 1 km)."""
    r = max(1.0, math.hypot(distance_km, max(0.0, depth_km)))
    return magnitude - 1.11 * math.log10(r / 100.0) - 0.00189 * (r - 100.0) - 3.0


def expected_to_record(
    magnitude: float | None, distance_km: float | None, depth_km: float | None = None
) -> bool | None:
    """Whether a station at ``distance_km`` should record an event of ``magnitude`` (None when either is unknown)."""
    if magnitude is None or distance_km is None or not math.isfinite(magnitude) or not math.isfinite(distance_km):
        return None
    return wood_anderson_log10_mm(magnitude, distance_km, depth_km or 0.0) >= math.log10(DETECTABLE_WA_MM)


def expected_phase_count(magnitude: float | None) -> float:
    """Defining phases expected for a magnitude (EXPECTED_PHASES_LOG10), NaN without a magnitude."""
    if magnitude is None or not math.isfinite(magnitude):
        return math.nan
    a, b = EXPECTED_PHASES_LOG10
    return float(10.0 ** (a + b * magnitude))


def travel_time_consistent(observed_s: float, predicted_s: float) -> bool:
    """Whether an observed travel time fits the model's (TRAVEL_TIME_TOLERANCE)."""
    absolute, relative = TRAVEL_TIME_TOLERANCE
    return abs(observed_s - predicted_s) <= absolute + relative * max(0.0, predicted_s)


# Event features ---------------------------------------------------------------------------------------------

WAVEFORM_EVIDENCE_NAMES: tuple[str, ...] = (
    "fe_station_count",
    "fe_onset_count",
    "fe_onset_share",
    "fe_expected_count",
    "fe_expected_missing_share",
    "fe_log_snr_consensus",
    "fe_log_snr_median",
    "fe_sta_lta_median",
    "fe_onset_offset_median_s",
)
PICK_EVIDENCE_NAMES: tuple[str, ...] = (
    "fe_residual_abs_median_s",
    "fe_residual_abs_max_s",
    "fe_residual_outlier_share",
    "fe_phase_deficit_log10",
    "fe_inconsistent_phase_share",
)
PRIOR_NAME = "fe_prior_p_false"
# The prior's waveform term: where it is measured the prior rests on waveforms, else on picks alone.
CONSENSUS_NAME = "fe_log_snr_consensus"
FALSE_EVIDENCE_NAMES: tuple[str, ...] = (*WAVEFORM_EVIDENCE_NAMES, *PICK_EVIDENCE_NAMES, PRIOR_NAME)
FALSE_EVIDENCE_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "fe_station_count": ("count", "stations whose onset evidence could be measured"),
    "fe_onset_count": ("count", "of those, stations with an onset consistent with the arrival"),
    "fe_onset_share": ("fraction", "onset count / measured stations"),
    "fe_expected_count": ("count", "measured stations the magnitude and distance say should record it"),
    "fe_expected_missing_share": ("fraction", "of those, the share showing no onset"),
    "fe_log_snr_consensus": ("log10 ratio", "log10 of the geometric mean of the two best station SNRs"),
    "fe_log_snr_median": ("log10 ratio", "median over stations of log10 onset SNR"),
    "fe_sta_lta_median": ("ratio", "median over stations of the STA/LTA maximum at the arrival"),
    "fe_onset_offset_median_s": ("s", "median |AIC onset - arrival| over stations"),
    "fe_residual_abs_median_s": ("s", "median |arrival time residual| of the preferred origin"),
    "fe_residual_abs_max_s": ("s", "largest |arrival time residual|"),
    "fe_residual_outlier_share": ("fraction", f"residuals beyond {RESIDUAL_OUTLIER_S:g} s"),
    "fe_phase_deficit_log10": ("log10 ratio", "log10((defining phases + 1) / (expected for the magnitude + 1))"),
    "fe_inconsistent_phase_share": ("fraction", "picks off the TauP iasp91 travel-time curve (2 s + 10 %)"),
    "fe_prior_p_false": ("probability", "label-free physics prior P(false) from the evidence above"),
}


def waveform_evidence(
    stations: Sequence[StationEvidence],
    *,
    magnitude: float | None = None,
    distances_km: Sequence[float | None] | None = None,
    depth_km: float | None = None,
) -> dict[str, float]:
    """Event-level waveform evidence (WAVEFORM_EVIDENCE_NAMES; NaN where not measurable) from station evidence.

    ``distances_km`` (epicentral, one per station or None) lets the magnitude say who should have recorded it.
    """
    result = dict.fromkeys(WAVEFORM_EVIDENCE_NAMES, math.nan)
    distances = list(distances_km) if distances_km is not None else [None] * len(stations)
    measured = [(s, d) for s, d in zip(stations, distances, strict=True) if s.state != "unmeasurable"]
    result["fe_station_count"] = float(len(measured))
    if not measured:
        return result
    onsets = [s for s, _ in measured if s.state == "onset"]
    result["fe_onset_count"] = float(len(onsets))
    result["fe_onset_share"] = len(onsets) / len(measured)
    expected = [s for s, d in measured if expected_to_record(magnitude, d, depth_km)]
    result["fe_expected_count"] = float(len(expected))
    if expected:
        result["fe_expected_missing_share"] = sum(s.state != "onset" for s in expected) / len(expected)
    snrs = np.array([s.snr for s, _ in measured if s.snr is not None and s.snr > 0], dtype=np.float64)
    if snrs.size:
        logs = np.sort(np.log10(snrs))[::-1]
        result["fe_log_snr_consensus"] = float(logs[: min(2, logs.size)].mean())
        result["fe_log_snr_median"] = float(np.median(logs))
    ratios = [s.sta_lta for s, _ in measured if s.sta_lta is not None]
    if ratios:
        result["fe_sta_lta_median"] = float(np.median(ratios))
    offsets = [abs(s.aic_offset_s) for s, _ in measured if s.aic_offset_s is not None]
    if offsets:
        result["fe_onset_offset_median_s"] = float(np.median(offsets))
    return result


def pick_evidence(
    *,
    residuals_s: Sequence[float],
    defining_phase_count: int | None,
    magnitude: float | None,
    travel_time_fits: Sequence[bool] = (),
) -> dict[str, float]:
    """Event-level evidence from the picks alone (PICK_EVIDENCE_NAMES; NaN where not available).

    ``residuals_s``: the preferred origin's arrival time residuals; ``travel_time_fits``: per pick with a
    station location, whether it fits the TauP travel-time curve of its phase (travel_time_consistent).
    """
    result = dict.fromkeys(PICK_EVIDENCE_NAMES, math.nan)
    values = np.abs(np.array([r for r in residuals_s if r is not None and math.isfinite(r)], dtype=np.float64))
    if values.size:
        result["fe_residual_abs_median_s"] = float(np.median(values))
        result["fe_residual_abs_max_s"] = float(values.max())
        result["fe_residual_outlier_share"] = float(np.mean(values > RESIDUAL_OUTLIER_S))
    expected = expected_phase_count(magnitude)
    if defining_phase_count is not None and math.isfinite(expected):
        result["fe_phase_deficit_log10"] = math.log10((defining_phase_count + 1.0) / (expected + 1.0))
    if travel_time_fits:
        result["fe_inconsistent_phase_share"] = sum(not fit for fit in travel_time_fits) / len(travel_time_fits)
    return result


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def prior_p_false(evidence: dict[str, float], *, rms_s: float | None = None) -> float:
    """The label-free P(false) from waveform and pick evidence (NaN when there is neither).

    logit P(real) = waveform terms (consensus SNR against 3, the share of stations with an onset, the share
    of expected stations showing nothing) + pick terms (phases against the magnitude's expectation, residual
    outliers, RMS above 0.5 s; counted half when waveforms are there). The coefficients are set from the
    physics of the thresholds, not fitted to labels (docs/false_events.md).
    """
    logit = 0.0
    terms = 0
    consensus = evidence.get(CONSENSUS_NAME, math.nan)
    has_waveforms = _finite(consensus)
    if has_waveforms:
        terms += 1
        logit += PRIOR_SNR_SLOPE * (consensus - math.log10(PRIOR_SNR_REFERENCE))
        share = evidence.get("fe_onset_share", math.nan)
        if _finite(share):
            logit += PRIOR_ONSET_SHARE_SLOPE * (share - 0.5)
        missing = evidence.get("fe_expected_missing_share", math.nan)
        if _finite(missing):
            logit -= PRIOR_MISSING_SLOPE * missing
    pick_logit = 0.0
    pick_terms = 0
    deficit = evidence.get("fe_phase_deficit_log10", math.nan)
    if _finite(deficit):
        pick_terms += 1
        pick_logit += PRIOR_PHASE_SLOPE * min(deficit, 0.5)
    outliers = evidence.get("fe_residual_outlier_share", math.nan)
    if _finite(outliers):
        pick_terms += 1
        pick_logit -= PRIOR_OUTLIER_SLOPE * outliers
    inconsistent = evidence.get("fe_inconsistent_phase_share", math.nan)
    if _finite(inconsistent):
        pick_terms += 1
        pick_logit -= PRIOR_OUTLIER_SLOPE * inconsistent
    if rms_s is not None and math.isfinite(rms_s):
        pick_terms += 1
        pick_logit -= PRIOR_RMS_SLOPE * max(0.0, rms_s - RMS_REFERENCE_S)
    if pick_terms:
        terms += 1
        logit += (PRIOR_PICK_WEIGHT if has_waveforms else 1.0) * pick_logit + (
            0.0 if has_waveforms else PRIOR_PICK_BIAS
        )
    if not terms:
        return math.nan
    return 1.0 / (1.0 + math.exp(min(50.0, max(-50.0, logit))))


def false_evidence_row(
    stations: Sequence[StationEvidence],
    *,
    magnitude: float | None,
    depth_km: float | None = None,
    distances_km: Sequence[float | None] | None = None,
    residuals_s: Sequence[float] = (),
    defining_phase_count: int | None = None,
    travel_time_fits: Sequence[bool] = (),
    rms_s: float | None = None,
) -> dict[str, float]:
    """Every FALSE_EVIDENCE_NAMES value of one event (NaN where missing)."""
    evidence = waveform_evidence(stations, magnitude=magnitude, distances_km=distances_km, depth_km=depth_km)
    evidence.update(
        pick_evidence(
            residuals_s=residuals_s,
            defining_phase_count=defining_phase_count,
            magnitude=magnitude,
            travel_time_fits=travel_time_fits,
        )
    )
    evidence[PRIOR_NAME] = prior_p_false(evidence, rms_s=rms_s)
    return evidence


def station_evidence_from_dict(value: dict[str, Any]) -> StationEvidence:
    """A StationEvidence back from its ``as_dict`` form (as cached in the database)."""
    return StationEvidence(
        state=value["state"],
        arrival=float(value["arrival"]),
        source=str(value["source"]),
        tolerance_s=float(value["tolerance_s"]),
        snr=value.get("snr"),
        sta_lta=value.get("sta_lta"),
        aic_onset=value.get("aic_onset"),
        aic_offset_s=value.get("aic_offset_s"),
        reason=value.get("reason"),
    )
