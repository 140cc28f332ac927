"""Which time window to show and analyse per station: picks first, then TauP iasp91, then a default.

Pure ObsPy (no Django). Times are ``obspy.UTCDateTime``; distances in degrees; depths in km below sea
level (negative depths, above sea level, are computed at the surface).
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from obspy import UTCDateTime
from obspy.geodetics import gps2dist_azimuth, kilometers2degrees
from obspy.taup import TauPyModel

EARTH_MODEL = "iasp91"
PRE_ARRIVAL_S = 20.0  # shown before the first arrival
POST_ARRIVAL_S = 60.0  # shown after the last arrival (S, or P when no S)
DEFAULT_BEFORE_ORIGIN_S = 10.0  # without arrivals: from 10 s before the origin time...
DEFAULT_AFTER_ORIGIN_S = 150.0  # ...to 150 s after it

WindowSource = Literal["picks", "taup", "default"]


@dataclass(frozen=True)
class PredictedArrivals:
    """First P- and S-type arrivals from TauP for one source-station pair."""

    distance_deg: float
    back_azimuth_deg: float  # from the station towards the event, clockwise from north
    p_time: UTCDateTime | None
    s_time: UTCDateTime | None


@dataclass(frozen=True)
class StationWindow:
    """The window for one station and where its first arrival came from."""

    start: UTCDateTime
    end: UTCDateTime
    p_time: UTCDateTime | None  # picked when source == "picks", else predicted, else None
    s_time: UTCDateTime | None
    source: WindowSource


@lru_cache(maxsize=2)
def taup_model(name: str = EARTH_MODEL) -> TauPyModel:
    """The TauP model, built once per process (loading it costs about 0.1 s)."""
    return TauPyModel(model=name)


def arrivals_predict(
    *,
    origin_time: UTCDateTime,
    origin_latitude: float,
    origin_longitude: float,
    origin_depth_km: float | None,
    station_latitude: float,
    station_longitude: float,
) -> PredictedArrivals:
    """First P-type (``ttp``) and S-type (``tts``) arrivals in iasp91 for an origin and a station (degrees)."""
    metres, _, back_azimuth = gps2dist_azimuth(origin_latitude, origin_longitude, station_latitude, station_longitude)
    distance = float(kilometers2degrees(metres / 1000.0))
    depth = max(0.0, origin_depth_km or 0.0)
    p_s, s_s = _travel_times(round(depth, 1), round(distance, 4))
    return PredictedArrivals(
        distance,
        float(back_azimuth),
        origin_time + p_s if p_s is not None else None,
        origin_time + s_s if s_s is not None else None,
    )


def travel_times(*, depth_km: float | None, distance_deg: float) -> tuple[float | None, float | None]:
    """First P-type and S-type iasp91 travel times (s) for a depth (km) and an epicentral distance (degrees)."""
    return _travel_times(round(max(0.0, depth_km or 0.0), 1), round(distance_deg, 4))


@lru_cache(maxsize=4096)
def _travel_times(depth_km: float, distance_deg: float) -> tuple[float | None, float | None]:
    """First P-type and S-type travel times (s); cached because TauP takes tens of ms per call."""
    found: list[float | None] = []
    for group in ("ttp", "tts"):
        arrivals = taup_model().get_travel_times(
            source_depth_in_km=depth_km, distance_in_degree=distance_deg, phase_list=[group]
        )
        found.append(min(a.time for a in arrivals) if arrivals else None)
    return found[0], found[1]


def station_window(
    *,
    origin_time: UTCDateTime | None,
    picked_p: UTCDateTime | None = None,
    picked_s: UTCDateTime | None = None,
    predicted: PredictedArrivals | None = None,
) -> StationWindow:
    """The window for one station: around its picks when it has a P pick, else around the TauP prediction,
    else from ``DEFAULT_BEFORE_ORIGIN_S`` before to ``DEFAULT_AFTER_ORIGIN_S`` after the origin time."""
    if picked_p is not None:
        p, s, source = picked_p, picked_s, "picks"
    elif predicted is not None and predicted.p_time is not None:
        p, s, source = predicted.p_time, predicted.s_time, "taup"
    else:
        if origin_time is None:
            raise ValueError("a window needs an origin time, a P pick or a predicted P arrival")
        start, end = origin_time - DEFAULT_BEFORE_ORIGIN_S, origin_time + DEFAULT_AFTER_ORIGIN_S
        return StationWindow(start, end, None, picked_s, "default")
    last = s if s is not None and s > p else p
    start = p - PRE_ARRIVAL_S
    if origin_time is not None:
        start = min(start, origin_time - DEFAULT_BEFORE_ORIGIN_S)
    return StationWindow(start, last + POST_ARRIVAL_S, p, s, source)  # type: ignore[arg-type]
