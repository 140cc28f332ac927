"""What the event store keeps of a file's events, as plain records that every reader produces.

ObsPy's readers give a Catalog, which `records_from_obspy` turns into these; the streaming QuakeML reader
(events.importers.quakeml_stream) builds them straight from the XML without ObsPy's object tree. The store
(events.importers.store) only ever sees records, so both routes store the same rows for the same file.

Values are as the file gave them, before the store's own conversions (units, lengths, control characters):
QuakeML units (depth and horizontal uncertainty in m, latitude/longitude uncertainty in degrees), times as aware
UTC datetimes, resource ids as text (None where the file has none).
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from obspy.core.event import Event as ObspyEvent


@dataclass(slots=True)
class PickRecord:
    resource_id: str | None
    time: dt.datetime | None
    time_uncertainty: float | None = None
    # The waveformID's codes; all None when the pick has none.
    network: str | None = None
    station: str | None = None
    location: str | None = None
    channel: str | None = None
    phase_hint: str | None = None
    onset: str | None = None
    polarity: str | None = None
    backazimuth: float | None = None
    evaluation_mode: str | None = None
    evaluation_status: str | None = None
    method_id: str | None = None
    agency_id: str | None = None
    author: str | None = None


@dataclass(slots=True)
class ArrivalRecord:
    resource_id: str | None
    pick_id: str | None
    phase: str | None = None
    distance: float | None = None
    azimuth: float | None = None
    takeoff_angle: float | None = None
    time_residual: float | None = None
    time_weight: float | None = None


@dataclass(slots=True)
class OriginRecord:
    resource_id: str | None
    time: dt.datetime | None
    latitude: float | None
    longitude: float | None
    time_uncertainty: float | None = None
    latitude_uncertainty: float | None = None  # degrees
    longitude_uncertainty: float | None = None  # degrees
    horizontal_uncertainty: float | None = None  # m (originUncertainty)
    depth: float | None = None  # m
    depth_uncertainty: float | None = None  # m
    used_phase_count: int | None = None
    used_station_count: int | None = None
    azimuthal_gap: float | None = None
    minimum_distance: float | None = None
    standard_error: float | None = None
    evaluation_mode: str | None = None
    evaluation_status: str | None = None
    method_id: str | None = None
    earth_model_id: str | None = None
    agency_id: str | None = None
    author: str | None = None
    arrivals: list[ArrivalRecord] = field(default_factory=list)

    @property
    def located(self) -> bool:
        return self.time is not None and self.latitude is not None and self.longitude is not None


@dataclass(slots=True)
class MagnitudeRecord:
    resource_id: str | None
    mag: float | None
    magnitude_type: str | None = None
    origin_id: str | None = None
    uncertainty: float | None = None
    station_count: int | None = None
    evaluation_mode: str | None = None
    evaluation_status: str | None = None
    method_id: str | None = None
    agency_id: str | None = None
    author: str | None = None


@dataclass(slots=True)
class AmplitudeRecord:
    resource_id: str | None
    generic_amplitude: float | None
    pick_id: str | None = None
    amplitude_type: str | None = None
    unit: str | None = None
    period: float | None = None
    snr: float | None = None
    network: str | None = None
    station: str | None = None
    location: str | None = None
    channel: str | None = None
    magnitude_hint: str | None = None
    evaluation_mode: str | None = None


@dataclass(slots=True)
class EventRecord:
    resource_id: str | None
    event_type: str | None = None
    event_type_certainty: str | None = None
    descriptions: list[str] = field(default_factory=list)
    agency_id: str | None = None
    author: str | None = None
    preferred_origin_id: str | None = None
    preferred_magnitude_id: str | None = None
    origins: list[OriginRecord] = field(default_factory=list)
    magnitudes: list[MagnitudeRecord] = field(default_factory=list)
    picks: list[PickRecord] = field(default_factory=list)
    amplitudes: list[AmplitudeRecord] = field(default_factory=list)
    # Where the event starts in its file (XML line), for messages; None where the reader does not know.
    line: int | None = None
    # Why the reader could not take the event (the store skips it and says why); None when it could.
    unreadable: str | None = None

    def preferred_origin(self) -> OriginRecord | None:
        """The preferred origin, or the first one when the file names none (or one it does not hold). Of origins
        that share an id, the last one is the one the id names (as for every reference the store resolves)."""
        if self.preferred_origin_id is not None:
            for origin in reversed(self.origins):
                if origin.resource_id == self.preferred_origin_id:
                    return origin
        return self.origins[0] if self.origins else None

    def preferred_magnitude(self) -> MagnitudeRecord | None:
        if self.preferred_magnitude_id is not None:
            for magnitude in reversed(self.magnitudes):
                if magnitude.resource_id == self.preferred_magnitude_id:
                    return magnitude
        return self.magnitudes[0] if self.magnitudes else None


def _id(resource_id: Any) -> str | None:
    return None if resource_id is None else str(resource_id)


def _time(value: Any) -> dt.datetime | None:
    return None if value is None else value.datetime.replace(tzinfo=dt.UTC)


def _uncertainty(errors: Any) -> float | None:
    return None if errors is None else errors.uncertainty


def _creation(obj: Any) -> tuple[str | None, str | None]:
    info = getattr(obj, "creation_info", None)
    return (None, None) if info is None else (info.agency_id, info.author)


def _codes(waveform: Any) -> tuple[str | None, str | None, str | None, str | None]:
    if waveform is None:
        return None, None, None, None
    return waveform.network_code, waveform.station_code, waveform.location_code, waveform.channel_code


def _origin_record(origin: Any) -> OriginRecord:
    quality = origin.quality
    agency, author = _creation(origin)
    return OriginRecord(
        resource_id=_id(origin.resource_id),
        time=_time(origin.time),
        latitude=origin.latitude,
        longitude=origin.longitude,
        time_uncertainty=_uncertainty(origin.time_errors),
        latitude_uncertainty=_uncertainty(origin.latitude_errors),
        longitude_uncertainty=_uncertainty(origin.longitude_errors),
        horizontal_uncertainty=getattr(origin.origin_uncertainty, "horizontal_uncertainty", None),
        depth=origin.depth,
        depth_uncertainty=_uncertainty(origin.depth_errors),
        used_phase_count=getattr(quality, "used_phase_count", None),
        used_station_count=getattr(quality, "used_station_count", None),
        azimuthal_gap=getattr(quality, "azimuthal_gap", None),
        minimum_distance=getattr(quality, "minimum_distance", None),
        standard_error=getattr(quality, "standard_error", None),
        evaluation_mode=origin.evaluation_mode,
        evaluation_status=origin.evaluation_status,
        method_id=_id(origin.method_id),
        earth_model_id=_id(origin.earth_model_id),
        agency_id=agency,
        author=author,
        arrivals=[
            ArrivalRecord(
                resource_id=_id(arrival.resource_id),
                pick_id=_id(arrival.pick_id),
                phase=arrival.phase,
                distance=arrival.distance,
                azimuth=arrival.azimuth,
                takeoff_angle=arrival.takeoff_angle,
                time_residual=arrival.time_residual,
                time_weight=arrival.time_weight,
            )
            for arrival in origin.arrivals
        ],
    )


def _pick_record(pick: Any) -> PickRecord:
    network, station, location, channel = _codes(pick.waveform_id)
    agency, author = _creation(pick)
    return PickRecord(
        resource_id=_id(pick.resource_id),
        time=_time(pick.time),
        time_uncertainty=_uncertainty(pick.time_errors),
        network=network,
        station=station,
        location=location,
        channel=channel,
        phase_hint=pick.phase_hint,
        onset=pick.onset,
        polarity=pick.polarity,
        backazimuth=pick.backazimuth,
        evaluation_mode=pick.evaluation_mode,
        evaluation_status=pick.evaluation_status,
        method_id=_id(pick.method_id),
        agency_id=agency,
        author=author,
    )


def _magnitude_record(magnitude: Any) -> MagnitudeRecord:
    agency, author = _creation(magnitude)
    return MagnitudeRecord(
        resource_id=_id(magnitude.resource_id),
        mag=magnitude.mag,
        magnitude_type=magnitude.magnitude_type,
        origin_id=_id(magnitude.origin_id),
        uncertainty=_uncertainty(magnitude.mag_errors),
        station_count=magnitude.station_count,
        evaluation_mode=magnitude.evaluation_mode,
        evaluation_status=magnitude.evaluation_status,
        method_id=_id(magnitude.method_id),
        agency_id=agency,
        author=author,
    )


def _amplitude_record(amplitude: Any) -> AmplitudeRecord:
    network, station, location, channel = _codes(amplitude.waveform_id)
    return AmplitudeRecord(
        resource_id=_id(amplitude.resource_id),
        generic_amplitude=amplitude.generic_amplitude,
        pick_id=_id(amplitude.pick_id),
        amplitude_type=amplitude.type,
        unit=amplitude.unit,
        period=amplitude.period,
        snr=amplitude.snr,
        network=network,
        station=station,
        location=location,
        channel=channel,
        magnitude_hint=amplitude.magnitude_hint,
        evaluation_mode=amplitude.evaluation_mode,
    )


def event_record_from_obspy(event: ObspyEvent) -> EventRecord:
    """The record of one ObsPy event (any reader's), with what the store keeps of it."""
    agency, author = _creation(event)
    return EventRecord(
        resource_id=_id(event.resource_id),
        event_type=event.event_type,
        event_type_certainty=event.event_type_certainty,
        descriptions=[d.text for d in event.event_descriptions if d.text],
        agency_id=agency,
        author=author,
        preferred_origin_id=_id(event.preferred_origin_id),
        preferred_magnitude_id=_id(event.preferred_magnitude_id),
        origins=[_origin_record(origin) for origin in event.origins],
        magnitudes=[_magnitude_record(magnitude) for magnitude in event.magnitudes],
        picks=[_pick_record(pick) for pick in event.picks],
        amplitudes=[_amplitude_record(amplitude) for amplitude in event.amplitudes],
    )
