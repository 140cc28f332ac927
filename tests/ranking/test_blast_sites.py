"""Blast sites learned from real reviewed PNSN explosions: the catalogue time split, the stored sites, the
ranker's blast_site features and the event page's line, with the waveform similarity to the site's earlier
blasts from their real MiniSEED.

Three PNSN explosions from one quarry near 48.09 N 121.92 W (2018-02, 2018-07, 2019-04) have waveforms at
shared stations in the shared data; an earthquake 5-6 km away is the control.
"""

import csv
import datetime as dt
import io
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from analyst.ingest.services import events_ingest_file
from events.importers.catalog_csv import COMCAT_ID_PREFIX
from events.models import Event
from ranking.blast_sites import event_blast_site
from ranking.inputs import events_feature_matrix
from ranking.ml.features import FEATURE_NAMES
from ranking.ml.sites import sites_attribute, sites_learn
from ranking.ml.sites_measure import pnsn_sites_time_split
from ranking.models import BlastSite

QUARRY_BLASTS = ("uw61348817", "uw61394742", "uw61707087")
NEARBY_EARTHQUAKE = "uw61722766"
COLUMN = {name: index for index, name in enumerate(FEATURE_NAMES)}


def test_sites_learned_until_2020_hold_most_2021_pnsn_explosions_and_few_earthquakes(shared_data: Path) -> None:
    result = pnsn_sites_time_split(shared_data, split=dt.datetime(2021, 1, 1, tzinfo=dt.UTC))
    assert result["learned_from_explosions"] == 1483 and result["test_explosions"] == 528
    # measured (docs/ranking.md): 69.7 % of the 2021 explosions, 7.9 % of the earthquakes; below the issue's
    # targets (90 % / 5 %): one 2021 blast in ten lies more than 7.8 km from every earlier one
    assert 0.65 <= result["explosions_inside"] <= 0.75
    assert result["earthquakes_inside"] < 0.09
    assert result["explosions_inside"] > 8 * result["earthquakes_inside"]


def test_a_site_knows_its_hours_and_the_gazetteer_names_it(shared_data: Path) -> None:
    from ranking.ml.gazetteer import Gazetteer

    with (shared_data / "catalogs" / "pnsn_comcat_2018-2022.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["event_type"] == "explosion" and r["year"] == "2018"]
    times = np.array([float(r["timestamp"]) for r in rows])
    lat = np.array([float(r["latitude"]) for r in rows])
    lon = np.array([float(r["longitude"]) for r in rows])
    biggest = sites_learn(times, lat, lon)[0]
    gazetteer = Gazetteer(("Here",), ("quarry",), np.array([biggest.latitude]), np.array([biggest.longitude + 0.01]))
    named = sites_learn(times, lat, lon, gazetteer=gazetteer)
    assert named[0].name == "Here" and all(s.name == "" for s in named[1:] if s.radius_km < 20)
    start, end = biggest.active_hours()
    hours = [(start + k) % 24 for k in range((end - start) % 24 + 1)]
    assert sum(biggest.hour_counts[h] for h in hours) >= 0.8 * biggest.count
    # a site's own blast at its usual hour lies inside it; at 10:00 UTC (03:00 local), far from its hours, not
    member = int(np.argmin(np.hypot(lat - biggest.latitude, lon - biggest.longitude)))
    match = sites_attribute([biggest], [times[member]], [lat[member]], [lon[member]])[0]
    assert match is not None and match.site.number == 1
    night = times[member] - (times[member] % 86400) + 10 * 3600
    if biggest.hour_share(10) < 0.05:
        late = sites_attribute([biggest], [night], [lat[member]], [lon[member]])[0]
        assert late is not None and not late.inside


def _import_pnw(shared_data: Path, tmp_path: Path, event_ids: tuple[str, ...]) -> dict[str, Event]:
    with (shared_data / "pnw" / "events.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [row for row in reader if row["source_id"] in event_ids]
        fields = reader.fieldnames
    assert fields is not None and len(rows) == len(event_ids)
    path = tmp_path / "pnw_subset.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    events_ingest_file(path=path, reviewed=True)
    for event_id in event_ids:
        call_command("import_waveforms", str(shared_data / "pnw" / "waveforms" / event_id), stdout=io.StringIO())
    return {e: Event.objects.get(public_id=COMCAT_ID_PREFIX + e) for e in event_ids}


@pytest.mark.django_db
def test_the_event_page_names_the_quarry_of_a_real_blast_with_its_earlier_blasts_and_similarity(
    shared_data: Path, tmp_path: Path, client: Client, analyst: object
) -> None:
    events = _import_pnw(shared_data, tmp_path, (*QUARRY_BLASTS, NEARBY_EARTHQUAKE))
    out = io.StringIO()
    call_command("learn_blast_sites", stdout=out)
    assert "1 blast sites learned" in out.getvalue()
    site = BlastSite.objects.get()
    assert site.blast_count == 3 and abs(site.latitude - 48.09) < 0.05 and abs(site.longitude + 121.92) < 0.05

    target = Event.objects.select_related("preferred_origin").get(pk=events[QUARRY_BLASTS[2]].pk)
    found = event_blast_site(event=target)
    assert found is not None and found.earlier_blasts == 2 and found.match.site.number == 1
    assert found.best is not None and found.best.seed_id.startswith("UW.") and 0.3 < found.best.correlation <= 1.0
    quake = Event.objects.select_related("preferred_origin").get(pk=events[NEARBY_EARTHQUAKE].pk)
    features = events_feature_matrix(events=[target, quake])
    assert features[0, COLUMN["blast_site_inside"]] == 1.0 and features[1, COLUMN["blast_site_inside"]] == 0.0
    assert features[0, COLUMN["blast_site_distance_km"]] < features[1, COLUMN["blast_site_distance_km"]]

    client.force_login(analyst)  # type: ignore[arg-type]
    page = client.get(reverse("event-review", args=[target.pk])).content.decode()
    assert "likely site 1: 2 earlier blasts within" in page
    assert f"waveform similarity {found.best.correlation:.2f} at {found.best.seed_id}" in page
    other = client.get(reverse("event-review", args=[quake.pk])).content.decode()
    assert "No learned blast site holds this event." in other
