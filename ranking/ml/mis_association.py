"""Mis-associations from real picks: picks of different real events combined into one origin (Django-free).

An associator that sees the picks of two or three events a few seconds apart can bind them into one origin
that does not exist. This module builds such origins from a real bulletin with picks:

- the bulletin is ObsPy's bundled Nordic ``select.out`` (50 solutions of about 35 Mt Cook, New Zealand
  earthquakes, September 2013, with P and S picks). Solutions whose origins lie within DUPLICATE_S of each
  other are the same earthquake (the file holds two agencies' solutions of several); the one with the most
  arrivals is kept;
- the bulletin has no station list, so each station's coordinates are recovered from its arrivals: the point
  at the arrival's epicentral distance and event-to-station azimuth from the event's epicentre (spherical
  forward problem), the median over every arrival of the station (``stations`` reports the spread);
- each mis-association takes the P and S picks of 2 or 3 earthquakes that are at least SOURCE_APART_S apart,
  shifts each event's picks so its origin time falls OFFSETS_S after the first one's (as an associator would
  see them in one window), keeps one pick per station and phase (of the events that have one, the one that
  has given the fewest so far, so each contributes), and locates one origin that best fits them all: a grid
  search in latitude, longitude and depth with the iasp91 first-P and first-S travel times of ObsPy's
  TauP, the origin time the mean of pick - travel time (least squares);
- the real events are located the same way from their own picks (``locate``), so their residuals are the
  baseline: a mis-association's residuals come from the picks not belonging together, not from the model.
"""

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import obspy
from numpy.typing import NDArray
from obspy.taup import TauPyModel

FloatArray = NDArray[np.float64]

EARTH_MODEL = "iasp91"
EARTH_RADIUS_KM = 6371.0
DUPLICATE_S = 30.0  # two solutions this close in origin time are the same earthquake
SOURCE_APART_S = 600.0  # the combined events are really different earthquakes
OFFSETS_S = (0.0, 4.0, 9.0)  # each source event's origin, after shifting, relative to the first one's
TABLE_DISTANCES_DEG = np.round(np.arange(0.0, 1.0001, 0.01), 4)
TABLE_DEPTHS_KM = (0.0, 4.0, 8.0, 12.0, 16.0, 20.0)
GRID_HALF_WIDTH_DEG = 0.5
GRID_STEP_DEG = 0.01


def bundled_bulletin() -> Path:
    """ObsPy's bundled Nordic bulletin with picks (Mt Cook, New Zealand, September 2013)."""
    return Path(obspy.__file__).parent / "io" / "nordic" / "tests" / "data" / "select.out"


@dataclass(frozen=True)
class PickRow:
    network: str
    station: str
    channel: str
    phase: str  # "P" or "S"
    time: float  # POSIX seconds


@dataclass
class SourceEvent:
    key: str  # the origin time, e.g. 2013-09-01T20:40:51.8
    time: float
    latitude: float
    longitude: float
    depth_km: float
    magnitude: float | None
    picks: list[PickRow]


@dataclass
class Station:
    latitude: float
    longitude: float
    spread_km: float  # largest distance of one arrival's estimate from the median


@dataclass
class Location:
    time: float
    latitude: float
    longitude: float
    depth_km: float
    residuals_s: list[float]  # per pick, observed - predicted
    distances_deg: list[float]
    azimuths_deg: list[float]

    @property
    def rms_s(self) -> float:
        return float(np.sqrt(np.mean(np.square(self.residuals_s))))


@dataclass
class MisAssociation:
    key: str
    sources: list[SourceEvent]
    shifts_s: list[float]  # added to each source event's pick times
    picks: list[tuple[int, PickRow]]  # (index into sources, the pick with its shifted time)
    location: Location
    source_locations: list[Location] = field(default_factory=list)  # each source event located alone


def _destination(latitude: float, longitude: float, distance_deg: float, azimuth_deg: float) -> tuple[float, float]:
    lat1, lon1 = math.radians(latitude), math.radians(longitude)
    delta, azimuth = math.radians(distance_deg), math.radians(azimuth_deg)
    lat2 = math.asin(math.sin(lat1) * math.cos(delta) + math.cos(lat1) * math.sin(delta) * math.cos(azimuth))
    lon2 = lon1 + math.atan2(
        math.sin(azimuth) * math.sin(delta) * math.cos(lat1), math.cos(delta) - math.sin(lat1) * math.sin(lat2)
    )
    return math.degrees(lat2), math.degrees(lon2)


def _distance_azimuth(
    latitude: FloatArray | float, longitude: FloatArray | float, to_lat: FloatArray, to_lon: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Great-circle distance (degrees) and azimuth (degrees) from points to stations (broadcast)."""
    lat1, lon1, lat2, lon2 = (
        np.radians(np.asarray(v, dtype=np.float64)) for v in (latitude, longitude, to_lat, to_lon)
    )
    dlon = lon2 - lon1
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon / 2) ** 2
    distance = np.degrees(2 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))
    azimuth = np.degrees(
        np.arctan2(
            np.sin(dlon) * np.cos(lat2), np.cos(lat1) * np.sin(lat2) - np.sin(lat1) * np.cos(lat2) * np.cos(dlon)
        )
    )
    return distance, np.mod(azimuth, 360.0)


def bulletin_events(path: Path | None = None) -> tuple[list[SourceEvent], dict[str, Station]]:
    """The bulletin's earthquakes (duplicates merged) with their P/S picks, and the stations' coordinates."""
    catalog = obspy.read_events(str(path or bundled_bulletin()))
    solutions: list[SourceEvent] = []
    estimates: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for event in catalog:
        origin = event.preferred_origin() or (event.origins[0] if event.origins else None)
        if origin is None or origin.latitude is None or origin.longitude is None:
            continue
        picks_by_id = {p.resource_id.id: p for p in event.picks}
        picks: list[PickRow] = []
        for arrival in origin.arrivals:
            pick = picks_by_id.get(arrival.pick_id.id if arrival.pick_id else "")
            phase = (arrival.phase or "").upper()[:1]
            if pick is None or phase not in ("P", "S"):
                continue
            station = pick.waveform_id.station_code or ""
            if arrival.distance is not None and arrival.azimuth is not None:
                estimates[station].append(
                    _destination(origin.latitude, origin.longitude, arrival.distance, arrival.azimuth)
                )
            picks.append(
                PickRow(
                    pick.waveform_id.network_code or "",
                    station,
                    pick.waveform_id.channel_code or "",
                    phase,
                    float(pick.time.timestamp),
                )
            )
        magnitude = event.magnitudes[0].mag if event.magnitudes else None
        solutions.append(
            SourceEvent(
                str(origin.time)[:21],
                float(origin.time.timestamp),
                float(origin.latitude),
                float(origin.longitude),
                (origin.depth or 0.0) / 1000.0,
                None if magnitude is None else float(magnitude),
                picks,
            )
        )
    stations: dict[str, Station] = {}
    for code, points in estimates.items():
        lats, lons = np.array([p[0] for p in points]), np.array([p[1] for p in points])
        lat, lon = float(np.median(lats)), float(np.median(lons))
        spread, _ = _distance_azimuth(lat, lon, lats, lons)
        stations[code] = Station(lat, lon, float(spread.max()) * math.pi / 180.0 * EARTH_RADIUS_KM)
    # One earthquake, one event: the solution with the most picks among those within DUPLICATE_S.
    events: list[SourceEvent] = []
    for solution in sorted(solutions, key=lambda s: s.time):
        if events and solution.time - events[-1].time <= DUPLICATE_S:
            if len(solution.picks) > len(events[-1].picks):
                events[-1] = solution
            continue
        events.append(solution)
    for event in events:
        event.picks = [p for p in event.picks if p.station in stations]
    return events, stations


@lru_cache(maxsize=1)
def travel_time_table() -> tuple[FloatArray, FloatArray]:
    """First P and first S iasp91 travel times (s), shape (depths, distances) over TABLE_*."""
    model = TauPyModel(model=EARTH_MODEL)
    p_table = np.full((len(TABLE_DEPTHS_KM), len(TABLE_DISTANCES_DEG)), np.nan)
    s_table = np.full_like(p_table, np.nan)
    for i, depth in enumerate(TABLE_DEPTHS_KM):
        for j, distance in enumerate(TABLE_DISTANCES_DEG):
            arrivals = model.get_travel_times(
                source_depth_in_km=depth, distance_in_degree=float(distance), phase_list=["ttp", "tts"]
            )
            p_times = [a.time for a in arrivals if a.name[:1] in ("P", "p")]
            s_times = [a.time for a in arrivals if a.name[:1] in ("S", "s")]
            p_table[i, j] = min(p_times) if p_times else np.nan
            s_table[i, j] = min(s_times) if s_times else np.nan
    return p_table, s_table


def locate(picks: Sequence[PickRow], stations: dict[str, Station], centre: tuple[float, float]) -> Location:
    """The origin that best fits the picks (least squares), by grid search around ``centre``."""
    p_table, s_table = travel_time_table()
    st_lat = np.array([stations[p.station].latitude for p in picks])
    st_lon = np.array([stations[p.station].longitude for p in picks])
    is_p = np.array([p.phase == "P" for p in picks])
    times = np.array([p.time for p in picks])
    reference = float(times.min())
    observed = times - reference
    offsets = np.arange(-GRID_HALF_WIDTH_DEG, GRID_HALF_WIDTH_DEG + GRID_STEP_DEG / 2, GRID_STEP_DEG)
    mesh_lat, mesh_lon = np.meshgrid(centre[0] + offsets, centre[1] + offsets, indexing="ij")
    grid_lat, grid_lon = mesh_lat.ravel(), mesh_lon.ravel()
    distance, _ = _distance_azimuth(grid_lat[:, None], grid_lon[:, None], st_lat[None, :], st_lon[None, :])
    best: tuple[float, int, int, float] | None = None
    for d_index in range(len(TABLE_DEPTHS_KM)):
        predicted = np.where(
            is_p[None, :],
            np.interp(distance, TABLE_DISTANCES_DEG, p_table[d_index]),
            np.interp(distance, TABLE_DISTANCES_DEG, s_table[d_index]),
        )
        origin = np.mean(observed[None, :] - predicted, axis=1)
        misfit = np.sum(np.square(observed[None, :] - predicted - origin[:, None]), axis=1)
        g_index = int(np.argmin(misfit))
        if best is None or misfit[g_index] < best[0]:
            best = (float(misfit[g_index]), d_index, g_index, float(origin[g_index]))
    assert best is not None
    _, d_index, g_index, origin_s = best
    lat, lon = float(grid_lat[g_index]), float(grid_lon[g_index])
    dist, azimuth = _distance_azimuth(lat, lon, st_lat, st_lon)
    predicted = np.where(
        is_p,
        np.interp(dist, TABLE_DISTANCES_DEG, p_table[d_index]),
        np.interp(dist, TABLE_DISTANCES_DEG, s_table[d_index]),
    )
    return Location(
        reference + origin_s,
        lat,
        lon,
        TABLE_DEPTHS_KM[d_index],
        [float(v) for v in observed - origin_s - predicted],
        [float(v) for v in dist],
        [float(v) for v in azimuth],
    )


def _combination(index: int, count: int) -> list[int]:
    """2 source events for even ``index``, 3 for odd, spread over the bulletin (deterministic)."""
    chosen = [index % count]
    for step in (7, 17)[: 1 + index % 2]:
        candidate = (chosen[-1] + step + index) % count
        while candidate in chosen:
            candidate = (candidate + 1) % count
        chosen.append(candidate)
    return chosen


def mis_associations(
    count: int, *, path: Path | None = None, time_shift_s: float = 86400.0, offsets_s: Sequence[float] = OFFSETS_S
) -> tuple[list[MisAssociation], dict[str, Station]]:
    """``count`` mis-associations (fewer where the bulletin runs out of distinct combinations).

    The first source event's picks move back by ``time_shift_s`` (the real event may be stored too); the
    others' so that their origins fall ``offsets_s`` after it.
    """
    events, stations = bulletin_events(path)
    built: list[MisAssociation] = []
    seen: set[tuple[int, ...]] = set()
    index = 0
    while len(built) < count and index < 4 * len(events):
        chosen = _combination(index, len(events))
        index += 1
        sources = [events[i] for i in chosen]
        times = sorted(s.time for s in sources)
        if tuple(sorted(chosen)) in seen or any(b - a < SOURCE_APART_S for a, b in itertools.pairwise(times)):
            continue
        first = sources[0].time - time_shift_s
        shifts = [first + offsets_s[i] - source.time for i, source in enumerate(sources)]
        candidates: dict[tuple[str, str], list[tuple[int, PickRow]]] = defaultdict(list)
        for i, source in enumerate(sources):
            for pick in source.picks:
                moved = PickRow(pick.network, pick.station, pick.channel, pick.phase, pick.time + shifts[i])
                candidates[(pick.station, pick.phase)].append((i, moved))
        # One pick per station and phase, as an associator keeps: where several events have one, the event
        # that has given the fewest so far (then the earliest), so that every event contributes.
        given = [0] * len(sources)
        picks = []
        for slot in sorted(candidates, key=lambda k: min(p.time for _, p in candidates[k])):
            chosen_pick = min(candidates[slot], key=lambda item: (given[item[0]], item[1].time))
            given[chosen_pick[0]] += 1
            picks.append(chosen_pick)
        picks.sort(key=lambda item: item[1].time)
        contributed = {i for i, _ in picks}
        if len(contributed) < len(sources) or len(picks) < 5 or min(given) < 2:
            continue
        seen.add(tuple(sorted(chosen)))
        centre = (float(np.mean([s.latitude for s in sources])), float(np.mean([s.longitude for s in sources])))
        location = locate([p for _, p in picks], stations, centre)
        own = [locate(s.picks, stations, (s.latitude, s.longitude)) for s in sources]
        key = "+".join(s.key.replace(":", "").replace("-", "")[:15] for s in sources)
        built.append(MisAssociation(key, sources, shifts, picks, location, own))
    return built, stations
