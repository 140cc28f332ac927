"""Waveform features and similarity on real PNW events and their real MiniSEED, imported by the commands.

Three PNSN explosions from the same quarry near 48.09 N 121.92 W (2018-02, 2018-07, 2019-04) and an
earthquake 5-6 km away share stations; the repeated blasts correlate better with each other than with
the earthquake.
"""

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import obspy
import pytest
from django.core.management import call_command
from django.test import override_settings

from analyst.ingest.services import events_ingest_file
from events.importers.catalog_csv import COMCAT_ID_PREFIX
from events.models import Event
from events.vocabulary import ReviewState
from ranking.inputs import events_feature_matrix
from ranking.ml.features import FEATURE_NAMES
from ranking.models import EventWaveformFeatures
from ranking.waveform_features import NO_WAVEFORMS, events_waveform_features

pytestmark = pytest.mark.django_db

QUARRY_BLASTS = ("uw61348817", "uw61394742", "uw61707087")
NEARBY_EARTHQUAKE = "uw61722766"
COLUMN = {name: index for index, name in enumerate(FEATURE_NAMES)}


def _import_pnw(
    shared_data: Path, tmp_path: Path, event_ids: tuple[str, ...], *, waveforms: bool = True
) -> dict[str, Event]:
    """Import PNW catalogue rows as reviewed events and, with ``waveforms``, their MiniSEED folders."""
    if not event_ids:
        return {}
    with (shared_data / "pnw" / "events.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [row for row in reader if row["source_id"] in event_ids]
        fields = reader.fieldnames
    assert fields is not None and len(rows) == len(event_ids)
    path = tmp_path / "pnw_subset.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    events_ingest_file(path=path, reviewed=True)
    for event_id in event_ids if waveforms else ():
        call_command("import_waveforms", str(shared_data / "pnw" / "waveforms" / event_id), stdout=io.StringIO())
    return {e: Event.objects.get(public_id=COMCAT_ID_PREFIX + e) for e in event_ids}


def test_it_measures_every_station_of_a_real_explosion_from_its_own_waveforms(
    shared_data: Path, tmp_path: Path
) -> None:
    events = _import_pnw(shared_data, tmp_path, QUARRY_BLASTS[:1])
    event = events[QUARRY_BLASTS[0]]
    rows = events_waveform_features(events=[event])
    row = rows[event.pk]
    stations = sorted(p.stem for p in (shared_data / "pnw" / "waveforms" / QUARRY_BLASTS[0]).glob("*.mseed"))
    assert sorted(channel["seed_id"] for channel in row.channels) == stations
    # PNW has neither picks nor station coordinates: P is the STA/LTA maximum inside the 150 s record.
    assert {channel["p_source"] for channel in row.channels} == {"sta_lta"}
    for channel in row.channels:
        assert event.origin_time.timestamp() < channel["p_time"] < event.origin_time.timestamp() + 150  # type: ignore[union-attr]
    snrs = [c["measurements"]["snr"] for c in row.channels if c["measurements"]["snr"] is not None]
    assert len(snrs) >= 3 and all(snr > 0 for snr in snrs)

    features = events_feature_matrix(events=[Event.objects.select_related("preferred_origin").get(pk=event.pk)])[0]
    assert features[COLUMN["waveform_station_count"]] == len(stations)
    assert features[COLUMN["waveform_snr_median"]] == pytest.approx(np.median(snrs))
    assert features[COLUMN["waveform_snr_max"]] == pytest.approx(max(snrs))
    assert np.isnan(features[COLUMN["similarity_max_correlation"]])  # no reviewed neighbour has waveforms


def test_cached_features_are_reused_until_the_waveforms_change(shared_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "uw61348817"
    shutil.copytree(shared_data / "pnw" / "waveforms" / QUARRY_BLASTS[0], folder)
    csv_events = _import_pnw(shared_data, tmp_path, QUARRY_BLASTS[:1], waveforms=False)
    call_command("import_waveforms", str(folder), stdout=io.StringIO())
    event = csv_events[QUARRY_BLASTS[0]]
    first = events_waveform_features(events=[event])[event.pk]
    again = events_waveform_features(events=[event])[event.pk]
    assert again.measured_at == first.measured_at  # not read again
    # One station's file is replaced by its first 60 s: the fingerprint changes and the event is measured again.
    path = folder / "UW.JCW..EHZ.mseed"
    stream = obspy.read(str(path), format="MSEED")
    stream.trim(stream[0].stats.starttime, stream[0].stats.starttime + 60)
    stream.write(str(path), format="MSEED")
    call_command("import_waveforms", str(path), stdout=io.StringIO())
    changed = events_waveform_features(events=[event])[event.pk]
    assert changed.fingerprint != first.fingerprint and changed.measured_at > first.measured_at
    jcw = [c for c in changed.channels if c["seed_id"] == "UW.JCW..EHZ"]
    assert jcw and jcw[0]["p_time"] < event.origin_time.timestamp() + 60  # type: ignore[union-attr]


def test_an_event_without_waveforms_gets_no_row_and_missing_features(obspy_data: Path) -> None:
    report = events_ingest_file(path=obspy_data / "io/quakeml/tests/data/usgs_event.xml")
    event = Event.objects.select_related("preferred_origin").get(pk=report.event_ids[0])
    assert events_waveform_features(events=[event]) == {}
    assert not EventWaveformFeatures.objects.filter(event=event).exists()
    features = events_feature_matrix(events=[event])[0]
    assert features[COLUMN["waveform_station_count"]] == 0
    assert np.isnan(features[COLUMN["waveform_kurtosis_median"]]) and np.isnan(
        features[COLUMN["similarity_best_class"]]
    )
    assert NO_WAVEFORMS  # the fingerprint such events share


@override_settings(SEISTRIAGE_SIMILARITY_NEIGHBOURS=5, SEISTRIAGE_SIMILARITY_KM=20.0)
def test_similarity_recognises_a_repeated_quarry_blast_and_not_the_nearby_earthquake(
    shared_data: Path, tmp_path: Path
) -> None:
    events = _import_pnw(shared_data, tmp_path, (*QUARRY_BLASTS, NEARBY_EARTHQUAKE))
    target = events[QUARRY_BLASTS[2]]
    row = events_waveform_features(events=[target])[target.pk]
    assert row.similarity_class == "explosion_like"
    assert row.similarity_event_id in {events[e].pk for e in QUARRY_BLASTS[:2]}
    assert row.similarity_channels and row.similarity_channels >= 2
    blast_correlation = row.similarity_correlation
    assert blast_correlation is not None and 0.0 < blast_correlation <= 1.0

    # Take the earlier blasts out of the reviewed catalogue: the earthquake is the only match left,
    # and it matches worse.
    Event.objects.filter(pk__in=[events[e].pk for e in QUARRY_BLASTS[:2]]).update(review_state=ReviewState.IN_REVIEW)
    row = events_waveform_features(events=[Event.objects.get(pk=target.pk)])[target.pk]
    assert row.similarity_class == "earthquake" and row.similarity_event_id == events[NEARBY_EARTHQUAKE].pk
    assert row.similarity_correlation is not None and row.similarity_correlation < blast_correlation


@override_settings(SEISTRIAGE_SIMILARITY_NEIGHBOURS=1)
def test_similarity_compares_at_most_the_configured_number_of_neighbours(shared_data: Path, tmp_path: Path) -> None:
    events = _import_pnw(shared_data, tmp_path, (*QUARRY_BLASTS, NEARBY_EARTHQUAKE))
    target = events[QUARRY_BLASTS[2]]
    events_waveform_features(events=[target])
    # Only the nearest reviewed event was measured for the comparison, not all three neighbours.
    measured = set(EventWaveformFeatures.objects.values_list("event_id", flat=True))
    assert target.pk in measured and len(measured) == 2
