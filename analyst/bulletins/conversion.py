"""Stored events -> ObsPy events, with the review provenance that goes with them.

The store keeps depths and their uncertainties in km and horizontal uncertainties in km (see
ARCHITECTURE.md "Units"); QuakeML wants metres and degrees, so this module converts back.
"""

import contextlib
import datetime as dt
import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from obspy import UTCDateTime
from obspy.core.event import (
    Amplitude as ObspyAmplitude,
)
from obspy.core.event import (
    Arrival as ObspyArrival,
)
from obspy.core.event import (
    Comment,
    CreationInfo,
    EventDescription,
    OriginQuality,
    OriginUncertainty,
    QuantityError,
    ResourceIdentifier,
    WaveformStreamID,
)
from obspy.core.event import (
    Event as ObspyEvent,
)
from obspy.core.event import (
    Magnitude as ObspyMagnitude,
)
from obspy.core.event import (
    Origin as ObspyOrigin,
)
from obspy.core.event import (
    Pick as ObspyPick,
)
from obspy.geodetics import kilometers2degrees

from events.labels import label_in_force
from events.models import Event, Origin
from events.vocabulary import EvaluationStatus, ReviewState
from ranking.models import EventScore

PROVENANCE_PREFIX = "seistriage-provenance "
_QUAKEML_URI = re.compile(
    r"^(smi|quakeml):[\w\d][\w\d\-\.\*\(\)_~']{2,}/[\w\d\-\.\*\(\)_~'][\w\d\-\.\*\(\)\+\?_~'=,;#/&]*$"
)
_NOT_URI_CHARACTER = re.compile(r"[^\w\d\-\.\*\(\)\+\?_~'=,;#/&]")


@dataclass(frozen=True)
class Provenance:
    """Who decided about an event and what ranked it: carried by every exported event."""

    review_state: str
    reviewer: str = ""
    reviewed_at: dt.datetime | None = None
    review_source: str = ""
    importance: float | None = None
    predicted_class: str = ""
    predicted_probability: float | None = None
    ranker_version: str = ""
    model_versions: dict[str, str] = field(default_factory=dict)
    scored_at: dt.datetime | None = None

    def as_json(self) -> str:
        data = asdict(self)
        for key in ("reviewed_at", "scored_at"):
            data[key] = _iso(data[key])
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def model_versions_text(self) -> str:
        versions = dict(self.model_versions)
        if self.ranker_version:
            versions.setdefault("ranker", self.ranker_version)
        return ";".join(f"{kind}={version}" for kind, version in sorted(versions.items()))


@dataclass(frozen=True)
class ExportItem:
    """One event ready for any writer: the ObsPy event, the stored row and its provenance."""

    obspy_event: ObspyEvent
    event: Event
    provenance: Provenance


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def quakeml_uri(text: str) -> str:
    """A valid QuakeML resource identifier for a stored id (stored ids from loose formats may not be)."""
    if _QUAKEML_URI.match(text):
        return text
    return "smi:seistriage.local/id/" + _NOT_URI_CHARACTER.sub("_", text)


def provenance_for(event: Event) -> Provenance:
    """From the event's prefetched `labels` (the one in force counts) and `scores` (newest first)."""
    label = label_in_force(event.labels.all())
    scores: list[EventScore] = list(event.scores.all())
    score = scores[0] if scores else None
    reviewer = ""
    if label is not None:
        reviewer = label.analyst.get_username() if label.analyst is not None else "imported review"
    return Provenance(
        review_state=event.review_state,
        reviewer=reviewer,
        reviewed_at=label.created_at if label is not None else None,
        review_source=label.source if label is not None else "",
        importance=event.importance,
        predicted_class=event.predicted_class,
        predicted_probability=event.predicted_probability,
        ranker_version=score.ranker_version if score is not None else "",
        model_versions={str(k): str(v) for k, v in (score.model_versions if score is not None else {}).items()},
        scored_at=score.scored_at if score is not None else None,
    )


def _time(value: dt.datetime) -> UTCDateTime:
    return UTCDateTime(value)


def _km_to_m(value: float | None) -> float | None:
    return None if value is None else value * 1000.0


def _error(value: float | None) -> QuantityError | None:
    return None if value is None else QuantityError(uncertainty=value)


def _creation(agency: str, author: str) -> CreationInfo | None:
    if not agency and not author:
        return None
    return CreationInfo(agency_id=agency or None, author=author or None)


def _origin(origin: Origin, rejected: bool) -> ObspyOrigin:
    cos_lat = max(math.cos(math.radians(origin.latitude)), 1e-6)
    result = ObspyOrigin(
        resource_id=ResourceIdentifier(quakeml_uri(origin.public_id)),
        time=_time(origin.time),
        time_errors=_error(origin.time_uncertainty),
        latitude=origin.latitude,
        latitude_errors=_error(
            None if origin.latitude_uncertainty is None else kilometers2degrees(origin.latitude_uncertainty)
        ),
        longitude=origin.longitude,
        longitude_errors=_error(
            None if origin.longitude_uncertainty is None else kilometers2degrees(origin.longitude_uncertainty) / cos_lat
        ),
        depth=_km_to_m(origin.depth),
        depth_errors=_error(_km_to_m(origin.depth_uncertainty)),
        method_id=ResourceIdentifier(quakeml_uri(origin.method_id)) if origin.method_id else None,
        earth_model_id=ResourceIdentifier(quakeml_uri(origin.earth_model_id)) if origin.earth_model_id else None,
        evaluation_mode=origin.evaluation_mode or None,
        evaluation_status=EvaluationStatus.REJECTED if rejected else (origin.evaluation_status or None),
        creation_info=_creation(origin.agency_id, origin.author),
    )
    quality = {
        "used_phase_count": origin.used_phase_count,
        "used_station_count": origin.used_station_count,
        "azimuthal_gap": origin.azimuthal_gap,
        "minimum_distance": origin.minimum_distance,
        "standard_error": origin.standard_error,
    }
    if any(value is not None for value in quality.values()):
        result.quality = OriginQuality(**quality)
    if origin.latitude_uncertainty is not None and origin.latitude_uncertainty == origin.longitude_uncertainty:
        result.origin_uncertainty = OriginUncertainty(
            horizontal_uncertainty=origin.latitude_uncertainty * 1000.0,
            preferred_description="horizontal uncertainty",
        )
    return result


def event_to_obspy(event: Event, provenance: Provenance) -> ObspyEvent:
    """One stored event (children prefetched) as an ObsPy event carrying its provenance.

    A rejected event becomes type "not existing" with every origin's evaluation status "rejected".
    The event's creation info is the review's: author = reviewer, creationTime = review time.
    """
    rejected = event.review_state == ReviewState.REJECTED
    event_id = quakeml_uri(event.public_id)
    obspy_event = ObspyEvent(
        resource_id=ResourceIdentifier(event_id),
        event_type="not existing" if rejected else (event.event_type or None),
        event_type_certainty=event.event_type_certainty or None,
    )
    if event.region:
        obspy_event.event_descriptions.append(EventDescription(text=event.region, type="Flinn-Engdahl region"))
    if event.description:
        obspy_event.event_descriptions.append(EventDescription(text=event.description, type="region name"))
    obspy_event.creation_info = CreationInfo(
        agency_id=event.agency_id or None,
        author=provenance.reviewer or event.author or None,
        creation_time=UTCDateTime(provenance.reviewed_at) if provenance.reviewed_at else None,
        version=str(event.version),
    )
    obspy_event.comments.append(
        Comment(
            resource_id=ResourceIdentifier(f"{event_id}/comment/seistriage-provenance"),
            text=PROVENANCE_PREFIX + provenance.as_json(),
        )
    )
    origin_ids: dict[int, str] = {}
    origins: list[Origin] = list(event.origins.all())
    for origin in origins:
        obspy_origin = _origin(origin, rejected)
        origin_ids[origin.pk] = str(obspy_origin.resource_id)
        obspy_event.origins.append(obspy_origin)
    pick_ids: dict[int, str] = {}
    for pick in event.picks.all():
        obspy_pick = ObspyPick(
            resource_id=ResourceIdentifier(quakeml_uri(pick.public_id)),
            time=_time(pick.time),
            time_errors=_error(pick.time_uncertainty),
            waveform_id=WaveformStreamID(
                network_code=pick.network,
                station_code=pick.station,
                location_code=pick.location or None,
                channel_code=pick.channel or None,
            ),
            phase_hint=pick.phase_hint or None,
            onset=pick.onset or None,
            polarity=pick.polarity or None,
            backazimuth=pick.backazimuth,
            method_id=ResourceIdentifier(quakeml_uri(pick.method_id)) if pick.method_id else None,
            evaluation_mode=pick.evaluation_mode or None,
            evaluation_status=pick.evaluation_status or None,
            creation_info=_creation(pick.agency_id, pick.author),
        )
        pick_ids[pick.pk] = str(obspy_pick.resource_id)
        obspy_event.picks.append(obspy_pick)
    for origin, obspy_origin in zip(origins, obspy_event.origins, strict=True):
        for index, arrival in enumerate(origin.arrivals.all()):
            if arrival.pick_id is None or arrival.pick_id not in pick_ids:
                continue  # QuakeML requires an arrival's pick
            arrival_id = arrival.public_id or f"{obspy_origin.resource_id}/arrival/{index}"
            obspy_origin.arrivals.append(
                ObspyArrival(
                    resource_id=ResourceIdentifier(quakeml_uri(arrival_id)),
                    pick_id=ResourceIdentifier(pick_ids[arrival.pick_id]),
                    phase=arrival.phase,
                    distance=arrival.distance,
                    azimuth=arrival.azimuth,
                    takeoff_angle=arrival.takeoff_angle,
                    time_residual=arrival.time_residual,
                    time_weight=arrival.time_weight,
                )
            )
    magnitude_ids: dict[int, str] = {}
    for magnitude in event.magnitudes.all():
        obspy_magnitude = ObspyMagnitude(
            resource_id=ResourceIdentifier(quakeml_uri(magnitude.public_id)),
            mag=magnitude.value,
            mag_errors=_error(magnitude.uncertainty),
            magnitude_type=magnitude.magnitude_type or None,
            origin_id=ResourceIdentifier(origin_ids[magnitude.origin_id])
            if magnitude.origin_id in origin_ids
            else None,
            method_id=ResourceIdentifier(quakeml_uri(magnitude.method_id)) if magnitude.method_id else None,
            station_count=magnitude.station_count,
            evaluation_mode=magnitude.evaluation_mode or None,
            evaluation_status=magnitude.evaluation_status or None,
            creation_info=_creation(magnitude.agency_id, magnitude.author),
        )
        magnitude_ids[magnitude.pk] = str(obspy_magnitude.resource_id)
        obspy_event.magnitudes.append(obspy_magnitude)
    for amplitude in event.amplitudes.all():
        obspy_amplitude = ObspyAmplitude(
            resource_id=ResourceIdentifier(quakeml_uri(amplitude.public_id)),
            generic_amplitude=amplitude.generic_amplitude,
            type=amplitude.amplitude_type or None,
            period=amplitude.period,
            snr=amplitude.snr,
            pick_id=ResourceIdentifier(pick_ids[amplitude.pick_id]) if amplitude.pick_id in pick_ids else None,
            waveform_id=WaveformStreamID(
                network_code=amplitude.network,
                station_code=amplitude.station,
                location_code=amplitude.location or None,
                channel_code=amplitude.channel or None,
            )
            if amplitude.station
            else None,
            magnitude_hint=amplitude.magnitude_hint or None,
            evaluation_mode=amplitude.evaluation_mode or None,
        )
        if amplitude.unit:
            _set_enum(obspy_amplitude, "unit", amplitude.unit)
        obspy_event.amplitudes.append(obspy_amplitude)
    if event.preferred_origin_id in origin_ids:
        obspy_event.preferred_origin_id = ResourceIdentifier(origin_ids[event.preferred_origin_id])
    if event.preferred_magnitude_id in magnitude_ids:
        obspy_event.preferred_magnitude_id = ResourceIdentifier(magnitude_ids[event.preferred_magnitude_id])
    return obspy_event


def _set_enum(obj: Any, name: str, value: str) -> None:
    # A value outside QuakeML's enumeration is left out rather than making the file invalid.
    with contextlib.suppress(ValueError):
        setattr(obj, name, value)


def provenance_parse(obspy_event: ObspyEvent) -> dict[str, Any] | None:
    """The provenance an export wrote into an event's comments, read back (None if absent)."""
    for comment in obspy_event.comments:
        if comment.text and comment.text.startswith(PROVENANCE_PREFIX):
            parsed: dict[str, Any] = json.loads(comment.text[len(PROVENANCE_PREFIX) :])
            return parsed
    return None
