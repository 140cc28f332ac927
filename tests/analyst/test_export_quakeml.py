"""QuakeML and SC3ML bulletins: schema-valid, streamed in chunks, read back by ObsPy field by field."""

import io
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from lxml import etree
from obspy import read_events
from obspy.core.event import Catalog
from obspy.geodetics import degrees2kilometers

from analyst.bulletins.conversion import provenance_parse, quakeml_uri
from events.models import Event
from tests.support.export_data import catalogue_for_module, export

pytestmark = pytest.mark.django_db
Reviewed = tuple[User, Event, Event]


@pytest.fixture(scope="module")
def reviewed(django_db_setup: None, django_db_blocker: Any, obspy_data: Path) -> Iterator[Reviewed]:
    """ObsPy's bundled bulletins imported once for the module; one Nordic event accepted, one rejected."""
    with catalogue_for_module(django_db_blocker, obspy_data) as catalogue:
        yield catalogue


def _schema(obspy_data: Path, relative: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(obspy_data / relative)))


def _read(data: bytes, format: str) -> Catalog:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_events(io.BytesIO(data), format=format)


def test_it_writes_quakeml_that_validates_against_the_schema_obspy_ships(obspy_data: Path, reviewed: Reviewed) -> None:
    schema = _schema(obspy_data, "io/quakeml/data/QuakeML-1.2.xsd")
    document = etree.parse(io.BytesIO(export("quakeml")))
    assert schema.validate(document), schema.error_log


def test_quakeml_reads_back_with_every_stored_field(reviewed: Reviewed) -> None:
    reviewer, accepted, rejected = reviewed
    catalog = _read(export("quakeml"), "QUAKEML")
    stored = {quakeml_uri(e.public_id): e for e in Event.objects.all()}
    assert len(catalog) == len(stored) == 54
    for read in catalog:
        event = stored[str(read.resource_id)]
        assert read.event_type == ("not existing" if event.pk == rejected.pk else event.event_type or None)
        assert read.event_type_certainty == (event.event_type_certainty or None)
        origin_ids = [quakeml_uri(o.public_id) for o in event.origins.order_by("id")]
        assert [str(o.resource_id) for o in read.origins] == origin_ids
        for origin, row in zip(read.origins, event.origins.order_by("id"), strict=True):
            assert origin.time.datetime.replace(tzinfo=row.time.tzinfo) == row.time
            assert (origin.latitude, origin.longitude) == pytest.approx((row.latitude, row.longitude))
            assert origin.depth == pytest.approx(row.depth * 1000.0 if row.depth is not None else None)
            if row.latitude_uncertainty is not None:
                assert degrees2kilometers(origin.latitude_errors.uncertainty) == pytest.approx(row.latitude_uncertainty)
            if row.depth_uncertainty is not None:
                assert origin.depth_errors.uncertainty == pytest.approx(row.depth_uncertainty * 1000.0)
            assert origin.evaluation_mode == (row.evaluation_mode or None)
            expected_status = "rejected" if event.pk == rejected.pk else row.evaluation_status or None
            assert origin.evaluation_status == expected_status
            arrivals = [(a.phase, a.distance, a.time_residual) for a in row.arrivals.order_by("id") if a.pick_id]
            assert [(a.phase, a.distance, a.time_residual) for a in origin.arrivals] == arrivals
        assert [(m.mag, m.magnitude_type) for m in read.magnitudes] == list(
            event.magnitudes.order_by("id").values_list("value", "magnitude_type")
        )
        picks = event.picks.order_by("id")
        assert [(p.waveform_id.station_code, p.phase_hint, p.onset, p.polarity) for p in read.picks] == [
            (p.station, p.phase_hint or None, p.onset or None, p.polarity or None) for p in picks
        ]
        assert [a.generic_amplitude for a in read.amplitudes] == list(
            event.amplitudes.order_by("id").values_list("generic_amplitude", flat=True)
        )
        assert read.preferred_origin().resource_id == quakeml_uri(event.preferred_origin.public_id)  # type: ignore[union-attr]
    accepted_read = next(e for e in catalog if str(e.resource_id) == quakeml_uri(accepted.public_id))
    assert accepted_read.event_type == "quarry blast" and accepted_read.event_type_certainty == "suspected"
    assert accepted_read.creation_info.author == reviewer.username
    provenance = provenance_parse(accepted_read)
    assert provenance is not None
    assert provenance["reviewer"] == reviewer.username and provenance["review_state"] == "accepted"
    assert provenance["review_source"] == "analyst" and provenance["reviewed_at"]


def test_by_default_only_accepted_events_are_exported(reviewed: Reviewed) -> None:
    _, accepted, rejected = reviewed
    catalog = _read(export("quakeml", status="accepted"), "QUAKEML")
    ids = {str(e.resource_id) for e in catalog}
    assert quakeml_uri(accepted.public_id) in ids and quakeml_uri(rejected.public_id) not in ids
    assert len(ids) == Event.objects.filter(review_state="accepted").count()
    assert all(e.event_type != "not existing" for e in catalog)


def test_small_chunks_write_the_same_document_as_one_big_chunk(reviewed: Reviewed) -> None:
    for format in ("quakeml", "sc3ml", "ims1.0", "csv", "geojson", "kml"):
        assert export(format, chunk_size=7) == export(format, chunk_size=1000), format


def test_the_number_of_queries_depends_on_the_chunks_not_the_events(
    reviewed: Reviewed, django_assert_max_num_queries: object
) -> None:
    with django_assert_max_num_queries(3 * 10):  # type: ignore[operator]
        export("quakeml", chunk_size=20)  # 54 events: 3 chunks of one event query plus 9 prefetches


def test_it_writes_sc3ml_that_validates_and_obspy_reads_back(obspy_data: Path, reviewed: Reviewed) -> None:
    _, _, rejected = reviewed
    data = export("sc3ml")
    schema = _schema(obspy_data, "io/seiscomp/data/sc3ml_0.12.xsd")
    assert schema.validate(etree.parse(io.BytesIO(data))), schema.error_log
    catalog = _read(data, "SC3ML")
    stored = {quakeml_uri(e.public_id): e for e in Event.objects.all()}
    assert len(catalog) == len(stored)
    for read in catalog:
        event = stored[str(read.resource_id)]
        expected_type = "not existing" if event.pk == rejected.pk else event.event_type or None
        assert read.event_type == expected_type  # ObsPy maps SeisComP's names back to QuakeML's
        origin = read.preferred_origin()
        row = event.preferred_origin
        assert origin is not None and row is not None
        assert origin.time.datetime.replace(tzinfo=row.time.tzinfo) == row.time
        assert (origin.latitude, origin.longitude) == pytest.approx((row.latitude, row.longitude))
        assert [(m.mag, m.magnitude_type) for m in read.magnitudes] == list(
            event.magnitudes.order_by("id").values_list("value", "magnitude_type")
        )
        assert [(a.phase, a.distance) for a in origin.arrivals] == [
            (a.phase, a.distance) for a in row.arrivals.order_by("id") if a.pick_id
        ]
