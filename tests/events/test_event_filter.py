"""The one event filter, on real events: 50 located by the New Zealand network (Nordic, longitude about 170.4 E)
and two in the Czech mining area (IMS1.0, 49.8 N 18.6 E), one of them a mining explosion."""

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from obspy.geodetics import kilometers2degrees, locations2degrees

from events.filters import EventFilter, events_filter
from events.importers.store import events_import_file
from events.models import Event

pytestmark = pytest.mark.django_db

BLAST = "smi:local/ims10bulletin/event/2032257"  # 49.8219 N 18.5593 E, ML 1.2, depth 1 km
INDUCED = "smi:local/ims10bulletin/event/2032696"  # 49.8293 N 18.5549 E, ML 1.0, depth 1 km


@pytest.fixture
def events(obspy_data: Path) -> list[Event]:
    events_import_file(path=obspy_data / "io/iaspei/tests/data/ipe202409sel_ims.txt")
    events_import_file(path=obspy_data / "io/nordic/tests/data/select.out")
    return list(Event.objects.all())


def found(where: EventFilter) -> set[str]:
    return set(events_filter(where=where).values_list("public_id", flat=True))


def those(events: list[Event], keep: Callable[[Event], bool]) -> set[str]:
    return {event.public_id for event in events if keep(event)}


def czech(event: Event) -> bool:
    return event.longitude is not None and event.longitude < 100


def new_zealand(event: Event) -> bool:
    return event.longitude is not None and event.longitude > 100


def test_the_data_holds_both_regions(events: list[Event]) -> None:
    assert len(those(events, new_zealand)) == 50
    assert those(events, czech) == {BLAST, INDUCED}


def test_an_empty_filter_keeps_every_event(events: list[Event]) -> None:
    assert found(EventFilter()) == {event.public_id for event in events}


def test_a_given_queryset_is_narrowed_not_replaced(events: list[Event]) -> None:
    czech_only = Event.objects.filter(longitude__lt=100)
    narrowed = events_filter(queryset=czech_only, where=EventFilter(magnitude_min=1.1))
    assert set(narrowed.values_list("public_id", flat=True)) == {BLAST}


def test_a_time_range_keeps_the_events_of_that_day_bounds_included(events: list[Event]) -> None:
    day = EventFilter(
        time_min=dt.datetime(2013, 9, 11, tzinfo=dt.UTC), time_max=dt.datetime(2013, 9, 12, tzinfo=dt.UTC)
    )
    assert found(day) == those(
        events, lambda e: e.origin_time is not None and e.origin_time.date() == dt.date(2013, 9, 11)
    )
    assert len(found(day)) == 5
    blast_time = Event.objects.get(public_id=BLAST).origin_time
    assert found(EventFilter(time_min=blast_time, time_max=blast_time)) == {BLAST}


def test_a_magnitude_range_keeps_the_magnitudes_within_it(events: list[Event]) -> None:
    assert found(EventFilter(magnitude_min=1.7, magnitude_max=1.8)) == those(
        events, lambda e: e.magnitude is not None and 1.7 <= e.magnitude <= 1.8
    )
    assert len(found(EventFilter(magnitude_min=1.7, magnitude_max=1.8))) == 6
    assert found(EventFilter(magnitude_min=1.15, magnitude_max=1.25, longitude_max=100)) == {BLAST}


def test_a_magnitude_type_matches_ignoring_case(events: list[Event]) -> None:
    assert found(EventFilter(magnitude_type="ml")) == those(events, lambda e: e.magnitude_type == "ML")
    assert len(found(EventFilter(magnitude_type="ml"))) == 52
    assert found(EventFilter(magnitude_type="mb")) == set()


def test_a_depth_range_in_km_keeps_the_shallow_mining_events(events: list[Event]) -> None:
    assert found(EventFilter(depth_min=0, depth_max=2)) == {BLAST, INDUCED}
    assert found(EventFilter(depth_min=10)) == those(events, lambda e: e.depth is not None and e.depth >= 10)
    assert len(found(EventFilter(depth_min=10))) == 3  # 10.6, 10.4 and 10.1 km


def test_a_latitude_range_keeps_one_hemisphere(events: list[Event]) -> None:
    assert found(EventFilter(latitude_min=40)) == {BLAST, INDUCED}
    assert found(EventFilter(latitude_max=0)) == those(events, new_zealand)
    assert found(EventFilter(latitude_min=49.825, latitude_max=49.83)) == {INDUCED}


def test_a_longitude_box_keeps_what_lies_between_its_edges(events: list[Event]) -> None:
    east_of_170_4 = those(events, lambda e: e.longitude is not None and 170.4 <= e.longitude <= 171)
    assert 0 < len(east_of_170_4) < 50
    assert found(EventFilter(longitude_min=170.4, longitude_max=171)) == east_of_170_4
    assert found(EventFilter(latitude_min=-44, latitude_max=-43, longitude_min=170, longitude_max=171)) == those(
        events, new_zealand
    )


def test_a_box_across_the_antimeridian_keeps_both_sides_of_it(events: list[Event]) -> None:
    assert found(EventFilter(longitude_min=170, longitude_max=-170)) == those(events, new_zealand)
    # From 170.4 E eastwards over the antimeridian to 18.556 E: the eastern New Zealand events and the event at
    # 18.5549 E, not the explosion at 18.5593 E.
    across = EventFilter(longitude_min=170.4, longitude_max=18.556)
    assert found(across) == those(events, lambda e: e.longitude is not None and e.longitude >= 170.4) | {INDUCED}


def test_a_circle_in_degrees_keeps_the_events_within_its_radius(events: list[Event]) -> None:
    # The two Czech events are 0.88 km apart.
    around_blast = EventFilter(centre_latitude=49.8219, centre_longitude=18.5593, radius_max=kilometers2degrees(0.5))
    assert found(around_blast) == {BLAST}
    wider = EventFilter(centre_latitude=49.8219, centre_longitude=18.5593, radius_max=kilometers2degrees(2.0))
    assert found(wider) == {BLAST, INDUCED}


def test_a_circle_keeps_exactly_the_events_great_circle_distance_says(events: list[Event]) -> None:
    centre = (-43.34, 170.376)
    radius = kilometers2degrees(4.0)

    def within(event: Event) -> bool:
        assert event.latitude is not None and event.longitude is not None
        return bool(locations2degrees(*centre, event.latitude, event.longitude) <= radius)

    expected = those(events, within)
    assert 0 < len(expected) < 50
    assert found(EventFilter(centre_latitude=centre[0], centre_longitude=centre[1], radius_max=radius)) == expected


def test_a_ring_leaves_out_what_is_nearer_than_its_inner_radius(events: list[Event]) -> None:
    far_from_the_blast = EventFilter(centre_latitude=49.8219, centre_longitude=18.5593, radius_min=1.0)
    assert found(far_from_the_blast) == those(events, new_zealand)
    ring = EventFilter(
        centre_latitude=49.8219,
        centre_longitude=18.5593,
        radius_min=kilometers2degrees(0.5),
        radius_max=kilometers2degrees(2.0),
    )
    assert found(ring) == {INDUCED}


def test_a_circle_across_the_antimeridian_reaches_the_other_side(events: list[Event]) -> None:
    # Centred at 179 W, New Zealand's events are about 7 degrees west of it, across the antimeridian.
    assert found(EventFilter(centre_latitude=-43.35, centre_longitude=-179.0, radius_max=8.0)) == those(
        events, new_zealand
    )
    assert found(EventFilter(centre_latitude=-43.35, centre_longitude=-179.0, radius_max=6.0)) == set()


def test_a_circle_over_the_pole_reaches_events_on_the_far_side_of_it(events: list[Event]) -> None:
    # 80 N 170 W: the Czech events are 50 degrees away over the North Pole, far outside any box of longitudes
    # around 170 W.
    over_the_pole = EventFilter(centre_latitude=80.0, centre_longitude=-170.0, radius_max=60.0)
    assert found(over_the_pole) == {BLAST, INDUCED}


def test_a_radius_without_a_centre_is_refused() -> None:
    with pytest.raises(ValueError, match="centre_latitude and centre_longitude"):
        EventFilter(radius_max=1.0)


def test_event_types_keep_the_events_of_those_types(events: list[Event]) -> None:
    assert found(EventFilter(event_types=("mining explosion",))) == {BLAST}
    assert found(EventFilter(event_types=("mining explosion", "induced or triggered event"))) == {BLAST, INDUCED}
    assert found(EventFilter(event_types=("earthquake",))) == those(events, new_zealand)


def test_review_states_keep_the_events_in_those_states(events: list[Event]) -> None:
    Event.objects.filter(public_id__in=[BLAST, INDUCED]).update(review_state="accepted")
    Event.objects.filter(public_id=BLAST).update(review_state="rejected")
    assert found(EventFilter(review_states=("accepted",))) == {INDUCED}
    assert found(EventFilter(review_states=("accepted", "rejected"))) == {BLAST, INDUCED}
    assert found(EventFilter(review_states=("new",))) == those(events, new_zealand)


def test_agencies_keep_the_events_of_those_agencies(events: list[Event]) -> None:
    Event.objects.filter(public_id=BLAST).update(agency_id="IPEC")
    by_agency = {event.public_id: event.agency_id for event in Event.objects.all()}
    assert found(EventFilter(agencies=("IPEC",))) == {BLAST}
    others = {agency for public_id, agency in by_agency.items() if public_id != BLAST}
    assert found(EventFilter(agencies=tuple(others))) == set(by_agency) - {BLAST}


def test_public_ids_and_event_ids_pick_those_events(events: list[Event]) -> None:
    assert found(EventFilter(public_ids=(BLAST, "smi:local/no-such-event"))) == {BLAST}
    induced = Event.objects.get(public_id=INDUCED)
    assert found(EventFilter(event_ids=(induced.pk,))) == {INDUCED}
    assert found(EventFilter(public_ids=(BLAST,), event_ids=(induced.pk,))) == set()  # criteria combine with AND


def test_updated_after_keeps_what_changed_since(events: list[Event]) -> None:
    cutoff = max(event.updated_at for event in events)
    assert found(EventFilter(updated_after=cutoff)) == set()
    blast = Event.objects.get(public_id=BLAST)
    blast.region = "Czech Republic"
    blast.save()
    assert found(EventFilter(updated_after=cutoff)) == {BLAST}


def test_criteria_combine(events: list[Event]) -> None:
    combined = EventFilter(
        time_min=dt.datetime(2013, 9, 11, tzinfo=dt.UTC),
        time_max=dt.datetime(2013, 9, 12, tzinfo=dt.UTC),
        magnitude_min=1.8,
        longitude_min=170.0,
        longitude_max=-170.0,
    )
    assert found(combined) == those(
        events,
        lambda e: (
            e.origin_time is not None
            and e.origin_time.date() == dt.date(2013, 9, 11)
            and e.magnitude is not None
            and e.magnitude >= 1.8
        ),
    )
    assert len(found(combined)) == 3
