"""Parsing an fdsnws-event 1.2 query into EventCriteria, its parameters mapped onto an EventFilter; bad parameters
raise FdsnParameterError (HTTP 400)."""

import datetime as dt
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings

from analyst.bulletins.selection import ORDERINGS, EventCriteria
from analyst.web.parameters import BIGINT_MAX, ParameterError, integer_parse, number_parse, time_parse
from events.filters import EventFilter
from events.vocabulary import QUAKEML_EVENT_TYPES, ReviewState

ALIASES = {
    "start": "starttime",
    "end": "endtime",
    "minlat": "minlatitude",
    "maxlat": "maxlatitude",
    "minlon": "minlongitude",
    "maxlon": "maxlongitude",
    "lat": "latitude",
    "lon": "longitude",
    "minmag": "minmagnitude",
    "maxmag": "maxmagnitude",
    "magtype": "magnitudetype",
}
PARAMETERS = (
    "starttime",
    "endtime",
    "minlatitude",
    "maxlatitude",
    "minlongitude",
    "maxlongitude",
    "latitude",
    "longitude",
    "minradius",
    "maxradius",
    "mindepth",
    "maxdepth",
    "minmagnitude",
    "maxmagnitude",
    "magnitudetype",
    "eventtype",
    "includeallorigins",
    "includeallmagnitudes",
    "includearrivals",
    "eventid",
    "limit",
    "offset",
    "orderby",
    "catalog",
    "contributor",
    "updatedafter",
    "format",
    "nodata",
)
_FLOAT_RANGES = {
    "minlatitude": (-90.0, 90.0),
    "maxlatitude": (-90.0, 90.0),
    "minlongitude": (-180.0, 180.0),
    "maxlongitude": (-180.0, 180.0),
    "latitude": (-90.0, 90.0),
    "longitude": (-180.0, 180.0),
    "minradius": (0.0, 180.0),
    "maxradius": (0.0, 180.0),
    "mindepth": (-20.0, 7000.0),
    "maxdepth": (-20.0, 7000.0),
    "minmagnitude": (-12.0, 12.0),
    "maxmagnitude": (-12.0, 12.0),
}


class FdsnParameterError(ValueError):
    """A query the specification calls bad (HTTP 400); the message names the parameter."""


@dataclass(frozen=True)
class FdsnQuery:
    criteria: EventCriteria
    include_all_origins: bool
    include_all_magnitudes: bool
    include_arrivals: bool
    format: str
    nodata: int


def served_review_states() -> tuple[str, ...]:
    if settings.SEISTRIAGE_FDSN_EVENTS == "all":
        return tuple(state for state in ReviewState.values if state != ReviewState.REJECTED)
    return (ReviewState.ACCEPTED,)


def _time(name: str, value: str) -> dt.datetime:
    try:
        return time_parse(name=name, raw=value)
    except ParameterError as error:
        raise FdsnParameterError(str(error)) from None


def _float(name: str, value: str) -> float:
    low, high = _FLOAT_RANGES[name]
    try:
        return number_parse(name=name, raw=value, minimum=low, maximum=high)
    except ParameterError as error:
        raise FdsnParameterError(str(error)) from None


def _int(name: str, value: str, minimum: int) -> int:
    try:
        return integer_parse(name=name, raw=value, minimum=minimum, maximum=BIGINT_MAX)
    except ParameterError as error:
        raise FdsnParameterError(str(error)) from None


def _event_ids(value: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """eventid: public ids, or our numeric ids; a part made of digits must be an id (ASCII, within bigint)."""
    parts = [part for part in value.split(",") if part]
    numeric = [_int("eventid", part, 0) for part in parts if part.isdigit() or part.isdecimal()]
    return tuple(part for part in parts if not (part.isdigit() or part.isdecimal())), tuple(numeric)


def _bool(name: str, value: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise FdsnParameterError(f"{name}: {value!r} is not true or false")


def _event_types(value: str) -> tuple[str, ...]:
    """Comma-separated types, `*` and `?` wildcards allowed, matched case-insensitively."""
    chosen: list[str] = []
    for pattern in (part.strip().lower() for part in value.split(",")):
        matches = [t for t in QUAKEML_EVENT_TYPES if fnmatch.fnmatchcase(t, pattern)]
        if not matches:
            raise FdsnParameterError(f"eventtype: {pattern!r} matches no QuakeML 1.2 event type")
        chosen.extend(t for t in matches if t not in chosen)
    return tuple(chosen)


def fdsn_query_parse(params: Mapping[str, str]) -> FdsnQuery:
    values: dict[str, str] = {}
    for raw_name, value in params.items():
        if "\x00" in raw_name or "\x00" in value:  # PostgreSQL cannot compare with a NUL character
            raise FdsnParameterError(f"{raw_name!r}: NUL characters are not allowed")
        name = ALIASES.get(raw_name.lower(), raw_name.lower())
        if name not in PARAMETERS:
            raise FdsnParameterError(f"unknown parameter {raw_name!r}")
        if name in values:
            raise FdsnParameterError(f"{name} given twice")
        values[name] = value
    floats = {name: _float(name, values[name]) for name in _FLOAT_RANGES if name in values}
    for low, high in (
        ("minlatitude", "maxlatitude"),
        ("mindepth", "maxdepth"),
        ("minmagnitude", "maxmagnitude"),
        ("minradius", "maxradius"),
    ):
        if low in floats and high in floats and floats[low] > floats[high]:
            raise FdsnParameterError(f"{low} must not exceed {high}")
    if ("minradius" in floats or "maxradius" in floats) and not ("latitude" in floats and "longitude" in floats):
        raise FdsnParameterError("minradius/maxradius need latitude and longitude")
    start = _time("starttime", values["starttime"]) if "starttime" in values else None
    end = _time("endtime", values["endtime"]) if "endtime" in values else None
    if start and end and end < start:
        raise FdsnParameterError("endtime must not be before starttime")
    order = values.get("orderby", "time").lower()
    if order not in ORDERINGS:
        raise FdsnParameterError(f"orderby: must be one of {', '.join(ORDERINGS)}, got {order!r}")
    output = values.get("format", "xml").lower()
    if output not in ("xml", "text"):
        raise FdsnParameterError(f"format: must be xml or text, got {output!r}")
    nodata = _int("nodata", values.get("nodata", "204"), 0)
    if nodata not in (204, 404):
        raise FdsnParameterError("nodata: must be 204 or 404")
    catalog = values.get("catalog")
    if catalog is not None and catalog != settings.SEISTRIAGE_AGENCY_ID:
        raise FdsnParameterError(f"catalog: this service has only {settings.SEISTRIAGE_AGENCY_ID!r}")
    public_ids, event_ids = _event_ids(values.get("eventid", ""))
    where = EventFilter(
        review_states=served_review_states(),
        time_min=start,
        time_max=end,
        latitude_min=floats.get("minlatitude"),
        latitude_max=floats.get("maxlatitude"),
        longitude_min=floats.get("minlongitude"),
        longitude_max=floats.get("maxlongitude"),
        centre_latitude=floats.get("latitude"),
        centre_longitude=floats.get("longitude"),
        radius_min=floats.get("minradius"),
        radius_max=floats.get("maxradius"),
        depth_min=floats.get("mindepth"),
        depth_max=floats.get("maxdepth"),
        magnitude_min=floats.get("minmagnitude"),
        magnitude_max=floats.get("maxmagnitude"),
        magnitude_type=values.get("magnitudetype", ""),
        event_types=_event_types(values["eventtype"]) if "eventtype" in values else (),
        updated_after=_time("updatedafter", values["updatedafter"]) if "updatedafter" in values else None,
        public_ids=public_ids,
        event_ids=event_ids,
        agencies=tuple(c.strip() for c in values["contributor"].split(",")) if "contributor" in values else (),
    )
    criteria = EventCriteria(
        where=where,
        order=order,
        limit=_int("limit", values["limit"], 1) if "limit" in values else None,
        offset=_int("offset", values["offset"], 1) - 1 if "offset" in values else 0,
    )
    return FdsnQuery(
        criteria=criteria,
        include_all_origins=_bool("includeallorigins", values.get("includeallorigins", "false")),
        include_all_magnitudes=_bool("includeallmagnitudes", values.get("includeallmagnitudes", "false")),
        include_arrivals=_bool("includearrivals", values.get("includearrivals", "false")),
        format=output,
        nodata=nodata,
    )
