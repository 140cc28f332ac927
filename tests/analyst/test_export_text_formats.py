"""IMS1.0, ComCat CSV, GeoJSON and KML bulletins read back; every QuakeML type through every format."""

import csv
import io
import json
import warnings
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from lxml import etree
from obspy import read_events
from obspy.io.iaspei.core import EVENT_TYPE_CERTAINTY

from analyst.bulletins.types import IMS_CODES, SEISCOMP_EVENT_TYPES, ims_event_code
from analyst.ingest.services import events_ingest_file
from analyst.review import event_review
from events.importers.catalog_csv import COMCAT_COLUMNS_22, read_comcat_csv
from events.models import Event
from events.vocabulary import QUAKEML_EVENT_TYPES
from tests.support.export_data import export, import_bundled, review_some

pytestmark = pytest.mark.django_db


def test_obspy_reads_our_ims_bulletin_back_with_the_same_origins_magnitudes_and_phases(
    obspy_data: Path, analyst: User
) -> None:
    import_bundled(obspy_data)
    accepted, rejected = review_some(analyst)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        catalog = read_events(io.BytesIO(export("ims1.0")), format="IMS10BULLETIN")
    stored = {e.pk: e for e in Event.objects.all()}
    assert len(catalog) == len(stored)
    for read in catalog:
        event = stored[int(str(read.resource_id).rsplit("/", 1)[-1])]
        origin, row = read.preferred_origin(), event.preferred_origin
        assert origin is not None and row is not None
        assert abs(origin.time.timestamp - row.time.timestamp()) <= 0.005
        assert origin.latitude == pytest.approx(row.latitude, abs=5e-5)
        assert origin.longitude == pytest.approx(row.longitude, abs=5e-5)
        if row.depth is not None:
            assert origin.depth == pytest.approx(row.depth * 1000.0, abs=50.0)
        assert [(m.magnitude_type, m.mag) for m in read.magnitudes] == [
            (m.magnitude_type or None, pytest.approx(m.value, abs=0.05)) for m in event.magnitudes.order_by("id")
        ]
        picks = sorted(event.picks.all(), key=lambda p: (p.time, p.pk))
        assert [(p.waveform_id.station_code, p.phase_hint) for p in read.picks] == [
            (p.station, p.phase_hint) for p in picks
        ]
        for read_pick, pick in zip(read.picks, picks, strict=True):
            assert abs(read_pick.time.timestamp - pick.time.timestamp()) <= 0.0005
        # IMS1.0 readers make an arrival only where the distance or residual is non-zero.
        arrivals = {a.pick_id: a for a in row.arrivals.all() if a.distance or a.time_residual}
        assert len(origin.arrivals) == len(arrivals)
        for arrival in origin.arrivals:
            stored_arrival = arrivals[int(str(arrival.pick_id).rsplit("/", 1)[-1])]
            assert arrival.distance == pytest.approx(stored_arrival.distance, abs=0.0051)
            assert arrival.time_residual == pytest.approx(stored_arrival.time_residual, abs=0.051)
        code = ims_event_code("" if event.pk == rejected.pk else event.event_type, event.event_type_certainty)
        assert (read.event_type, read.event_type_certainty) == EVENT_TYPE_CERTAINTY[code]
        comments = " ".join(c.text for c in origin.comments)
        assert f"Seistriage review: {'rejected' if event.pk == rejected.pk else event.review_state}" in comments
    accepted_read = next(e for e in catalog if str(e.resource_id).endswith(f"/{accepted.pk}"))
    assert "reviewer ana" in " ".join(c.text for c in accepted_read.preferred_origin().comments)


def test_the_csv_has_comcats_22_columns_first_and_reads_back(shared_data: Path, tmp_path: Path, analyst: User) -> None:
    events_ingest_file(path=shared_data / "catalogs/comcat_all_week_2021-05.csv")
    event = Event.objects.order_by("origin_time", "id").first()
    assert event is not None
    event_review(event_id=event.pk, user=analyst, version=event.version, decision="accept", event_type="earthquake")
    data = export("csv")
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0][:22] == COMCAT_COLUMNS_22
    path = tmp_path / "bulletin.csv"
    path.write_bytes(data)
    catalog = read_comcat_csv(path)
    stored = {e.public_id: e for e in Event.objects.all()}
    assert len(catalog) == len(stored) == 2047
    for read in catalog:
        row = stored[str(read.resource_id)]
        origin = read.origins[0]
        assert abs(origin.time.timestamp - row.origin_time.timestamp()) <= 0.0005  # type: ignore[union-attr]
        assert (origin.latitude, origin.longitude) == (row.latitude, row.longitude)
        assert origin.depth == (row.depth * 1000.0 if row.depth is not None else None)
        assert (read.magnitudes[0].mag if read.magnitudes else None) == row.magnitude
        assert read.event_type == (row.event_type or None)
    reviewed = next(r for r in csv.DictReader(io.StringIO(data.decode())) if r["reviewedBy"] == "ana")
    assert reviewed["status"] == "reviewed" and reviewed["reviewStatus"] == "accepted"


def test_geojson_and_kml_carry_each_event_with_its_review(obspy_data: Path, analyst: User) -> None:
    import_bundled(obspy_data)
    accepted, rejected = review_some(analyst)
    features = json.loads(export("geojson"))["features"]
    assert len(features) == Event.objects.count()
    by_id = {f["properties"]["publicID"]: f for f in features}
    assert by_id[accepted.public_id]["properties"]["reviewedBy"] == "ana"
    coordinates = [accepted.longitude, accepted.latitude, accepted.depth]
    assert by_id[accepted.public_id]["geometry"]["coordinates"] == coordinates
    assert by_id[rejected.public_id]["properties"]["type"] == "not existing"
    assert by_id[rejected.public_id]["properties"]["status"] == "deleted"
    kml = etree.fromstring(export("kml"))
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    placemarks = kml.findall(".//k:Placemark", ns)
    assert len(placemarks) == Event.objects.count()
    mark = next(p for p in placemarks if p.get("id") == str(accepted.pk))
    data = {d.get("name"): d.findtext("k:value", namespaces=ns) for d in mark.findall(".//k:Data", ns)}
    assert data["type"] == "quarry blast" and data["reviewedBy"] == "ana"
    lon, lat, _ = str(mark.findtext(".//k:coordinates", namespaces=ns)).split(",")
    assert (float(lon), float(lat)) == (accepted.longitude, accepted.latitude)


def _types_in_export(format: str) -> set[str]:
    data = export(format)
    if format == "quakeml":
        return {
            t.text or ""
            for t in etree.fromstring(data).iter("{http://quakeml.org/xmlns/bed/1.2}type")
            if t.getparent().tag.endswith("}event")
        }
    if format == "sc3ml":
        return {
            t.text or ""
            for t in etree.fromstring(data).iter()
            if str(t.tag).endswith("}type") and str(t.getparent().tag).endswith("}event")
        }
    if format == "ims1.0":
        return {line[115:117] for line in data.decode().splitlines() if line[:4].isdigit() and line[4] == "/"}
    if format == "csv":
        return {row["type"] for row in csv.DictReader(io.StringIO(data.decode()))}
    if format == "geojson":
        return {f["properties"]["type"] for f in json.loads(data)["features"]}
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    return {
        d.findtext("k:value", namespaces=ns) or ""
        for d in etree.fromstring(data).iterfind(".//k:Data", ns)
        if d.get("name") == "type"
    }


def test_every_quakeml_type_maps_into_each_formats_vocabulary(obspy_data: Path) -> None:
    events_ingest_file(path=obspy_data / "io/nordic/tests/data/select.out")
    events = list(Event.objects.order_by("id")[: len(QUAKEML_EVENT_TYPES)])
    assert len(events) == 44
    for event, event_type in zip(events, QUAKEML_EVENT_TYPES, strict=True):
        Event.objects.filter(pk=event.pk).update(event_type=event_type, review_state="accepted")
    vocabularies = {
        "quakeml": set(QUAKEML_EVENT_TYPES),
        "sc3ml": set(SEISCOMP_EVENT_TYPES),
        "ims1.0": set(IMS_CODES),
        "csv": set(QUAKEML_EVENT_TYPES),
        "geojson": set(QUAKEML_EVENT_TYPES),
        "kml": set(QUAKEML_EVENT_TYPES),
    }
    for format, vocabulary in vocabularies.items():
        found = _types_in_export(format)
        assert found <= vocabulary, (format, found - vocabulary)
        assert len(found) >= {"ims1.0": 8, "sc3ml": 44}.get(format, 44), (format, found)
    assert ims_event_code("quarry blast", "suspected") == "sm" and ims_event_code("thunder", "known") == "uk"
