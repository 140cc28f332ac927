"""Readers for catalogue CSV layouts ObsPy does not read: the USGS ComCat feed (22 and 15 columns),
the PNSN catalogue CSV of the PNW-ML dataset, and the IRIS Exotic Seismic Events Catalog (ESEC).

Each reader turns rows into ObsPy events so one importer stores every format the same way.
"""

import csv
import datetime as dt
import math
from collections.abc import Callable, Iterator
from pathlib import Path

from obspy import UTCDateTime
from obspy.core.event import (
    Catalog,
    CreationInfo,
    Event,
    EventDescription,
    Magnitude,
    Origin,
    OriginQuality,
    OriginUncertainty,
    QuantityError,
    ResourceIdentifier,
)

from events.vocabulary import QUAKEML_EVENT_TYPES
from fileimport.errors import ImportFileError
from fileimport.text import text_without_controls

COMCAT_COLUMNS_15 = [
    "time",
    "latitude",
    "longitude",
    "depth",
    "mag",
    "magType",
    "nst",
    "gap",
    "dmin",
    "rms",
    "net",
    "id",
    "updated",
    "place",
    "type",
]
COMCAT_COLUMNS_22 = [
    *COMCAT_COLUMNS_15,
    *["horizontalError", "depthError", "magError", "magNst", "status", "locationSource", "magSource"],
]
PNSN_COLUMNS = [
    "source_id",
    "timestamp",
    "event_type",
    "year",
    "month",
    "day",
    "doy",
    "hour",
    "minute",
    "second",
    "microsecond",
    "latitude",
    "longitude",
    "depth",
    "magnitude",
    "magnitude_type",
    "contributor",
    "number_of_pick",
]
ESEC_REQUIRED = ("eventid", "starttime", "latitude", "longitude", "type")

# ESEC describes surface events in its own words; map them onto the QuakeML 1.2 vocabulary.
ESEC_TYPES = {
    "rock fall": "rockslide",
    "debris fall": "rockslide",
    "rock and ice fall": "rockslide",
    "rock slide": "rockslide",
    "landslide": "landslide",
    "debris slide": "landslide",
    "rock avalanche": "debris avalanche",
    "rock and ice avalanche": "debris avalanche",
    "ice and rock avalanche": "debris avalanche",
    "ice avalanche": "avalanche",
    "debris avalanche": "debris avalanche",
    "snow avalanche": "snow avalanche",
    "ice and snow avalanche": "snow avalanche",
    "debris flow": "slide",
    "debris flow flume experiment": "slide",
    "lahar": "slide",
    "outburst flood": "slide",
    "mine collapse": "mine collapse",
}

COMCAT_ID_PREFIX = "quakeml:earthquake.usgs.gov/fdsnws/event/1/query?eventid="
ESEC_ID_PREFIX = "smi:esec.iris.edu/event/"


def sniff_csv_layout(path: Path) -> str | None:
    """Return 'comcat', 'pnsn' or 'esec' when the file's header matches that layout, else None."""
    try:
        with path.open("r", encoding="utf-8", newline="") as handle:
            header = handle.readline().strip().lstrip("\ufeff")
    except (UnicodeDecodeError, OSError):
        return None
    columns = [c.strip() for c in header.split(",")]
    if columns in (COMCAT_COLUMNS_22, COMCAT_COLUMNS_15):
        return "comcat"
    if columns == PNSN_COLUMNS:
        return "pnsn"
    if "|" in header and all(name in header.split("|") for name in ESEC_REQUIRED):
        return "esec"
    return None


def _event_type(value: str, path: Path, line: int, field: str) -> str | None:
    cleaned = value.strip().lower()
    if cleaned == "":
        return None
    if cleaned not in QUAKEML_EVENT_TYPES:
        raise ImportFileError(path, f"field {field!r}: {value!r} is not a QuakeML 1.2 event type", line=line)
    return cleaned


def _float(row: dict[str, str], field: str, path: Path, line: int, *, required: bool = False) -> float | None:
    value = (row.get(field) or "").strip()
    if value == "":
        if required:
            raise ImportFileError(path, f"field {field!r} is empty", line=line)
        return None
    try:
        number = float(value)
    except ValueError:
        raise ImportFileError(path, f"field {field!r}: {value!r} is not a number", line=line) from None
    if not math.isfinite(number):
        raise ImportFileError(path, f"field {field!r}: {value[:40]!r} is not a finite number", line=line)
    return number


def _int(row: dict[str, str], field: str, path: Path, line: int) -> int | None:
    number = _float(row, field, path, line)
    if number is not None and not -(2**31) <= number < 2**31:
        raise ImportFileError(path, f"field {field!r}: {row[field].strip()[:40]!r} is not a plausible count", line=line)
    return None if number is None else int(number)


def _check_coordinates(latitude: float, longitude: float, path: Path, line: int) -> None:
    if not -90.0 <= latitude <= 90.0:
        raise ImportFileError(path, f"field 'latitude': {latitude} is outside -90..90", line=line)
    if not -180.0 <= longitude <= 360.0:
        raise ImportFileError(path, f"field 'longitude': {longitude} is outside -180..360", line=line)


def _utc(value: str, path: Path, line: int, field: str) -> UTCDateTime:
    try:
        return UTCDateTime(value.strip())
    except (ValueError, TypeError):
        raise ImportFileError(path, f"field {field!r}: {value!r} is not a time", line=line) from None


def _unix_time(seconds: float, path: Path, line: int) -> UTCDateTime:
    try:
        return UTCDateTime(seconds)
    except (ValueError, TypeError, OverflowError):
        raise ImportFileError(path, f"field 'timestamp': {seconds!r} is not a time", line=line) from None


def _rows(path: Path, delimiter: str) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        with path.open("r", encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            for row in reader:
                if None in row:
                    raise ImportFileError(path, "row has more fields than the header", line=reader.line_num)
                yield reader.line_num, {name: text_without_controls(value or "") for name, value in row.items()}
    except UnicodeDecodeError as error:
        raise ImportFileError(path, f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    except csv.Error as error:
        raise ImportFileError(path, f"CSV error: {error}") from None


def _origin_event(
    *,
    public_id: str,
    time: UTCDateTime,
    latitude: float,
    longitude: float,
    depth_km: float | None,
    event_type: str | None,
    agency: str,
) -> tuple[Event, Origin]:
    origin = Origin(
        resource_id=ResourceIdentifier(public_id + "#origin"),
        time=time,
        latitude=latitude,
        longitude=longitude,
        depth=None if depth_km is None else depth_km * 1000.0,
        creation_info=CreationInfo(agency_id=agency or None),
    )
    event = Event(resource_id=ResourceIdentifier(public_id), event_type=event_type, origins=[origin])
    event.preferred_origin_id = origin.resource_id
    event.creation_info = CreationInfo(agency_id=agency or None)
    return event, origin


def _add_magnitude(event: Event, origin: Origin, value: float | None, magnitude_type: str, **extra: object) -> None:
    if value is None:
        return
    magnitude = Magnitude(
        resource_id=ResourceIdentifier(str(event.resource_id) + "#magnitude"),
        mag=value,
        magnitude_type=magnitude_type or None,
        origin_id=origin.resource_id,
        **extra,
    )
    event.magnitudes.append(magnitude)
    event.preferred_magnitude_id = magnitude.resource_id


def read_comcat_csv(path: Path) -> Catalog:
    """USGS ComCat feed CSV. Depth and errors in km, `dmin` in degrees, `gap` in degrees."""
    events = []
    for line, row in _rows(path, ","):
        latitude = _float(row, "latitude", path, line, required=True)
        longitude = _float(row, "longitude", path, line, required=True)
        assert latitude is not None and longitude is not None
        _check_coordinates(latitude, longitude, path, line)
        event_id = (row.get("id") or "").strip()
        if not event_id:
            raise ImportFileError(path, "field 'id' is empty", line=line)
        status = (row.get("status") or "").strip().lower()
        mode = "manual" if status == "reviewed" else "automatic" if status == "automatic" else None
        event, origin = _origin_event(
            public_id=COMCAT_ID_PREFIX + event_id,
            time=_utc(row["time"], path, line, "time"),
            latitude=latitude,
            longitude=longitude,
            depth_km=_float(row, "depth", path, line),
            event_type=_event_type(row.get("type") or "", path, line, "type"),
            agency=(row.get("net") or "").strip(),
        )
        origin.evaluation_mode = mode
        origin.evaluation_status = "reviewed" if status == "reviewed" else "preliminary" if mode else None
        origin.quality = OriginQuality(
            used_station_count=_int(row, "nst", path, line),
            azimuthal_gap=_float(row, "gap", path, line),
            minimum_distance=_float(row, "dmin", path, line),
            standard_error=_float(row, "rms", path, line),
        )
        horizontal_error = _float(row, "horizontalError", path, line)
        if horizontal_error is not None:
            origin.origin_uncertainty = OriginUncertainty(horizontal_uncertainty=horizontal_error * 1000.0)
        depth_error = _float(row, "depthError", path, line)
        if depth_error is not None:
            origin.depth_errors = QuantityError(uncertainty=depth_error * 1000.0)
        if row.get("place"):
            event.event_descriptions.append(EventDescription(text=row["place"], type="region name"))
        mag_error = _float(row, "magError", path, line)
        _add_magnitude(
            event,
            origin,
            _float(row, "mag", path, line),
            (row.get("magType") or "").strip(),
            mag_errors=QuantityError(uncertainty=mag_error),
            station_count=_int(row, "magNst", path, line),
            evaluation_mode=mode,
        )
        events.append(event)
    return Catalog(events=events)


def read_pnsn_csv(path: Path) -> Catalog:
    """PNSN catalogue CSV (PNW-ML): Unix `timestamp`, depth in km (negative above sea level)."""
    events = []
    for line, row in _rows(path, ","):
        latitude = _float(row, "latitude", path, line, required=True)
        longitude = _float(row, "longitude", path, line, required=True)
        timestamp = _float(row, "timestamp", path, line, required=True)
        assert latitude is not None and longitude is not None and timestamp is not None
        _check_coordinates(latitude, longitude, path, line)
        event_id = row["source_id"].strip()
        if not event_id:
            raise ImportFileError(path, "field 'source_id' is empty", line=line)
        event, origin = _origin_event(
            public_id=COMCAT_ID_PREFIX + event_id,
            time=_unix_time(timestamp, path, line),
            latitude=latitude,
            longitude=longitude,
            depth_km=_float(row, "depth", path, line),
            event_type=_event_type(row.get("event_type") or "", path, line, "event_type"),
            agency=(row.get("contributor") or "").strip(),
        )
        origin.quality = OriginQuality(used_phase_count=_int(row, "number_of_pick", path, line))
        _add_magnitude(event, origin, _float(row, "magnitude", path, line), (row.get("magnitude_type") or "").strip())
        events.append(event)
    return Catalog(events=events)


def read_esec_catalog(path: Path) -> Catalog:
    """IRIS Exotic Seismic Events Catalog (`|`-separated); `starttime` like `2014_09_10 192115`."""
    events = []
    for line, row in _rows(path, "|"):
        latitude = _float(row, "latitude", path, line, required=True)
        longitude = _float(row, "longitude", path, line, required=True)
        assert latitude is not None and longitude is not None
        _check_coordinates(latitude, longitude, path, line)
        raw_time = row["starttime"].strip()
        try:
            start = dt.datetime.strptime(raw_time, "%Y_%m_%d %H%M%S").replace(tzinfo=dt.UTC)
        except ValueError:
            raise ImportFileError(
                path, f"field 'starttime': {raw_time!r} is not YYYY_MM_DD HHMMSS", line=line
            ) from None
        esec_type = row["type"].strip().lower()
        first_word = esec_type.split(",")[0].strip()
        event_type = ESEC_TYPES.get(first_word) or ESEC_TYPES.get(esec_type) or "other event"
        event, _origin = _origin_event(
            public_id=ESEC_ID_PREFIX + row["eventid"].strip(),
            time=UTCDateTime(start),
            latitude=latitude,
            longitude=longitude,
            depth_km=0.0,
            event_type=event_type,
            agency="ESEC",
        )
        name = (row.get("name") or "").strip()
        text = f"{name}: {esec_type}" if name else esec_type
        event.event_descriptions.append(EventDescription(text=text, type="earthquake name"))
        events.append(event)
    return Catalog(events=events)


CSV_READERS: dict[str, Callable[[Path], Catalog]] = {
    "comcat": read_comcat_csv,
    "pnsn": read_pnsn_csv,
    "esec": read_esec_catalog,
}
