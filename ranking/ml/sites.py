"""Blast sites learned from reviewed explosion epicentres (pure NumPy/scikit-learn, no Django).

Mines and quarries blast again and again at nearly the same place and in working hours. ``sites_learn``
clusters reviewed explosion epicentres with DBSCAN on the haversine metric (``SITE_EPS_KM``,
``SITE_MIN_BLASTS``); each cluster is a site with its centroid, spread (RMS distance of its blasts from the
centroid), radius (``SITE_RADIUS_SPREADS`` spreads, at least ``SITE_MIN_RADIUS_KM``), blast count, UTC hour
histogram and first/last blast; an operator gazetteer, when given, names a site after the nearest entry within
its radius. ``sites_attribute`` gives an event its likely site: the nearest site whose radius, widened by the
event's location uncertainty, holds the epicentre and whose blasts fall at the event's UTC hour (at least
``SITE_MIN_HOUR_SHARE`` of them within one hour of it); the distance is also given in location uncertainties.

The parameters were chosen on the PNSN catalogue with sites learned from 2018-2019 explosions and scored on
2020 (``sites_time_split``); 2021 is the test year reported by ``evaluate --kind ranker`` (docs/ranking.md).
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from sklearn.cluster import DBSCAN
from sklearn.neighbors import BallTree

from ranking.ml.gazetteer import EARTH_RADIUS_KM, Gazetteer

FloatArray = npt.NDArray[np.float64]

SITE_EPS_KM = 5.0  # DBSCAN neighbourhood
SITE_MIN_BLASTS = 2  # blasts (the point itself included) a core point needs within SITE_EPS_KM
SITE_RADIUS_SPREADS = 3.0  # a site's radius in spreads (RMS distance of its blasts from the centroid) ...
SITE_MIN_RADIUS_KM = 3.0  # ... but at least this
SITE_MIN_HOUR_SHARE = 0.05  # share of a site's blasts within +-1 h (UTC) of an event's hour for it to count
DEFAULT_UNCERTAINTY_KM = 1.0  # location uncertainty assumed where the origin has none
SITE_FEATURES = ("blast_site_distance_km", "blast_site_distance_sigma", "blast_site_hour_share", "blast_site_inside")


@dataclass(frozen=True)
class Site:
    """One learned blast site; times are POSIX s, coordinates degrees, ``hour_counts`` 24 blast counts by UTC hour."""

    number: int
    latitude: float
    longitude: float
    spread_km: float
    radius_km: float
    count: int
    hour_counts: tuple[int, ...]
    first_blast: float
    last_blast: float
    name: str = ""

    def active_hours(self, *, share: float = 0.8) -> tuple[int, int]:
        """The shortest run of UTC hours (start, end inclusive, may wrap midnight) holding ``share`` of the blasts."""
        counts = np.asarray(self.hour_counts, dtype=np.float64)
        total = counts.sum()
        if total <= 0:
            return (0, 23)
        for length in range(1, 25):
            for start in range(24):
                if counts[[(start + k) % 24 for k in range(length)]].sum() >= share * total:
                    return (start, (start + length - 1) % 24)
        return (0, 23)

    def hour_share(self, hour: int) -> float:
        """Share of the site's blasts within one hour of UTC ``hour`` (the hour before, it, the hour after)."""
        counts = np.asarray(self.hour_counts, dtype=np.float64)
        total = counts.sum()
        return float(counts[[(hour - 1) % 24, hour % 24, (hour + 1) % 24]].sum() / total) if total > 0 else 0.0


def _haversine_km(lat: FloatArray, lon: FloatArray, lat0: float, lon0: float) -> FloatArray:
    p1, p2 = np.radians(lat), np.radians(lat0)
    dlat, dlon = p2 - p1, np.radians(lon0) - np.radians(lon)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    result: FloatArray = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return result


def utc_hours(times: FloatArray) -> npt.NDArray[np.int64]:
    return (np.floor(np.asarray(times, dtype=np.float64) / 3600.0).astype(np.int64)) % 24


def sites_learn(
    times: Sequence[float] | FloatArray,
    latitudes: Sequence[float] | FloatArray,
    longitudes: Sequence[float] | FloatArray,
    *,
    gazetteer: Gazetteer | None = None,
    eps_km: float = SITE_EPS_KM,
    min_blasts: int = SITE_MIN_BLASTS,
) -> list[Site]:
    """Sites from explosion epicentres (POSIX times, degrees), numbered 1.. by blast count (largest first)."""
    t = np.asarray(times, dtype=np.float64)
    lat = np.asarray(latitudes, dtype=np.float64)
    lon = np.asarray(longitudes, dtype=np.float64)
    if not (t.size == lat.size == lon.size):
        raise ValueError("times, latitudes and longitudes must have the same length")
    if t.size < min_blasts:
        return []
    labels = (
        DBSCAN(eps=eps_km / EARTH_RADIUS_KM, min_samples=min_blasts, metric="haversine", algorithm="ball_tree")
        .fit(np.radians(np.column_stack([lat, lon])))
        .labels_
    )
    found: list[Site] = []
    hours = utc_hours(t)
    for label in sorted(set(labels.tolist()) - {-1}):
        member = labels == label
        # centroid on the unit sphere (safe across the antimeridian)
        phi, lam = np.radians(lat[member]), np.radians(lon[member])
        x, y, z = (np.cos(phi) * np.cos(lam)).mean(), (np.cos(phi) * np.sin(lam)).mean(), np.sin(phi).mean()
        c_lat, c_lon = float(np.degrees(np.arctan2(z, np.hypot(x, y)))), float(np.degrees(np.arctan2(y, x)))
        spread = float(np.sqrt(np.mean(np.square(_haversine_km(lat[member], lon[member], c_lat, c_lon)))))
        found.append(
            Site(
                number=0,
                latitude=round(c_lat, 5),
                longitude=round(c_lon, 5),
                spread_km=round(spread, 3),
                radius_km=round(max(SITE_MIN_RADIUS_KM, SITE_RADIUS_SPREADS * spread), 3),
                count=int(member.sum()),
                hour_counts=tuple(int(v) for v in np.bincount(hours[member], minlength=24)),
                first_blast=float(t[member].min()),
                last_blast=float(t[member].max()),
            )
        )
    found.sort(key=lambda s: (-s.count, s.first_blast))
    return [
        replace(site, number=number, name=_gazetteer_name(gazetteer, site))
        for number, site in enumerate(found, start=1)
    ]


def _gazetteer_name(gazetteer: Gazetteer | None, site: Site) -> str:
    if gazetteer is None or not len(gazetteer):
        return ""
    distances = _haversine_km(gazetteer.latitudes, gazetteer.longitudes, site.latitude, site.longitude)
    nearest = int(np.argmin(distances))
    return gazetteer.names[nearest] if distances[nearest] <= site.radius_km else ""


@dataclass(frozen=True)
class SiteMatch:
    """An event's likely site: the site, the epicentre's distance from its centroid (km and in location
    uncertainties), the share of the site's blasts within one hour of the event's UTC hour, and whether the
    event lies inside it (radius + uncertainty, and at the site's hours)."""

    site: Site
    distance_km: float
    distance_sigma: float
    hour_share: float
    inside: bool


def sites_attribute(
    sites: Sequence[Site],
    times: Sequence[float] | FloatArray,
    latitudes: Sequence[float] | FloatArray,
    longitudes: Sequence[float] | FloatArray,
    uncertainties_km: Sequence[float | None] | None = None,
    *,
    candidates: int = 10,
) -> list[SiteMatch | None]:
    """Per event, its likely site: the nearest of the ``candidates`` nearest sites that it lies inside, else the
    nearest site (``inside`` False); None when no site was learned."""
    t = np.asarray(times, dtype=np.float64)
    lat = np.asarray(latitudes, dtype=np.float64)
    lon = np.asarray(longitudes, dtype=np.float64)
    if not sites or t.size == 0:
        return [None] * int(t.size)
    sigma = np.array(
        [DEFAULT_UNCERTAINTY_KM if u is None or not np.isfinite(u) or u <= 0 else float(u) for u in uncertainties_km]
        if uncertainties_km is not None
        else [DEFAULT_UNCERTAINTY_KM] * t.size,
        dtype=np.float64,
    )
    tree = BallTree(np.radians([[s.latitude, s.longitude] for s in sites]), metric="haversine")
    k = min(candidates, len(sites))
    distances, indices = tree.query(np.radians(np.column_stack([lat, lon])), k=k)
    distances *= EARTH_RADIUS_KM
    hours = utc_hours(t)
    matches: list[SiteMatch | None] = []
    for row in range(t.size):
        chosen: SiteMatch | None = None
        for column in range(k):
            site = sites[int(indices[row, column])]
            distance = float(distances[row, column])
            share = site.hour_share(int(hours[row]))
            inside = distance <= site.radius_km + sigma[row] and share >= SITE_MIN_HOUR_SHARE
            match = SiteMatch(site, round(distance, 3), round(distance / sigma[row], 2), round(share, 3), inside)
            if chosen is None:
                chosen = match
            if inside:
                chosen = match
                break
        matches.append(chosen)
    return matches


def site_feature_rows(matches: Sequence[SiteMatch | None]) -> FloatArray:
    """(n, len(SITE_FEATURES)) ranker features from ``sites_attribute``; NaN where no site exists."""
    out = np.full((len(matches), len(SITE_FEATURES)), np.nan)
    for row, match in enumerate(matches):
        if match is not None:
            out[row] = [match.distance_km, match.distance_sigma, match.hour_share, float(match.inside)]
    return out


def sites_time_split(
    times: FloatArray,
    latitudes: FloatArray,
    longitudes: FloatArray,
    is_explosion: npt.NDArray[np.bool_],
    is_earthquake: npt.NDArray[np.bool_],
    *,
    split: float,
    end: float,
) -> dict[str, float | int]:
    """Sites learned from the explosions before ``split``; shares of the explosions and earthquakes in
    [split, end) that lie inside one (no location uncertainty in the catalogue: DEFAULT_UNCERTAINTY_KM)."""
    before = is_explosion & (times < split)
    sites = sites_learn(times[before], latitudes[before], longitudes[before])
    window = (times >= split) & (times < end)
    matches = sites_attribute(sites, times[window], latitudes[window], longitudes[window])
    inside = np.array([m is not None and m.inside for m in matches], dtype=bool)
    ex, eq = is_explosion[window], is_earthquake[window]
    return {
        "sites": len(sites),
        "learned_from_explosions": int(before.sum()),
        "test_explosions": int(ex.sum()),
        "test_earthquakes": int(eq.sum()),
        "explosions_inside": round(float(inside[ex].mean()), 4) if ex.any() else float("nan"),
        "earthquakes_inside": round(float(inside[eq].mean()), 4) if eq.any() else float("nan"),
    }
