"""The workbench in a real browser: the queue sorted and filtered, real waveforms drawn, three events
reviewed from the keyboard alone, the audit trail, and two analysts meeting on one event."""

import datetime as dt
import re
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from analyst.ingest.services import events_ingest_file
from analyst.models import AuditEntry
from events.models import Event
from ranking.scoring import events_score
from ranking.training import ranker_train
from tests.support.browser import ARTIFACTS, chromium, log_in, screenshot
from tests.support.workbench_data import pnsn_head

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_password_hashing"),
]

LAHAR_ORIGIN = dt.datetime(2014, 9, 10, 19, 21, 15, tzinfo=dt.UTC)


@pytest.fixture
def exotic_events(shared_data: Path, tmp_path: Path) -> Event:
    """The real ESEC catalogue of landslides and avalanches, scored by a ranker trained on real PNSN reviews,
    with the real records of its first event (the 2014 Mount Spurr lahar)."""
    cache.clear()
    events_ingest_file(path=pnsn_head(shared_data, tmp_path, rows=300), reviewed=True)
    ranker_train(created_by="browser-tests", promote=True)
    report = events_ingest_file(path=shared_data / "esec/IRISExoticEventCatalog.txt")
    events_score(event_ids=report.event_ids)
    call_command("import_stations", *map(str, sorted((shared_data / "esec/stations/1").glob("*.xml"))), verbosity=0)
    call_command("import_waveforms", *map(str, sorted((shared_data / "esec/waveforms/1").glob("*.mseed"))), verbosity=0)
    return Event.objects.get(origin_time=LAHAR_ORIGIN)


@pytest.fixture
def second_analyst(analyst: User) -> User:
    other = User.objects.create_user("bea", password="bea-password-1")
    other.groups.set(analyst.groups.all())
    return other


def ana_then_bea_open(browser: Browser, base_url: str, url: str) -> tuple[Page, Page]:
    """Two analysts in their own browser contexts: ana opens the event page first (and holds the event), then bea
    opens it too. Returns their pages."""
    ana = browser.new_context().new_page()
    log_in(ana, base_url, "ana", "ana-password-1")
    ana.goto(url)
    expect(ana.locator("#claim-status")).to_contain_text("You hold this event")
    bea = browser.new_context().new_page()
    log_in(bea, base_url, "bea", "bea-password-1")
    bea.goto(url)
    return ana, bea


def column_values(page: Page, column: str) -> list[str]:
    index = page.locator("table.queue thead th").evaluate_all(
        "(cells, key) => cells.findIndex((cell) => cell.dataset.column === key)", column
    )
    return page.locator(f"table.queue tbody tr td:nth-child({index + 1})").all_inner_texts()


def settled_column_values(page: Page, column: str, *, timeout: float = 20.0) -> list[str]:
    """The column's values once the queue has redrawn: the URL changes before the new rows arrive."""
    deadline = time.monotonic() + timeout
    values = column_values(page, column)
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)
        again = column_values(page, column)
        if again and again == values:
            return again
        values = again
    return values


def first_number(text: str) -> float:
    return float(text.split()[0])


def test_an_analyst_sorts_filters_and_reviews_three_events_from_the_keyboard(live_server, analyst, exotic_events):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1500, "height": 950})
        log_in(page, live_server.url, "ana", "ana-password-1")
        page.goto(f"{live_server.url}/")
        expect(page.locator("table.queue tbody tr").first).to_have_attribute(
            "data-id",
            str(
                Event.objects.filter(importance__isnull=False)
                .order_by("-importance", "-id")
                .values_list("pk", flat=True)[0]
            ),
        )
        importances = [float(v.split()[-1]) for v in column_values(page, "importance") if v.split()[-1] != "unscored"]
        assert importances and importances == sorted(importances, reverse=True)

        page.get_by_role("button", name="Mag").click()
        expect(page).to_have_url(f"{live_server.url}/?ordering=-magnitude")
        expect(page.locator("th[data-column=magnitude]")).to_have_attribute("aria-sort", "descending")
        magnitudes = [first_number(v) for v in settled_column_values(page, "magnitude") if v != "—"]
        assert magnitudes == sorted(magnitudes, reverse=True) and len(magnitudes) > 10

        page.fill("input[name=region]", "alaska")
        page.get_by_role("button", name="Filter").click()
        expect(page).to_have_url(f"{live_server.url}/?ordering=-magnitude&region=alaska")
        biggest_in_alaska = Event.objects.filter(region__icontains="alaska").order_by("-magnitude", "-id")
        first_row = page.locator("table.queue tbody tr").first
        expect(first_row).to_have_attribute("data-id", str(biggest_in_alaska.values_list("pk", flat=True)[0]))
        regions = column_values(page, "region")
        assert regions and all("alaska" in region.lower() for region in regions)
        screenshot(page, "queue.png")

        page.goto(f"{live_server.url}/?review_state=scored,new")
        expect(page.locator("table.queue tbody tr.selected")).to_have_count(1)
        order = page.locator("table.queue tbody tr").evaluate_all("(rows) => rows.map((row) => Number(row.dataset.id))")
        page.keyboard.press("Enter")
        for position, keys in enumerate((["7", "a"], ["r"], ["9", "c", "a"])):
            page.wait_for_url(f"**/queue/events/{order[position]}/?**")
            expect(page.locator("#claim-status")).to_contain_text("You hold this event")
            expect(page.locator("#next-event")).to_be_visible()
            for key in keys:
                page.keyboard.press(key)
        page.wait_for_url(f"**/queue/events/{order[3]}/?**")  # each decision opened the next event in the queue
        expect(page.locator("#claim-status")).to_contain_text("You hold this event")

        entries = list(AuditEntry.objects.order_by("id"))
        assert [(e.event_id, e.action, e.user) for e in entries] == [
            (order[0], "accept", analyst),
            (order[1], "reject", analyst),
            (order[2], "accept", analyst),
        ]
        assert [Event.objects.get(pk=pk).event_type for pk in order[:3]] == ["landslide", "not existing", "other event"]
        assert Event.objects.get(pk=order[2]).event_type_certainty == "suspected"

        page.goto(f"{live_server.url}/queue/events/{order[0]}/")
        expect(page.locator("#history")).to_contain_text("ana accepted")
        expect(page.locator("#history")).to_contain_text("→ landslide")

        page.goto(f"{live_server.url}/queue/events/{exotic_events.pk}/")
        expect(page.locator("#waveforms .main-svg").first).to_be_visible(timeout=30000)
        assert int(page.locator("#waveforms").get_attribute("data-traces") or 0) >= 3
        screenshot(page, "event.png")


def test_two_analysts_see_each_others_claims_and_a_stale_review_gets_the_conflict_message(
    live_server, analyst, second_analyst, exotic_events
):
    url = f"{live_server.url}/queue/events/{exotic_events.pk}/"
    with chromium() as browser:
        ana, bea = ana_then_bea_open(browser, live_server.url, url)
        expect(bea.locator("#claim-status")).to_contain_text("Claimed by ana")
        bea.goto(f"{live_server.url}/?claimed_by=ana")
        expect(bea.locator("table.queue tbody tr")).to_have_count(1)
        expect(bea.locator("table.queue tbody")).to_contain_text("ana")
        bea.goto(url)
        expect(bea.locator("#claim-status")).to_contain_text("Claimed by ana")

        ana.keyboard.press("3")
        ana.keyboard.press("s")
        expect(ana.locator("#message")).to_have_text("Saved.")
        ana.keyboard.press("q")
        ana.wait_for_url(re.compile(re.escape(live_server.url) + r"/(\?.*)?$"))

        bea.keyboard.press("r")
        expect(bea.locator("#message")).to_contain_text("changed since you opened it")
        ARTIFACTS.mkdir(exist_ok=True)
        bea.screenshot(path=str(ARTIFACTS / "event-conflict.png"))
    event = Event.objects.get(pk=exotic_events.pk)
    assert (event.event_type, event.review_state) == ("mining explosion", "in_review")
    # The winner's change and the loser's refused attempt are both in the trail.
    assert [e.action for e in AuditEntry.objects.order_by("id")] == ["set_type", "review_refused"]


def test_the_event_page_draws_the_offline_map_and_a_commit_button_decides_by_one_key(
    live_server, analyst, exotic_events
):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1500, "height": 950})
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        log_in(page, live_server.url, "ana", "ana-password-1")
        page.goto(f"{live_server.url}/queue/events/{exotic_events.pk}/?ordering=-importance")
        expect(page.locator("#event-map[data-drawn=true] .main-svg").first).to_be_visible(timeout=30000)
        # inland Alaska: Cook Inlet's shore, no national border in the box
        expect(page.locator("#event-map .legendtext")).to_have_text(["coastline", "station with data", "epicentre"])
        expect(page.locator("#claim-status")).to_contain_text("You hold this event")
        page.keyboard.press("?")
        expect(page.locator("#help")).to_contain_text("commit: Landslide = accept as landslide (known)")
        page.keyboard.press("?")
        page.keyboard.press("L")
        page.wait_for_url(lambda url: f"/queue/events/{exotic_events.pk}/" not in url)
        assert all(url.startswith(live_server.url) for url in requests), [u for u in requests if "127.0.0.1" not in u]
    event = Event.objects.get(pk=exotic_events.pk)
    assert (event.event_type, event.event_type_certainty, event.review_state) == ("landslide", "known", "accepted")
    assert [(e.action, e.user) for e in AuditEntry.objects.all()] == [("accept", analyst)]


def test_a_second_analyst_sees_who_else_is_looking_on_the_event_page_and_in_the_queue(
    live_server, analyst, second_analyst, exotic_events
):
    url = f"{live_server.url}/queue/events/{exotic_events.pk}/"
    with chromium() as browser:
        ana, bea = ana_then_bea_open(browser, live_server.url, url)
        expect(bea.locator("#presence")).to_have_text("👁 Also looking at this event: ana")
        bea.goto(f"{live_server.url}/?claimed_by=ana")
        row = bea.locator(f"table.queue tbody tr[data-id='{exotic_events.pk}']")
        expect(row.locator(".viewers")).to_have_text("👁 ana")
        bea.goto(url)  # leaving the event page took bea off it; coming back puts her on again
        expect(bea.locator("#presence")).to_contain_text("ana")
        ana.reload()  # ana's first heartbeat names bea
        expect(ana.locator("#presence")).to_have_text("👁 Also looking at this event: bea")
