"""The gazetteer of known mines and quarries: a CSV the operator supplies (name, latitude, longitude, type).

Seistriage ships no list of its own: an invented quarry list would teach the ranker wrong places. With
no gazetteer the distance feature stays missing (NaN) and the model learns without it.
"""

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from obspy.geodetics import degrees2kilometers

# ObsPy's sphere (obspy.geodetics: 6371 km), as every distance of ours, for the vectorised haversine below.
EARTH_RADIUS_KM = degrees2kilometers(180.0 / math.pi)
GAZETTEER_COLUMNS = ("name", "latitude", "longitude", "type")

FloatArray = npt.NDArray[np.float64]


class GazetteerError(ValueError):
    """A gazetteer file that cannot be used; the message names the file, line and field."""


@dataclass(frozen=True)
class Gazetteer:
    """Known blasting sites: parallel arrays, coordinates in degrees."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    latitudes: FloatArray
    longitudes: FloatArray

    def __len__(self) -> int:
        return len(self.names)


def gazetteer_read(path: Path) -> Gazetteer:
    """Read and validate a gazetteer CSV; raise GazetteerError naming the line and field on bad rows."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as error:
        raise GazetteerError(f"{path}: cannot open the gazetteer ({error.strerror})") from None
    names: list[str] = []
    kinds: list[str] = []
    latitudes: list[float] = []
    longitudes: list[float] = []
    with handle:
        reader = csv.DictReader(handle)
        missing = [column for column in GAZETTEER_COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise GazetteerError(f"{path}: line 1: missing column(s) {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            name = (row["name"] or "").strip()
            if not name:
                raise GazetteerError(f"{path}: line {line}: field 'name' is empty")
            latitude = _coordinate(row["latitude"], path, line, "latitude", 90.0)
            longitude = _coordinate(row["longitude"], path, line, "longitude", 180.0)
            names.append(name)
            kinds.append((row["type"] or "").strip())
            latitudes.append(latitude)
            longitudes.append(longitude)
    if not names:
        raise GazetteerError(f"{path}: the gazetteer holds no sites")
    return Gazetteer(tuple(names), tuple(kinds), np.array(latitudes), np.array(longitudes))


def _coordinate(text: str | None, path: Path, line: int, field: str, limit: float) -> float:
    try:
        value = float((text or "").strip())
    except ValueError:
        raise GazetteerError(f"{path}: line {line}: field '{field}' is not a number: {text!r}") from None
    if not math.isfinite(value) or abs(value) > limit:
        raise GazetteerError(f"{path}: line {line}: field '{field}' = {value} is outside +-{limit:g} degrees")
    return value


def haversine_km(lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray) -> FloatArray:
    """Great-circle distance in km between points in degrees (broadcasting NumPy arrays)."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    half_dphi = (phi2 - phi1) / 2.0
    half_dlambda = np.radians(lon2 - lon1) / 2.0
    a = np.sin(half_dphi) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(half_dlambda) ** 2
    return np.asarray(2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))), dtype=np.float64)


def nearest_site_km(gazetteer: Gazetteer | None, latitudes: FloatArray, longitudes: FloatArray) -> FloatArray:
    """Distance in km from each epicentre (shape (n,)) to the nearest gazetteer site; NaN without a gazetteer."""
    if gazetteer is None or len(gazetteer) == 0:
        return np.full(latitudes.shape, np.nan)
    distances = haversine_km(
        latitudes[:, None], longitudes[:, None], gazetteer.latitudes[None, :], gazetteer.longitudes[None, :]
    )
    return np.asarray(distances.min(axis=1), dtype=np.float64)
