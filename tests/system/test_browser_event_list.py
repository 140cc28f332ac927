"""The first page in a real browser: log in, see the imported events, open one."""

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from analyst.ingest.services import events_ingest_file
from tests.support.browser import chromium, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_analyst_sees_the_event_list_and_an_event(live_server, analyst: User, obspy_data: Path) -> None:
    events_ingest_file(path=obspy_data / "io/iaspei/tests/data/ipe202409sel_ims.txt")
    events_ingest_file(path=obspy_data / "io/nordic/tests/data/select.out", reviewed=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(live_server.url)
        assert "/accounts/login/" in page.url
        log_in(page, live_server.url, "ana", "ana-password-1")
        page.wait_for_url(f"{live_server.url}/")  # logging in opens the review queue
        page.get_by_role("link", name="Events").click()
        page.wait_for_url("**/events/")
        rows = page.locator("table.events tbody tr")
        assert rows.count() == 52
        assert page.get_by_text("mining explosion").count() == 1
        screenshot(page, "event-list.png")
        page.get_by_role("row", name="mining explosion").get_by_role("link").click()
        assert page.locator("h1").inner_text().startswith("Czech and Slovak Republics")
        assert page.get_by_role("cell", name="MORC").count() >= 2
        screenshot(page, "event-detail.png")


def test_an_outsider_who_is_not_logged_in_sees_no_events(live_server, obspy_data: Path) -> None:
    events_ingest_file(path=obspy_data / "io/quakeml/tests/data/usgs_event.xml")
    with chromium() as browser:
        page = browser.new_page()
        response = page.goto(f"{live_server.url}/events/1/")
        assert response is not None
        assert "/accounts/login/" in page.url
        assert "usgs" not in page.content().lower()
