"""The label-free false-event evidence on real records (ranking.ml.false_evidence; no database)."""

import math
from pathlib import Path

import obspy
import pytest

from ranking.ml.false_evidence import (
    MIN_NOISE_S,
    StationEvidence,
    expected_phase_count,
    expected_to_record,
    false_evidence_row,
    pick_evidence,
    prior_p_false,
    station_evidence_from_dict,
    station_onset_evidence,
    waveform_evidence,
)
from tests.support.ranking_data import phasenet_rows, phasenet_vertical

PHASENET_FILES = ("BG_ACR_2012082505145960.mseed", "PG_AR_2004072706535818.mseed", "BK_CVS_2014122917571883.mseed")


def _phasenet(shared_data: Path, name: str) -> tuple[obspy.Trace, obspy.UTCDateTime]:
    return phasenet_vertical(shared_data, next(r for r in phasenet_rows(shared_data) if r["file"] == name))


@pytest.mark.parametrize("name", PHASENET_FILES)
def test_an_analyst_p_pick_shows_an_onset_and_the_noise_before_it_does_not(shared_data: Path, name: str) -> None:
    trace, p_time = _phasenet(shared_data, name)
    seen = station_onset_evidence(trace, arrival=p_time, source="picks")
    assert seen.state == "onset", seen
    assert seen.snr is not None and seen.snr > 3 and seen.aic_offset_s is not None and abs(seen.aic_offset_s) <= 1.5
    # 15 s before the P, inside the pre-event noise (the window of 30 s before P is real noise).
    quiet = station_onset_evidence(
        trace.slice(trace.stats.starttime, p_time - 3.0), arrival=p_time - 15.0, source="taup"
    )
    assert quiet.state == "no_onset", quiet
    assert quiet.snr is not None and quiet.snr < seen.snr / 3
    # What the database stores comes back the same.
    assert station_evidence_from_dict(seen.as_dict()) == seen


def test_every_window_is_guarded_with_a_reason(shared_data: Path, obspy_data: Path) -> None:
    trace, p_time = _phasenet(shared_data, PHASENET_FILES[0])
    early = station_onset_evidence(trace, arrival=trace.stats.starttime + 2.0, source="picks")
    assert early.state == "unmeasurable" and f"needs {MIN_NOISE_S:g} s of noise" in (early.reason or "")
    late = station_onset_evidence(trace, arrival=trace.stats.endtime - 1.0, source="picks")
    assert late.state == "unmeasurable" and "ends before" in (late.reason or "")
    day = obspy.read(str(obspy_data / "signal" / "tests" / "data" / "IUANMO.seed"))[0]  # 1 Hz
    slow = station_onset_evidence(day, arrival=day.stats.starttime + 3600.0, source="taup")
    assert slow.state == "unmeasurable" and "sampling rate 1 Hz" in (slow.reason or "")
    flat = trace.copy()
    flat.data[:] = 7
    assert "flat" in (station_onset_evidence(flat, arrival=p_time, source="picks").reason or "")


def test_who_should_have_recorded_it_follows_the_attenuation_relation() -> None:
    assert expected_to_record(1.0, 50.0) is True
    assert expected_to_record(0.0, 200.0) is False
    assert expected_to_record(2.0, 200.0) is True
    assert expected_to_record(None, 10.0) is None and expected_to_record(2.0, None) is None
    assert expected_phase_count(0.0) == pytest.approx(10.7, abs=0.1)
    assert expected_phase_count(2.0) == pytest.approx(21.0, abs=0.5)
    assert math.isnan(expected_phase_count(None))


def _station(state: str, snr: float) -> StationEvidence:
    return StationEvidence(state, 0.0, "taup", 2.0, snr=snr, sta_lta=snr, aic_offset_s=0.1)  # type: ignore[arg-type]


def test_the_event_evidence_and_the_prior() -> None:
    real = [_station("onset", 20.0), _station("onset", 8.0), _station("no_onset", 1.4)]
    noise = [_station("no_onset", 1.5), _station("no_onset", 1.3), _station("no_onset", 1.2)]
    distances = [30.0, 60.0, 400.0]
    evidence = waveform_evidence(real, magnitude=2.0, distances_km=distances)
    assert evidence["fe_onset_count"] == 2 and evidence["fe_onset_share"] == pytest.approx(2 / 3)
    assert evidence["fe_expected_count"] == 2 and evidence["fe_expected_missing_share"] == 0.0
    missing = waveform_evidence(noise, magnitude=2.0, distances_km=distances)
    assert missing["fe_expected_missing_share"] == 1.0
    assert prior_p_false(evidence) < 0.05 and prior_p_false(missing) > 0.95
    assert math.isnan(prior_p_false(waveform_evidence([])))
    # Picks alone: many outliers and few phases for the magnitude make a false event likely.
    bad = pick_evidence(residuals_s=[0.2, 3.5, -4.0, 6.0], defining_phase_count=4, magnitude=2.5)
    good = pick_evidence(residuals_s=[0.1, -0.2, 0.3, 0.05] * 6, defining_phase_count=24, magnitude=2.0)
    assert bad["fe_residual_outlier_share"] == 0.75 and good["fe_residual_outlier_share"] == 0.0
    assert prior_p_false(bad, rms_s=3.0) > 0.9 and prior_p_false(good, rms_s=0.2) < 0.5
    row = false_evidence_row([], magnitude=2.0, residuals_s=[0.1], defining_phase_count=20, travel_time_fits=[False])
    assert row["fe_inconsistent_phase_share"] == 1.0 and math.isnan(row["fe_station_count"]) is False
