"""The event page's offline map: epicentre, stations with data, known mines and quarries nearby.

A plain Plotly scatter in longitude/latitude over coastlines and borders from ``analyst.selectors.map_geometry``
(no tiles, no topojson from a CDN). The y axis is stretched by 1/cos(latitude) so distances look right
near the epicentre.
"""

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
from obspy import UTCDateTime

from analyst.selectors.map_geometry import MapBox, borders_in, coastlines_in
from events.models import Event, Pick
from ranking.inputs import gazetteer_current
from ranking.ml.gazetteer import haversine_km
from waveforms import sources
from waveforms.windows import station_window

# Sites of the operator's gazetteer drawn when this close to the epicentre.
GAZETTEER_RADIUS_KM = 150.0
MIN_HALF_SPAN_DEG = 0.75
MAX_STATIONS = 200


@dataclass(frozen=True)
class MapPoint:
    name: str
    latitude: float
    longitude: float
    detail: str = ""


def _plain(values: np.ndarray[Any, Any]) -> list[float | None]:
    return [None if math.isnan(v) else round(float(v), 4) for v in values]


def map_box_around(points: list[tuple[float, float]]) -> MapBox:
    """A box holding every (latitude, longitude) with a margin, at least 1.5 degrees across."""
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    centre_lat, centre_lon = (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
    half_lat = max(MIN_HALF_SPAN_DEG, 0.6 * (max(lats) - min(lats)))
    half_lon = max(MIN_HALF_SPAN_DEG / max(0.2, math.cos(math.radians(centre_lat))), 0.6 * (max(lons) - min(lons)))
    return MapBox(
        west=max(-180.0, centre_lon - half_lon),
        east=min(180.0, centre_lon + half_lon),
        south=max(-90.0, centre_lat - half_lat),
        north=min(90.0, centre_lat + half_lat),
    )


# Plotly figure JSON: traces and layout are Plotly's open-ended attribute trees, kept as plain dicts.
PlotlyJson = dict[str, Any]


class MapFigure(TypedDict):
    data: list[PlotlyJson]
    layout: PlotlyJson


def _markers(points: list[MapPoint], name: str, symbol: str, colour: str, size: int) -> PlotlyJson:
    return {
        "type": "scatter",
        "mode": "markers+text" if len(points) <= 25 else "markers",
        "name": name,
        "x": [p.longitude for p in points],
        "y": [p.latitude for p in points],
        "text": [p.name for p in points],
        "textposition": "top center",
        "textfont": {"size": 10},
        "hovertext": [
            f"{p.name}<br>{p.latitude:.3f}, {p.longitude:.3f}{'<br>' + p.detail if p.detail else ''}" for p in points
        ],
        "hoverinfo": "text",
        "marker": {"symbol": symbol, "color": colour, "size": size, "line": {"color": "#222", "width": 1}},
    }


def event_map_figure(*, epicentre: MapPoint, stations: list[MapPoint], sites: list[MapPoint]) -> MapFigure:
    """Plotly figure JSON (``data`` and ``layout``) of the epicentre, stations and gazetteer sites."""
    box = map_box_around([(p.latitude, p.longitude) for p in [epicentre, *stations, *sites]])
    coast_lon, coast_lat = coastlines_in(box)
    border_lon, border_lat = borders_in(box)
    data: list[PlotlyJson] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "coastline",
            "x": _plain(coast_lon),
            "y": _plain(coast_lat),
            "line": {"color": "#5b6b7f", "width": 1},
            "hoverinfo": "skip",
            "connectgaps": False,
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "border",
            "x": _plain(border_lon),
            "y": _plain(border_lat),
            "line": {"color": "#9a8fa8", "width": 1, "dash": "dot"},
            "hoverinfo": "skip",
            "connectgaps": False,
        },
    ]
    if sites:
        data.append(_markers(sites, "mine / quarry", "square", "#c4631a", 9))
    if stations:
        data.append(_markers(stations, "station with data", "triangle-up", "#1f5fbf", 10))
    data.append(_markers([epicentre], "epicentre", "star", "#d21f1f", 18))
    mid_lat = (box.south + box.north) / 2
    layout: PlotlyJson = {
        "margin": {"l": 45, "r": 10, "t": 10, "b": 35},
        "height": 340,
        "showlegend": True,
        "legend": {"orientation": "h", "y": -0.12, "font": {"size": 11}},
        "xaxis": {
            "range": [box.west, box.east],
            "title": {"text": "longitude °E"},
            "zeroline": False,
            "showgrid": True,
            "gridcolor": "#eef0f4",
        },
        "yaxis": {
            "range": [box.south, box.north],
            "title": {"text": "latitude °N"},
            "zeroline": False,
            "scaleanchor": "x",
            "scaleratio": 1 / max(0.2, math.cos(math.radians(mid_lat))),
            "showgrid": True,
            "gridcolor": "#eef0f4",
        },
        "plot_bgcolor": "#f7fbff",
    }
    return {"data": data, "layout": layout}


def _stations_with_data(event: Event, reference: dt.datetime) -> list[MapPoint]:
    default = station_window(origin_time=UTCDateTime(reference))
    seed_ids = sources.channels_covering(
        start=default.start.datetime.replace(tzinfo=dt.UTC), end=default.end.datetime.replace(tzinfo=dt.UTC)
    )
    picked = Pick.objects.filter(event=event).values_list("network", "station").distinct()
    stations = sorted({tuple(s.split(".")[:2]) for s in seed_ids} | {tuple(p) for p in picked})
    points = []
    for network, code in stations[:MAX_STATIONS]:
        coordinates = sources.station_coordinates(network=network, station=code, at=reference)
        if coordinates is not None:
            points.append(MapPoint(f"{network}.{code}", coordinates[0], coordinates[1]))
    return points


def _sites_near(latitude: float, longitude: float) -> list[MapPoint]:
    gazetteer = gazetteer_current()
    if gazetteer is None or len(gazetteer) == 0:
        return []
    distances = haversine_km(np.array([latitude]), np.array([longitude]), gazetteer.latitudes, gazetteer.longitudes)
    return [
        MapPoint(
            gazetteer.names[i],
            float(gazetteer.latitudes[i]),
            float(gazetteer.longitudes[i]),
            f"{gazetteer.kinds[i] or 'site'}, {distances[i]:.0f} km from the epicentre",
        )
        for i in np.flatnonzero(distances <= GAZETTEER_RADIUS_KM)
    ]


def event_map_get(*, event: Event) -> MapFigure | None:
    """The map figure of an event, or None when it has no epicentre."""
    if event.latitude is None or event.longitude is None:
        return None
    epicentre = MapPoint("epicentre", event.latitude, event.longitude, event.region)
    stations = _stations_with_data(event, event.origin_time) if event.origin_time is not None else []
    return event_map_figure(epicentre=epicentre, stations=stations, sites=_sites_near(event.latitude, event.longitude))
