"""A streaming QuakeML 1.2 reader that builds the store's records straight from the XML.

ObsPy's reader parses the whole document into a tree, then builds an object for every element (most of which
the store never reads), with one XPath query per field: 50 events/s on a catalogue with picks, and memory that
grows with the file. This one walks the file with lxml's `iterparse`, one <event> at a time (cleared once read,
so memory stays flat), and reads only what the store keeps, with ObsPy's own rules for each field so that both
routes store the same rows (tests/events/test_quakeml_stream.py compares them field by field):

- a field's value is the text of its first element; empty text is no value; text that does not convert (a
  number, a count, a time) is no value, as ObsPy leaves it None with a warning;
- vocabulary fields (evaluation mode, onset, ...) go through ObsPy's own Enum tables, so case and spelling are
  accepted or left out exactly as ObsPy does;
- an event whose type is not a QuakeML 1.2 type is left out, as ObsPy does, but reported as skipped;
- where ObsPy refuses the whole file (a non-finite number in a field it types as a float, two creationInfo in one
  element), this reader refuses it too, naming the element and its line.

What it does not take on, it hands back whole to ObsPy: `quakeml_streamable` says no to anything but a
QuakeML 1.2 document whose first child is a BED <eventParameters> in the default namespace, and an event that
redeclares the default namespace raises NotStreamable mid-file (the import then starts again with ObsPy, in a
fresh transaction). No data is ever dropped for being unexpected.
"""

import datetime as dt
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from lxml import etree
from obspy import UTCDateTime
from obspy.core.event.header import (
    AmplitudeUnit,
    EvaluationMode,
    EvaluationStatus,
    EventType,
    EventTypeCertainty,
    PickOnset,
    PickPolarity,
)
from obspy.core.util import Enum

from events.importers.records import (
    AmplitudeRecord,
    ArrivalRecord,
    EventRecord,
    MagnitudeRecord,
    OriginRecord,
    PickRecord,
)
from fileimport.errors import ImportFileError
from fileimport.text import text_float

BED = "http://quakeml.org/xmlns/bed/1.2"
_ROOT_TAG = re.compile(r"^{http://quakeml.org/xmlns/quakeml/1\.2}quakeml$")
_PREFIX = "{" + BED + "}"
_EVENT_PARAMETERS = _PREFIX + "eventParameters"
_EVENT = _PREFIX + "event"
_VALUE = _PREFIX + "value"
_UNCERTAINTY = _PREFIX + "uncertainty"
_ORIGIN, _ARRIVAL, _MAGNITUDE, _PICK, _AMPLITUDE, _DESCRIPTION = (
    _PREFIX + name for name in ("origin", "arrival", "magnitude", "pick", "amplitude", "description")
)
_ISO_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?Z?\Z")

T = TypeVar("T")
# An element's children by tag, the first of each (as ObsPy's `xpath(...)[0]` takes).
Children = dict[Any, Any]


class NotStreamable(Exception):
    """The file holds something this reader leaves to ObsPy; the caller reads the whole file with ObsPy instead."""


def quakeml_streamable(path: Path) -> bool:
    """Whether `path` is a QuakeML 1.2 document this reader takes: no DOCTYPE (the other route refuses it, with
    fileimport.checks' reasons), the root <q:quakeml>, and as its first child node a BED <eventParameters> whose
    default namespace is BED (ObsPy looks children up in the default one). Reads the head of the file only."""
    parser_events = ("start", "comment", "pi")
    try:
        context = etree.iterparse(str(path), events=parser_events, resolve_entities=False, no_network=True)
        nodes = iter(context)
        kind, root = next(nodes)
        while kind != "start":  # comments and processing instructions before the root
            kind, root = next(nodes)
        document = root.getroottree().docinfo
        if document.doctype or document.internalDTD is not None or not _ROOT_TAG.match(root.tag):
            return False
        kind, first = next(nodes)
    except (etree.XMLSyntaxError, StopIteration, OSError):
        return False
    return bool(kind == "start" and first.tag == _EVENT_PARAMETERS and first.nsmap.get(None) == BED)


def _children(element: Any) -> Children:
    """The element's children by tag, the first one of each tag (a dict built backwards, in C: walking them in
    Python, or lxml's find() per field, cost twice as much)."""
    return {child.tag: child for child in reversed(element)}


def _int(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _time(text: str | None) -> dt.datetime | None:
    """ObsPy's UTCDateTime reading of a QuakeML time, at microseconds, without its cost for the usual form."""
    if not text:
        return None
    match = _ISO_TIME.match(text)
    if match is not None:
        year, month, day, hour, minute, second, fraction = match.groups()
        try:
            return dt.datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second),
                int(fraction.ljust(6, "0")) if fraction else 0,
                tzinfo=dt.UTC,
            )
        except ValueError:
            pass  # out-of-range parts: UTCDateTime decides, below
    try:
        return UTCDateTime(text).datetime.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
    except Exception:  # UTCDateTime raises several types on text it cannot read; ObsPy leaves the value out
        return None


def _enum_reader(enum: Enum) -> Callable[[str | None], str | None]:
    known: dict[str, str | None] = {}

    def read(text: str | None) -> str | None:
        if not text:
            return None
        if text not in known:
            known[text] = enum(text)
        return known[text]

    return read


_evaluation_mode = _enum_reader(EvaluationMode)
_evaluation_status = _enum_reader(EvaluationStatus)
_onset = _enum_reader(PickOnset)
_polarity = _enum_reader(PickPolarity)
_amplitude_unit = _enum_reader(AmplitudeUnit)
_type_certainty = _enum_reader(EventTypeCertainty)
_event_type = _enum_reader(EventType)


class _EventReader:
    """Turns one <event> element into an EventRecord; errors name the file, element and line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def text(children: Children, name: str) -> str | None:
        found = children.get(_PREFIX + name)
        return None if found is None else found.text or None

    def finite(self, value: float | None, element: Any, name: str) -> float | None:
        if value is not None and not math.isfinite(value):
            tag = etree.QName(element).localname
            raise ImportFileError(self.path, f"<{tag}> {name}: {value} is not a finite number", line=element.sourceline)
        return value

    def float_field(self, children: Children, name: str, element: Any) -> float | None:
        return self.finite(text_float(self.text(children, name)), element, name)

    def quantity(
        self, children: Children, name: str, convert: Callable[[str | None], T]
    ) -> tuple[T | None, float | None]:
        """A QuakeML quantity's value and uncertainty (the first <value> and <uncertainty> of its first element)."""
        found = children.get(_PREFIX + name)
        if found is None:
            return None, None
        parts = _children(found)
        value, uncertainty = parts.get(_VALUE), parts.get(_UNCERTAINTY)
        return (
            None if value is None else convert(value.text),
            None if uncertainty is None else text_float(uncertainty.text),
        )

    def float_quantity(self, children: Children, name: str, element: Any) -> tuple[float | None, float | None]:
        value, uncertainty = self.quantity(children, name, text_float)
        return self.finite(value, element, name), uncertainty

    def one(self, children: Children, name: str, element: Any) -> Children | None:
        """The children of the element's only <name> child, or None; a second one refuses the file, as ObsPy
        refuses it."""
        found = children.get(_PREFIX + name)
        if found is None:
            return None
        if len(children) < len(element):  # some tag repeats: is it this one?
            second = next(found.itersiblings(_PREFIX + name), None)
            if second is not None:
                tag = etree.QName(element).localname
                raise ImportFileError(self.path, f"<{tag}> has more than one <{name}>", line=second.sourceline)
        return _children(found)

    def creation(self, children: Children, element: Any) -> tuple[str | None, str | None]:
        info = self.one(children, "creationInfo", element)
        if info is None:
            return None, None
        return self.text(info, "agencyID"), self.text(info, "author")

    @staticmethod
    def waveform(children: Children) -> tuple[str | None, str | None, str | None, str | None]:
        found = children.get(_PREFIX + "waveformID")
        if found is None:
            return None, None, None, None
        get = found.get
        return get("networkCode") or "", get("stationCode") or "", get("locationCode"), get("channelCode")

    def arrival(self, element: Any) -> ArrivalRecord:
        children = _children(element)
        takeoff_angle, _ = self.float_quantity(children, "takeoffAngle", element)
        return ArrivalRecord(
            resource_id=element.get("publicID"),
            pick_id=self.text(children, "pickID") or "",
            phase=self.text(children, "phase") or "",
            distance=self.float_field(children, "distance", element),
            azimuth=self.float_field(children, "azimuth", element),
            takeoff_angle=takeoff_angle,
            time_residual=self.float_field(children, "timeResidual", element),
            time_weight=self.float_field(children, "timeWeight", element),
        )

    def origin(self, element: Any) -> OriginRecord:
        children = _children(element)
        time, time_uncertainty = self.quantity(children, "time", _time)
        latitude, latitude_uncertainty = self.float_quantity(children, "latitude", element)
        longitude, longitude_uncertainty = self.float_quantity(children, "longitude", element)
        depth, depth_uncertainty = self.float_quantity(children, "depth", element)
        quality = self.one(children, "quality", element) or {}
        uncertainty = self.one(children, "originUncertainty", element) or {}
        agency, author = self.creation(children, element)
        return OriginRecord(
            resource_id=element.get("publicID"),
            time=time,
            latitude=latitude,
            longitude=longitude,
            time_uncertainty=time_uncertainty,
            latitude_uncertainty=latitude_uncertainty,
            longitude_uncertainty=longitude_uncertainty,
            horizontal_uncertainty=self.float_field(uncertainty, "horizontalUncertainty", element),
            depth=depth,
            depth_uncertainty=depth_uncertainty,
            used_phase_count=_int(self.text(quality, "usedPhaseCount")),
            used_station_count=_int(self.text(quality, "usedStationCount")),
            azimuthal_gap=self.float_field(quality, "azimuthalGap", element),
            minimum_distance=self.float_field(quality, "minimumDistance", element),
            standard_error=self.float_field(quality, "standardError", element),
            evaluation_mode=_evaluation_mode(self.text(children, "evaluationMode")),
            evaluation_status=_evaluation_status(self.text(children, "evaluationStatus")),
            method_id=self.text(children, "methodID"),
            earth_model_id=self.text(children, "earthModelID"),
            agency_id=agency,
            author=author,
            arrivals=[self.arrival(arrival) for arrival in element.iterchildren(_ARRIVAL)],
        )

    def pick(self, element: Any) -> PickRecord:
        children = _children(element)
        time, time_uncertainty = self.quantity(children, "time", _time)
        backazimuth, _ = self.float_quantity(children, "backazimuth", element)
        network, station, location, channel = self.waveform(children)
        agency, author = self.creation(children, element)
        return PickRecord(
            resource_id=element.get("publicID"),
            time=time,
            time_uncertainty=time_uncertainty,
            network=network,
            station=station,
            location=location,
            channel=channel,
            phase_hint=self.text(children, "phaseHint"),
            onset=_onset(self.text(children, "onset")),
            polarity=_polarity(self.text(children, "polarity")),
            backazimuth=backazimuth,
            evaluation_mode=_evaluation_mode(self.text(children, "evaluationMode")),
            evaluation_status=_evaluation_status(self.text(children, "evaluationStatus")),
            method_id=self.text(children, "methodID"),
            agency_id=agency,
            author=author,
        )

    def magnitude(self, element: Any) -> MagnitudeRecord:
        children = _children(element)
        mag, uncertainty = self.float_quantity(children, "mag", element)
        agency, author = self.creation(children, element)
        return MagnitudeRecord(
            resource_id=element.get("publicID"),
            mag=mag,
            magnitude_type=self.text(children, "type"),
            origin_id=self.text(children, "originID"),
            uncertainty=uncertainty,
            station_count=_int(self.text(children, "stationCount")),
            evaluation_mode=_evaluation_mode(self.text(children, "evaluationMode")),
            evaluation_status=_evaluation_status(self.text(children, "evaluationStatus")),
            method_id=self.text(children, "methodID"),
            agency_id=agency,
            author=author,
        )

    def amplitude(self, element: Any) -> AmplitudeRecord:
        children = _children(element)
        generic_amplitude, _ = self.float_quantity(children, "genericAmplitude", element)
        period, _ = self.float_quantity(children, "period", element)
        network, station, location, channel = self.waveform(children)
        snr_text = self.text(children, "snr")
        snr = None
        if snr_text is not None:
            try:
                # ObsPy reads snr as text, then its Amplitude type insists on a number: no number refuses the file.
                snr = float(snr_text)
            except ValueError:
                raise ImportFileError(
                    self.path, f"<amplitude> snr: {snr_text[:40]!r} is not a number", line=element.sourceline
                ) from None
        return AmplitudeRecord(
            resource_id=element.get("publicID"),
            generic_amplitude=generic_amplitude,
            pick_id=self.text(children, "pickID"),
            amplitude_type=self.text(children, "type"),
            unit=_amplitude_unit(self.text(children, "unit")),
            period=period,
            snr=self.finite(snr, element, "snr"),
            network=network,
            station=station,
            location=location,
            channel=channel,
            magnitude_hint=self.text(children, "magnitudeHint"),
            evaluation_mode=_evaluation_mode(self.text(children, "evaluationMode")),
        )

    def event(self, element: Any) -> EventRecord:
        if element.nsmap.get(None) != BED:
            raise NotStreamable(f"line {element.sourceline}: an <event> with another default namespace")
        children = _children(element)
        record = EventRecord(resource_id=element.get("publicID"), line=element.sourceline)
        type_text = self.text(children, "type")
        if type_text is not None:
            type_text = "not reported" if type_text == "null" else type_text.replace("_", " ")
            record.event_type = _event_type(type_text)
            if record.event_type is None:
                record.unreadable = f"type {type_text!r} is not a QuakeML 1.2 event type"
                return record
        record.event_type_certainty = _type_certainty(self.text(children, "typeCertainty"))
        record.agency_id, record.author = self.creation(children, element)
        for description in element.iterchildren(_DESCRIPTION):
            text = self.text(_children(description), "text")
            if text:
                record.descriptions.append(text)
        record.preferred_origin_id = self.text(children, "preferredOriginID")
        record.preferred_magnitude_id = self.text(children, "preferredMagnitudeID")
        record.origins = [self.origin(origin) for origin in element.iterchildren(_ORIGIN)]
        record.magnitudes = [self.magnitude(magnitude) for magnitude in element.iterchildren(_MAGNITUDE)]
        record.picks = [self.pick(pick) for pick in element.iterchildren(_PICK)]
        record.amplitudes = [self.amplitude(amplitude) for amplitude in element.iterchildren(_AMPLITUDE)]
        return record


def quakeml_event_records(path: Path) -> Iterator[EventRecord]:
    """The events of the first <eventParameters> of a QuakeML 1.2 file (see quakeml_streamable), one record at a
    time; each <event> is freed once read. Raises ImportFileError naming the line on malformed XML (where it is met:
    the caller's transaction undoes what came before), and NotStreamable on an event it leaves to ObsPy."""
    reader = _EventReader(path)
    context = etree.iterparse(
        str(path),
        events=("end",),
        tag=_EVENT,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
    )
    try:
        for _, element in context:
            parent = element.getparent()
            # Only the first <eventParameters>, a child of the root, as ObsPy reads it.
            if (
                parent is not None
                and parent.tag == _EVENT_PARAMETERS
                and parent.getprevious() is None
                and parent.getparent() is not None
                and parent.getparent().getparent() is None
            ):
                yield reader.event(element)
            element.clear()
            while element.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as error:
        raise ImportFileError(
            path, f"XML syntax error at line {error.lineno}, column {error.offset}: {error.msg}"
        ) from None
