"""Ranker features on real catalogue rows and real waveforms: each feature as documented, missing stays NaN."""

import datetime as dt
from pathlib import Path

import numpy as np
import obspy
import pytest
from obspy.geodetics import gps2dist_azimuth

from events.vocabulary import QUAKEML_EVENT_TYPES
from ranking.ml.classes import DECISION_CLASSES, EXPLOSION_LIKE, class_weights_parse, decision_class_for
from ranking.ml.features import (
    FEATURE_NAMES,
    FEATURES,
    EventInputs,
    ReviewedCatalogue,
    feature_matrix,
    waveform_aggregates,
)
from ranking.ml.gazetteer import Gazetteer, GazetteerError, gazetteer_read, nearest_site_km
from tests.support.ranking_data import pnsn_features, pnsn_inputs, pnsn_rows
from waveforms.measurements import measure_trace

COLUMN = {name: index for index, name in enumerate(FEATURE_NAMES)}


def test_every_quakeml_type_but_not_reported_has_a_decision_class() -> None:
    unmapped = [t for t in QUAKEML_EVENT_TYPES if decision_class_for(t) is None]
    assert unmapped == ["not reported"]
    assert decision_class_for("quarry blast") == decision_class_for("Mining Explosion") == EXPLOSION_LIKE


def test_class_weights_parse_keeps_defaults_and_names_a_bad_pair() -> None:
    weights = class_weights_parse("explosion_like=2")
    assert weights["explosion_like"] == 2.0 and weights["not_existing"] == 0.0
    with pytest.raises(ValueError, match="'quake=1'"):
        class_weights_parse("quake=1")
    with pytest.raises(ValueError, match="not a number"):
        class_weights_parse("earthquake=high")


def test_every_feature_is_documented_with_a_unit() -> None:
    assert all(spec.unit and spec.computation for spec in FEATURES)
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)


def test_it_computes_local_solar_time_and_origin_features_from_a_real_row(shared_data: Path) -> None:
    rows = pnsn_rows(shared_data, years=(2018,))[:1]
    inputs, _, _ = pnsn_inputs(rows)
    features = feature_matrix(inputs, gazetteer=None, reviewed=ReviewedCatalogue.empty())[0]
    origin = dt.datetime.fromtimestamp(float(rows[0]["timestamp"]), dt.UTC)
    utc_hours = origin.hour + origin.minute / 60 + (origin.second + origin.microsecond / 1e6) / 3600
    local = utc_hours + float(rows[0]["longitude"]) / 15.0
    assert features[COLUMN["local_solar_hour"]] == pytest.approx(local % 24, abs=1e-6)
    local_day = (origin + dt.timedelta(hours=float(rows[0]["longitude"]) / 15.0)).weekday()
    assert features[COLUMN["local_day_of_week"]] == local_day
    assert features[COLUMN["depth_km"]] == pytest.approx(float(rows[0]["depth"]))
    assert features[COLUMN["used_phase_count"]] == int(rows[0]["number_of_pick"])
    assert features[COLUMN["magnitude_type_code"]] == 1.0  # ml
    # The catalogue row has no gap, RMS, gazetteer or waveforms: those stay missing, not zero.
    for name in ("azimuthal_gap_deg", "rms_s", "nearest_mine_km", "waveform_snr_median"):
        assert np.isnan(features[COLUMN[name]]), name
    assert features[COLUMN["waveform_station_count"]] == 0


def test_reviewed_neighbours_see_only_earlier_events_and_never_the_event_itself(shared_data: Path) -> None:
    inputs, labels, times = pnsn_inputs(pnsn_rows(shared_data, years=(2018,)))
    features = pnsn_features(inputs, labels, times)
    counts = features[:, COLUMN["reviewed_neighbour_count"]]
    assert counts[int(np.argmin(times))] == 0  # the first event of the year has no past
    # Brute force for a handful of events: count earlier events within 10 km.
    for row in range(0, len(inputs), 400):
        distances = np.array(
            [gps2dist_azimuth(inputs[row].latitude, inputs[row].longitude, e.latitude, e.longitude)[0] for e in inputs]
        )
        earlier = (distances <= 10_000.0) & (times < times[row])
        assert counts[row] == earlier.sum()
        if earlier.any():
            share = (labels[earlier] == DECISION_CLASSES.index(EXPLOSION_LIKE)).mean()
            assert features[row, COLUMN["reviewed_explosion_share"]] == pytest.approx(share)


def test_nearest_mine_distance_matches_obspy_geodesic_within_half_a_percent(tmp_path: Path) -> None:
    path = tmp_path / "gazetteer.csv"
    path.write_text("name,latitude,longitude,type\nsite a,47.5,-121.5,quarry\nsite b,46.0,-122.0,mine\n")
    gazetteer = gazetteer_read(path)
    distance = nearest_site_km(gazetteer, np.array([47.0]), np.array([-121.9]))[0]
    expected = min(gps2dist_azimuth(47.0, -121.9, 47.5, -121.5)[0], gps2dist_azimuth(47.0, -121.9, 46.0, -122.0)[0])
    assert distance == pytest.approx(expected / 1000.0, rel=5e-3)


def test_a_bad_gazetteer_row_is_refused_naming_the_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "gazetteer.csv"
    path.write_text("name,latitude,longitude,type\nsite a,47.5,-121.5,quarry\nsite b,95,-122,mine\n")
    with pytest.raises(GazetteerError, match="line 3: field 'latitude'"):
        gazetteer_read(path)


def test_without_a_gazetteer_the_distance_is_missing() -> None:
    assert np.isnan(nearest_site_km(None, np.array([47.0]), np.array([-121.0]))).all()
    empty = Gazetteer((), (), np.empty(0), np.empty(0))
    assert np.isnan(nearest_site_km(empty, np.array([47.0]), np.array([-121.0]))).all()


def test_waveform_aggregates_are_the_median_and_max_of_real_trace_measurements(shared_data: Path) -> None:
    folder = shared_data / "pnw" / "waveforms" / "uw61348817"
    origin = obspy.UTCDateTime(1518563086.08)
    measurements = []
    for path in sorted(folder.glob("*.mseed"))[:4]:
        trace = obspy.read(str(path), format="MSEED")[0]
        envelope = np.abs(trace.data - trace.data.mean())
        p_time = (
            trace.stats.starttime + float(np.argmax(envelope > 5 * np.median(envelope))) / trace.stats.sampling_rate
        )
        measurements.append(measure_trace(trace, p_time=max(p_time, origin + 12)))
    row = waveform_aggregates(measurements)
    assert row[0] == len(measurements)
    snrs = np.array([m.snr for m in measurements if m.snr is not None])
    assert snrs.size and row[1] == pytest.approx(np.median(snrs)) and row[2] == pytest.approx(snrs.max())
    inputs = EventInputs(origin_time=origin.timestamp, latitude=48.089, longitude=-121.914, measurements=measurements)
    features = feature_matrix([inputs], gazetteer=None, reviewed=ReviewedCatalogue.empty())[0]
    assert features[COLUMN["waveform_snr_median"]] == pytest.approx(np.median(snrs))
