"""The learning lists and the event search in a real browser: j/k walk each list in its own order and Enter opens
the event under the cursor; events are named by time, magnitude and region, not by 60-character public ids."""

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from analyst.ingest.services import events_ingest_file
from events.models import Event
from ranking.scoring import events_score
from ranking.selectors import events_most_informative
from ranking.training import ranker_train
from tests.support.browser import chromium, log_in
from tests.support.workbench_data import pnsn_head, pnsn_rows

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_password_hashing"),
]
NAME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d( M-?\d+\.\d( \(\w+\))?)?( .+)?$")


@pytest.fixture
def scored_events(shared_data: Path, tmp_path: Path) -> list[int]:
    """60 real PNSN events, unreviewed, scored by a ranker trained on the first 300 real PNSN reviews."""
    events_ingest_file(path=pnsn_head(shared_data, tmp_path, rows=300), reviewed=True)
    ranker_train(created_by="browser-tests", promote=True)
    report = events_ingest_file(path=pnsn_rows(shared_data, tmp_path, first=2001, count=60))
    events_score(event_ids=report.event_ids)
    return report.event_ids


def _queue_next(page: Page, event_id: int) -> int | None:
    """The event after ``event_id`` in the queue's default order, as the review page would ask for it."""
    found: int | None = page.evaluate(
        """async (id) => {
            const response = await fetch(`/api/events/?after_event=${id}&limit=1&total=0`);
            const rows = (await response.json()).results;
            return rows.length ? rows[0].id : null;
        }""",
        event_id,
    )
    return found


def test_j_and_k_walk_the_most_informative_list_in_its_order(
    live_server, analyst: User, scored_events: list[int]
) -> None:
    informative = [row["event"].pk for row in events_most_informative()]
    assert len(informative) >= 4
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        log_in(page, live_server.url, "ana", "ana-password-1")
        page.goto(f"{live_server.url}/learning/informative/")
        links = page.locator("#informative tbody a.open-event")
        shown = links.count()
        for name in links.all_inner_texts()[:10]:
            assert NAME.match(name) and len(name) < 60, name
            assert "smi:" not in name and "quakeml:" not in name
        for key in ("j", "j", "j", "k"):
            page.keyboard.press(key)
        expect(page.locator("#informative tbody tr.selected")).to_have_count(1)
        selected = page.locator("#informative tbody tr.selected a.open-event")
        expect(selected).to_have_attribute("href", f"/queue/events/{informative[1]}/?walk=informative")

        page.keyboard.press("Enter")

        page.wait_for_url(f"**/queue/events/{informative[1]}/?walk=informative")
        # The review page's navigation reaches every page, the models and the learning lists included.
        nav = page.locator("header nav")
        for name in ("Queue", "Events", "Most informative", "Models", "Bulletins", "Label agreement"):
            expect(nav.get_by_role("link", name=name, exact=True)).to_have_count(1)

        # j/k on the review page walk on through the informative list in its order, not the queue's
        expect(page.locator("#walk-status")).to_have_text(f"2 of {shown} in Most informative first")
        assert _queue_next(page, informative[1]) != informative[2], "the list's order is the queue's here"
        expect(page.locator("#next-event")).to_have_attribute(
            "href", f"/queue/events/{informative[2]}/?walk=informative"
        )
        page.keyboard.press("j")
        page.wait_for_url(f"**/queue/events/{informative[2]}/?walk=informative")
        expect(page.locator("#previous-event")).to_be_visible()
        page.keyboard.press("j")
        page.wait_for_url(f"**/queue/events/{informative[3]}/?walk=informative")
        expect(page.locator("#previous-event")).to_be_visible()
        for expected in (informative[2], informative[1], informative[0]):
            page.keyboard.press("k")
            page.wait_for_url(f"**/queue/events/{expected}/?walk=informative")
            expect(page.locator("#next-event")).to_be_visible()
        expect(page.locator("#previous-event")).to_be_hidden()  # the list's first event
        page.keyboard.press("q")  # back to the list it came from
        page.wait_for_url("**/learning/informative/")

        # opened from the queue, the same event walks the queue again
        page.goto(f"{live_server.url}/queue/events/{informative[1]}/")
        expect(page.locator("#next-event")).to_be_visible()
        queue_next = _queue_next(page, informative[1])
        assert queue_next is not None
        expect(page.locator("#next-event")).to_have_attribute("href", f"/queue/events/{queue_next}/?")
        expect(page.locator("#walk-status")).to_be_hidden()


def test_j_and_k_walk_the_event_search_results(live_server, analyst: User, scored_events: list[int]) -> None:
    newest = list(Event.objects.order_by("-origin_time", "-id").values_list("id", flat=True)[:4])
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        log_in(page, live_server.url, "ana", "ana-password-1")
        page.goto(f"{live_server.url}/events/")
        for key in ("j", "j", "j"):
            page.keyboard.press(key)
        page.keyboard.press("o")
        page.wait_for_url(f"**/events/{newest[2]}/?walk=events")
        # the event's page walks on through the search results in their order
        expect(page.locator("#walk-status")).to_contain_text("3 of")
        page.keyboard.press("j")
        page.wait_for_url(f"**/events/{newest[3]}/?walk=events")
        for expected in (newest[2], newest[1]):
            page.keyboard.press("k")
            page.wait_for_url(f"**/events/{expected}/?walk=events")
