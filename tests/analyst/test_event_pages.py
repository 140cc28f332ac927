"""The first pages: the event list and an event's detail, for each persona."""

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from analyst.ingest.services import events_ingest_file
from events.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def bulletin(obspy_data: Path) -> Event:
    events_ingest_file(path=obspy_data / "io/iaspei/tests/data/ipe202409sel_ims.txt")
    return Event.objects.get(event_type="mining explosion")


def test_the_list_shows_time_place_depth_magnitude_type_and_state(client: Client, analyst: User, bulletin: Event):
    client.force_login(analyst)
    html = client.get("/events/").content.decode()
    assert "2024-09-01 12:33:19" in html
    assert "Czech and Slovak Republics" in html
    assert "49.822" in html and "18.559" in html
    assert "1.2 ML" in html
    assert "mining explosion" in html
    assert "new" in html


def test_the_detail_shows_origins_magnitudes_picks_and_arrivals(client: Client, analyst: User, bulletin: Event):
    client.force_login(analyst)
    html = client.get(f"/events/{bulletin.pk}/").content.decode()
    assert bulletin.public_id in html
    assert html.count("MORC") >= 2
    assert "Sg" in html and "Pg" in html
    assert "-0.1" in html  # an arrival's residual


def test_an_anonymous_visitor_is_sent_to_log_in(client: Client, bulletin: Event) -> None:
    response = client.get(f"/events/{bulletin.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_logged_in_outsider_without_a_role_is_refused(client: Client, outsider: User, bulletin: Event) -> None:
    client.force_login(outsider)
    assert client.get("/").status_code == 403
    assert client.get("/events/").status_code == 403
    assert client.get(f"/events/{bulletin.pk}/").status_code == 403


def test_the_home_page_is_the_review_queue_and_logging_in_leads_there(client: Client, analyst: User) -> None:
    client.force_login(analyst)
    assert "Review queue" in client.get("/").content.decode()
    assert client.get("/queue/?region=alaska").headers["Location"] == "/?region=alaska"
    client.logout()
    answer = client.post("/accounts/login/", {"username": "ana", "password": "ana-password-1"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/"


def test_an_unknown_event_is_a_404(client: Client, analyst: User) -> None:
    client.force_login(analyst)
    assert client.get("/events/999999/").status_code == 404


def test_text_from_imported_files_is_escaped(client: Client, analyst: User, bulletin: Event) -> None:
    Event.objects.filter(pk=bulletin.pk).update(description="<script>alert(1)</script>")
    client.force_login(analyst)
    html = client.get(f"/events/{bulletin.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


@pytest.fixture
def nordic(obspy_data: Path) -> list[int]:
    """The 50 real events of ObsPy's Nordic catalogue; their ids newest first (ties by id)."""
    events_ingest_file(path=obspy_data / "io/nordic/tests/data/select.out")
    return list(Event.objects.order_by("-origin_time", "-id").values_list("id", flat=True))


def test_the_list_pages_through_every_event_newest_first_by_keyset_and_back(nordic: list[int]) -> None:
    from analyst.selectors.events import event_list_page

    assert len(nordic) >= 40
    pages, page = [], event_list_page(per_page=7)
    assert page.newer is None
    # exact when the planner thinks the table small (its statistics may still count rows of earlier tests)
    assert page.total == len(nordic) if page.total_is_exact else page.total > 0
    while True:
        pages.append([row["id"] for row in page.rows])
        if page.older is None:
            break
        page = event_list_page(after=page.older, per_page=7)
    assert [i for ids in pages for i in ids] == nordic and all(len(ids) == 7 for ids in pages[:-1])
    # and back up from the oldest page with `before`: the same pages, newest first within each
    back, page = [], event_list_page(before=pages[-1][0], per_page=7)
    while True:
        back.append([row["id"] for row in page.rows])
        if page.newer is None:
            break
        page = event_list_page(before=page.newer, per_page=7)
    assert back == pages[-2::-1]


def test_the_list_page_links_continue_from_an_event_and_refuse_a_bad_position(
    client: Client, analyst: User, nordic: list[int]
) -> None:
    client.force_login(analyst)
    first = client.get("/events/").content.decode()
    assert f"/events/{nordic[0]}/" in first and 'id="newer"' not in first and 'id="newest"' not in first
    assert re.search(rf"(?:{len(nordic)}|about \d+) events, newest first", first)
    middle = client.get(f"/events/?after={nordic[9]}").content.decode()
    assert f"/events/{nordic[10]}/" in middle and f"/events/{nordic[9]}/" not in middle
    assert f'href="?before={nordic[10]}"' in middle and 'id="newest"' in middle
    assert f"/events/{nordic[9]}/" in client.get(f"/events/?before={nordic[10]}").content.decode()
    assert client.get("/events/?after=abc").status_code == 400
    assert client.get(f"/events/?after={nordic[1]}&before={nordic[2]}").status_code == 400
    assert client.get("/events/?after=99999999").status_code == 404
