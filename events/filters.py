"""Which events: the one filter the review queue, bulletins and the FDSN event service share.

Each caller maps its own parameter names onto `EventFilter`; `events_filter` turns it into SQL. Distances are
great-circle degrees, the seismological unit (convert km with `obspy.geodetics.kilometers2degrees`).
"""

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import FloatField, Q, QuerySet, Value
from django.db.models.functions import ACos, Cos, Degrees, Greatest, Least, Radians, Sin

from events.models import Event

# The bounding box in front of a circle is widened by this much (degrees, about 0.1 m) so that rounding never lets
# the box drop an event the exact distance keeps.
_BOX_MARGIN = 1e-6


@dataclass(frozen=True)
class EventFilter:
    """A selection of events; every criterion is optional and every bound inclusive (`updated_after` is strict).

    Depths in km; latitudes, longitudes and radii in degrees. `longitude_min > longitude_max` is a box across the
    antimeridian. The circle is centred on (`centre_latitude`, `centre_longitude`) and keeps events whose epicentre
    is between `radius_min` and `radius_max` degrees from it (either may be left out, the centre may not).
    An empty tuple means "any"."""

    time_min: dt.datetime | None = None
    time_max: dt.datetime | None = None
    magnitude_min: float | None = None
    magnitude_max: float | None = None
    magnitude_type: str = ""  # compared ignoring case
    depth_min: float | None = None
    depth_max: float | None = None
    latitude_min: float | None = None
    latitude_max: float | None = None
    longitude_min: float | None = None
    longitude_max: float | None = None
    centre_latitude: float | None = None
    centre_longitude: float | None = None
    radius_min: float | None = None
    radius_max: float | None = None
    event_types: tuple[str, ...] = ()
    review_states: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    public_ids: tuple[str, ...] = ()
    event_ids: tuple[int, ...] = ()
    triages: tuple[str, ...] = ()  # conformal triage: "confident", "needs_review"
    updated_after: dt.datetime | None = None

    def __post_init__(self) -> None:
        has_radius = self.radius_min is not None or self.radius_max is not None
        if has_radius and (self.centre_latitude is None or self.centre_longitude is None):
            raise ValueError("a circle needs centre_latitude and centre_longitude")

    @property
    def has_circle(self) -> bool:
        return (
            self.centre_latitude is not None
            and self.centre_longitude is not None
            and (self.radius_min is not None or self.radius_max is not None)
        )


def great_circle_degrees(latitude: float, longitude: float) -> Any:
    """SQL for each event's great-circle distance in degrees from (latitude, longitude): the spherical law of
    cosines, the point's sines and cosines computed once here, the cosine clamped to [-1, 1] against rounding."""
    phi, lam = math.radians(latitude), math.radians(longitude)
    cosine = Value(math.sin(phi)) * Sin(Radians("latitude")) + Value(math.cos(phi)) * Cos(Radians("latitude")) * Cos(
        Radians("longitude") - Value(lam)
    )
    clamped = Least(Value(1.0), Greatest(Value(-1.0), cosine, output_field=FloatField()), output_field=FloatField())
    return Degrees(ACos(clamped, output_field=FloatField()), output_field=FloatField())


def _longitudes_between(west: float | None, east: float | None) -> Q:
    """Longitudes from `west` eastwards to `east`; west > east crosses the antimeridian."""
    if west is not None and east is not None and west > east:
        return Q(longitude__gte=west) | Q(longitude__lte=east)
    between = Q()
    if west is not None:
        between &= Q(longitude__gte=west)
    if east is not None:
        between &= Q(longitude__lte=east)
    return between


def event_filter_around(*, points: Sequence[tuple[float, float]], radius: float) -> EventFilter:
    """A latitude/longitude box holding the circles of `radius` degrees around every (latitude, longitude) point:
    a filter the indexes can use before an exact distance (or on its own, where a box is near enough)."""
    if not points:
        raise ValueError("a box around no points")
    radius += _BOX_MARGIN
    latitudes = [latitude for latitude, _ in points]
    longitudes = [longitude for _, longitude in points]
    south, north = min(latitudes) - radius, max(latitudes) + radius
    if north >= 90.0 or south <= -90.0:  # a circle holds a pole: every longitude
        return EventFilter(latitude_min=south, latitude_max=north)
    # The meridians tangent to the most poleward circle (it holds no pole, so sin(radius) < cos(latitude)); the
    # circles nearer the equator are narrower in longitude.
    poleward = max(abs(latitude) for latitude in latitudes)
    half = math.degrees(math.asin(math.sin(math.radians(radius)) / math.cos(math.radians(poleward))))
    west, east = min(longitudes) - half, max(longitudes) + half
    if east - west >= 360.0:
        return EventFilter(latitude_min=south, latitude_max=north)
    if west < -180.0:
        west += 360.0
    if east > 180.0:
        east -= 360.0
    return EventFilter(latitude_min=south, latitude_max=north, longitude_min=west, longitude_max=east)


def _circle_box(latitude: float, longitude: float, radius: float) -> Q:
    """A latitude/longitude box holding the circle, which the indexes can use before the exact distance."""
    box = event_filter_around(points=[(latitude, longitude)], radius=radius)
    return Q(latitude__gte=box.latitude_min, latitude__lte=box.latitude_max) & _longitudes_between(
        box.longitude_min, box.longitude_max
    )


def events_filter(*, queryset: QuerySet[Event] | None = None, where: EventFilter) -> QuerySet[Event]:
    """The events of `queryset` (all events when left out) that match `where`, in the queryset's order."""
    queryset = Event.objects.all() if queryset is None else queryset
    bounds = {
        "origin_time__gte": where.time_min,
        "origin_time__lte": where.time_max,
        "magnitude__gte": where.magnitude_min,
        "magnitude__lte": where.magnitude_max,
        "magnitude_type__iexact": where.magnitude_type or None,
        "depth__gte": where.depth_min,
        "depth__lte": where.depth_max,
        "latitude__gte": where.latitude_min,
        "latitude__lte": where.latitude_max,
        "updated_at__gt": where.updated_after,
        "event_type__in": where.event_types or None,
        "review_state__in": where.review_states or None,
        "agency_id__in": where.agencies or None,
        "public_id__in": where.public_ids or None,
        "pk__in": where.event_ids or None,
        "triage__in": where.triages or None,
    }
    queryset = queryset.filter(**{lookup: value for lookup, value in bounds.items() if value is not None})
    queryset = queryset.filter(_longitudes_between(where.longitude_min, where.longitude_max))
    if where.has_circle:
        assert where.centre_latitude is not None and where.centre_longitude is not None
        if where.radius_max is not None:
            queryset = queryset.filter(_circle_box(where.centre_latitude, where.centre_longitude, where.radius_max))
        queryset = queryset.alias(
            great_circle_distance=great_circle_degrees(where.centre_latitude, where.centre_longitude)
        )
        if where.radius_min is not None:
            queryset = queryset.filter(great_circle_distance__gte=where.radius_min)
        if where.radius_max is not None:
            queryset = queryset.filter(great_circle_distance__lte=where.radius_max)
    return queryset
