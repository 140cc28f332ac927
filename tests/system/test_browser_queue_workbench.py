"""The queue in a real browser: a promotion rescores the events and the live update re-sorts the rows without
losing the analyst's selection; the default columns fit a 1,366 px screen; a batch of marked events gets one type,
each event audited; `u` undoes the last decision with an audited decision of its own."""

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models import F
from playwright.sync_api import Page, expect

from analyst.ingest.services import events_ingest_file
from analyst.models import AuditEntry
from events.models import Event
from ranking.scoring import events_score
from ranking.training import ranker_train
from ranking.training_runs import model_promote
from tests.support.browser import ARTIFACTS, chromium, log_in, screenshot
from tests.support.workbench_data import pnsn_head, pnsn_rows

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_password_hashing"),
]
UNREVIEWED = "review_state=new,scored"


@pytest.fixture
def pnsn_queue(shared_data: Path, tmp_path: Path) -> list[int]:
    """60 real PNSN events (earthquakes and explosions of 2018), unreviewed, scored by a ranker trained on the
    first 300 real PNSN reviews."""
    cache.clear()
    events_ingest_file(path=pnsn_head(shared_data, tmp_path, rows=300), reviewed=True)
    ranker_train(created_by="browser-tests", promote=True)
    report = events_ingest_file(path=pnsn_rows(shared_data, tmp_path, first=2001, count=60))
    events_score(event_ids=report.event_ids)
    return report.event_ids


def queue_order(ids: list[int]) -> list[int]:
    """The queue's order by importance (nulls last, ties by id), as the API pages it."""
    events = Event.objects.filter(pk__in=ids).order_by(F("importance").desc(nulls_last=True), "-id")
    return list(events.values_list("id", flat=True))


def shown_ids(page: Page) -> list[int]:
    return [
        int(value)
        for value in page.locator("#queue tbody tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    ]


def shown_importances(page: Page) -> list[float]:
    texts = page.locator("#queue tbody tr[data-id] td.importance").all_inner_texts()
    return [float(text.split()[-1]) for text in texts]


def test_a_promotion_re_sorts_the_live_queue_and_keeps_the_selected_event(
    live_server, analyst: User, pnsn_queue: list[int], shared_data: Path, tmp_path: Path
) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.clock.install()
        log_in(page, live_server.url, "ana", "ana-password-1")
        page.goto(f"{live_server.url}/?{UNREVIEWED}")
        expect(page.locator("#queue tbody tr[data-id]")).to_have_count(50)
        before = shown_ids(page)
        assert before == queue_order(pnsn_queue)[:50]
        expect(page.locator("#queue-total")).to_have_text("60 events")
        # The default columns fit the screen: nothing scrolls sideways.
        overflow = page.evaluate(
            "() => { const w = document.querySelector('.table-wrap'); return w.scrollWidth - w.clientWidth; }"
        )
        assert overflow <= 0, f"the queue is {overflow} px wider than a 1,366 px screen"
        for _ in range(3):
            page.keyboard.press("j")
        chosen = int(page.locator("#queue tbody tr.selected").get_attribute("data-id") or 0)
        assert chosen == before[3]

        # A second ranker (another estimator, more reviews) is promoted and the unreviewed events are rescored.
        events_ingest_file(path=pnsn_head(shared_data, tmp_path, rows=1000), reviewed=True)
        second = ranker_train(created_by="second", estimator="logistic_regression")
        model_promote(model_version=second, by="sen", reason="a second opinion")
        events_score(event_ids=pnsn_queue)  # what the rescoring task does once the promotion commits
        after = queue_order(pnsn_queue)[:50]
        assert after != before, "the new ranker should order these events differently"

        page.clock.fast_forward(31_000)  # the 30 s live update

        expect(page.locator("#queue-notice")).to_contain_text("Order changed")
        page.wait_for_function(f"() => document.querySelector('#queue tbody tr').dataset.id === '{after[0]}'")
        assert shown_ids(page) == after
        importances = shown_importances(page)
        assert importances == sorted(importances, reverse=True)
        assert int(page.locator("#queue tbody tr.selected").get_attribute("data-id") or 0) == chosen
        screenshot(page, "queue.png")


def test_a_batch_of_marked_events_gets_one_type_and_undo_takes_back_the_last(
    live_server, analyst: User, pnsn_queue: list[int]
) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        log_in(page, live_server.url, "ana", "ana-password-1")
        page.goto(f"{live_server.url}/?{UNREVIEWED}")
        expect(page.locator("#queue tbody tr[data-id]")).to_have_count(50)
        expect(page.locator("#queue-progress")).to_have_text("0 reviewed today, 60 left in this view")
        marked = shown_ids(page)[:3]
        for key in ("x", "j", "x", "j", "x"):
            page.keyboard.press(key)
        expect(page.locator("#batch-count")).to_have_text("3 marked")
        page.select_option("#batch-type", "quarry blast")
        page.click("#batch-accept")

        expect(page.locator("#queue-notice")).to_contain_text("3 events accepted as quarry blast")
        decided = Event.objects.filter(pk__in=marked)
        assert set(decided.values_list("event_type", "review_state")) == {("quarry blast", "accepted")}
        accepts = AuditEntry.objects.filter(action="accept", user=analyst, event_id__in=marked)
        assert accepts.count() == 3
        expect(page.locator("#queue-progress")).to_have_text("3 reviewed today, 57 left in this view")
        expect(page.locator("#queue tbody tr[data-id]")).to_have_count(50)  # the next page's rows move up

        page.keyboard.press("u")

        last = marked[2]  # the batch decides in the order of the rows: the third was the last decision
        expect(page.locator("#queue-notice")).to_contain_text(f"Undid your accept of event {last}")
        event = Event.objects.get(pk=last)
        assert event.review_state == "scored" and event.event_type != "quarry blast"
        undo = AuditEntry.objects.get(action="undo", event_id=last)
        assert undo.user == analyst
        assert undo.after["undoes"] == accepts.get(event_id=last).pk
        assert undo.before["review_state"] == "accepted"
        expect(page.locator(f"#queue tbody tr[data-id='{last}']")).to_have_count(1)
        ARTIFACTS.mkdir(exist_ok=True)
        screenshot(page, "queue-after-undo.png")

        # On the review page of another event, u takes back the decision before and shows its event.
        page.goto(f"{live_server.url}/queue/events/{marked[0]}/?{UNREVIEWED}")
        page.keyboard.press("u")
        page.wait_for_url(re.compile(rf"/queue/events/{marked[1]}/\?review_state=new(,|%2C)scored$"))
        assert Event.objects.get(pk=marked[1]).review_state == "scored"
        assert AuditEntry.objects.filter(action="undo", user=analyst).count() == 2
