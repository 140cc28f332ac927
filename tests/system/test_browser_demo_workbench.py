"""The workbench in a real browser on the demo that `make run` loads: load_demo, with the session's real worker
scoring the queue and training the demo's first CNN (nothing from the shared folder). The demo takes a minute to load
and score, so one walk checks, in the order an analyst and a senior analyst would meet them:

- a ranker trained from the model page on the demo's labels is promoted through the confirmation its thin test asks
  for (the reason is kept), with the comparison plots served locally;
- the analyst's open queue re-sorts live to the promoted ranker's order, keeping her selection;
- a batch of the demo's explosions gets one type, each event audited; `u` undoes the last decision with an audited
  decision of its own, on the queue and on the review page;
- j/k walk the most informative list and the event search in their own orders.

The "worse on the verdict metric" warning is checked on shared data (test_browser_models_promote.py): on the demo's
labels no candidate is worse by that metric (see there)."""

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import F
from playwright.sync_api import Browser, Page, ViewportSize, expect

from analyst.models import AuditEntry
from events.models import Event
from events.vocabulary import UNREVIEWED_STATES
from ranking.models import EventScore, ModelPromotion, ModelVersion, TrainingRun
from ranking.registry import model_version_active
from ranking.selectors import PROMOTION_MIN_HELD_OUT, comparison_verdict, events_most_informative
from tests.conftest import wait_for
from tests.support.browser import chromium, log_in, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_password_hashing", "make_run_demo"),
]
UNREVIEWED = "review_state=new,scored"
SCREEN: ViewportSize = {"width": 1366, "height": 768}
# A list's event name: time, magnitude and type when known, region (never a 60-character public id)
NAME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d( M-?\d+\.\d( \(\w+\))?)?( .+)?$")


def unreviewed_ids() -> list[int]:
    return list(Event.objects.filter(review_state__in=UNREVIEWED_STATES).values_list("id", flat=True))


def queue_order(ids: list[int]) -> list[int]:
    """The queue's order by importance (nulls last, ties by id), as the API pages it."""
    events = Event.objects.filter(pk__in=ids).order_by(F("importance").desc(nulls_last=True), "-id")
    return list(events.values_list("id", flat=True))


def shown_ids(page: Page) -> list[int]:
    return [
        int(value)
        for value in page.locator("#queue tbody tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    ]


def selected_id(page: Page) -> int:
    return int(page.locator("#queue tbody tr.selected").get_attribute("data-id") or 0)


def test_the_demo_workbench_promotes_re_sorts_decides_in_batches_undoes_and_walks_lists(
    live_server: Any, analyst: User, senior_analyst: User
) -> None:
    url = live_server.url
    queue_ids = unreviewed_ids()
    assert len(queue_ids) >= 20, f"the demo should leave at least 20 events to review, found {len(queue_ids)}"
    with chromium() as browser:
        queue = _open_the_queue(browser, url, queue_ids)
        before = shown_ids(queue)
        for _ in range(3):
            queue.keyboard.press("j")
        chosen = selected_id(queue)
        assert chosen == before[3]

        candidate = _train_and_promote_from_the_model_page(browser, url)
        _the_open_queue_re_sorts_to_the_new_ranker(queue, queue_ids, before=before, candidate=candidate, chosen=chosen)
        _batch_accept_explosions_then_undo(queue, url, analyst)

        page = browser.new_context(viewport=SCREEN).new_page()
        log_in(page, url, "ana", "ana-password-1")
        _j_and_k_walk_the_most_informative_list(page, url)
        _j_and_k_walk_the_event_search(page, url)


def _open_the_queue(browser: Browser, url: str, queue_ids: list[int]) -> Page:
    """The analyst's queue of the demo's unreviewed events, in the first ranker's order, its clock held so the 30 s
    live update runs when the test says."""
    page = browser.new_context(viewport=SCREEN).new_page()
    page.clock.install()
    log_in(page, url, "ana", "ana-password-1")
    page.goto(f"{url}/?{UNREVIEWED}")
    expect(page.locator("#queue tbody tr[data-id]")).to_have_count(min(50, len(queue_ids)))
    assert shown_ids(page) == queue_order(queue_ids)[:50], "the queue should open in importance order"
    expect(page.locator("#queue-total")).to_have_text(f"{len(queue_ids)} events")
    overflow = page.evaluate(
        "() => { const w = document.querySelector('.table-wrap'); return w.scrollWidth - w.clientWidth; }"
    )
    assert overflow <= 0, f"the queue is {overflow} px wider than a 1,366 px screen"
    return page


def _train_and_promote_from_the_model_page(browser: Browser, url: str) -> ModelVersion:
    """The senior analyst presses Train now; the worker trains a candidate on the demo's labels and compares it with
    load_demo's ranker on the newest labelled events; the page shows the verdict by itself, and Promote asks for a
    reason (the demo holds out fewer than 200 events), which is kept."""
    page = browser.new_context(viewport=SCREEN).new_page()
    external: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(url) else external.append(r.url))
    log_in(page, url, "sen", "sen-password-1")
    page.goto(f"{url}/models/ranker/")
    first = model_version_active(kind="ranker")
    assert first is not None and first.created_by == "load_demo"
    expect(page.locator("#active-version")).to_have_text(first.version)

    page.click("#train-now")

    wait_for(
        lambda: TrainingRun.objects.filter(kind="ranker", status__in=["succeeded", "failed"]).exists(),
        timeout=240,
        what="the worker to finish the training run started from the model page",
    )
    run = TrainingRun.objects.get(kind="ranker")
    assert run.status == "succeeded", f"the training run failed: {run.error}"
    candidate = run.candidate
    assert candidate is not None and run.compared_with == first
    verdict = comparison_verdict(run)
    held_out = verdict["held_out_events"]
    assert held_out is not None and held_out < PROMOTION_MIN_HELD_OUT, held_out
    # the page reloads by itself when the run it watched finishes
    expect(page.locator("#verdict")).to_contain_text("Candidate finds 95% of events of interest in", timeout=30000)
    expect(page.locator("#verdict")).to_contain_text(f"{held_out} held-out events")
    expect(page.locator("#run-status")).to_contain_text(f"Run {run.pk} succeeded")
    page.click("#metrics-details summary")
    assert verdict["metrics_worse"] > 0, "the candidate should trail load_demo's ranker on some metrics"
    expect(page.locator("#side-by-side tr.worse")).to_have_count(verdict["metrics_worse"])
    expect(page.locator("#side-by-side tr.better")).to_have_count(verdict["metrics_better"])
    page.click("#metrics-details summary")
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20000)
    assert page.locator(".js-plotly-plot").count() >= 3, "the comparison plots should draw"

    page.get_by_role("button", name=f"Promote {candidate.version}").click()
    dialog = page.locator("#promote-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"only {held_out} held-out events (under {PROMOTION_MIN_HELD_OUT})")
    worse = page.locator("#promote-dialog-warnings li", has_text="worse than the active model on the verdict metric")
    expect(worse).to_have_count(1 if verdict["candidate_better"] is False else 0)
    screenshot(page, "demo-models-promote-warning.png")
    page.click("#promote-confirm")  # no reason given: the dialog stays and nothing is promoted
    expect(dialog).to_be_visible()
    assert not ModelPromotion.objects.filter(model_version=candidate).exists(), "promoted without a reason"
    page.fill("#promote-reason", "trained on the demo's labels; thin test accepted for the demo")
    page.click("#promote-confirm")

    expect(page.locator("#active-version")).to_have_text(candidate.version)
    promotion = ModelPromotion.objects.get(model_version=candidate)
    assert (promotion.by, promotion.reason) == ("sen", "trained on the demo's labels; thin test accepted for the demo")
    assert external == [], f"the model page reached outside the server: {external}"
    page.context.close()
    return candidate


def _the_open_queue_re_sorts_to_the_new_ranker(
    page: Page, queue_ids: list[int], *, before: list[int], candidate: ModelVersion, chosen: int
) -> None:
    """The promotion sends the queue to the worker for rescoring; the analyst's open queue takes the new order at
    its next live update without a reload, says so, and keeps her selected event selected."""
    wait_for(
        lambda: (
            EventScore.objects.filter(event_id__in=queue_ids, ranker_version=candidate.version)
            .values("event_id")
            .distinct()
            .count()
            == len(queue_ids)
        ),
        timeout=180,
        what="the worker to rescore the demo's queue with the promoted ranker",
    )
    after = queue_order(queue_ids)[:50]
    assert after != before, "the promoted ranker should order the demo's queue differently from load_demo's"
    assert shown_ids(page) == before, "the open queue should not change before its live update"

    page.clock.fast_forward(31_000)  # the 30 s live update

    expect(page.locator("#queue-notice")).to_contain_text("Order changed")
    page.wait_for_function(f"() => document.querySelector('#queue tbody tr').dataset.id === '{after[0]}'")
    assert shown_ids(page) == after, "the live update should show the rows in the new ranker's order"
    texts = page.locator("#queue tbody tr[data-id] td.importance").all_inner_texts()
    importances = [float(text.split()[-1]) for text in texts]
    assert importances == sorted(importances, reverse=True), f"not in importance order: {importances}"
    assert selected_id(page) == chosen, "the live update should keep the analyst's selected event"
    screenshot(page, "demo-queue.png")


def _batch_accept_explosions_then_undo(page: Page, url: str, analyst: User) -> None:
    """Three of the demo's explosions, marked with x and accepted as quarry blasts at once, each audited; `u` takes
    back the last with an audited undo, and on the review page of another event the one before."""
    page.goto(f"{url}/?{UNREVIEWED}&event_type=explosion")
    explosions = Event.objects.filter(review_state__in=UNREVIEWED_STATES, event_type="explosion")
    left = explosions.count()
    assert left >= 3, f"the demo should hold at least 3 unreviewed explosions, found {left}"
    expect(page.locator("#queue tbody tr[data-id]")).to_have_count(min(50, left))
    expect(page.locator("#queue-progress")).to_have_text(f"0 reviewed today, {left} left in this view")
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
    assert accepts.count() == 3, "each event of the batch should have its own audit entry"
    for entry in accepts:
        assert entry.before["event_type"] == "explosion" and entry.after["event_type"] == "quarry blast", entry.pk
    expect(page.locator("#queue-progress")).to_have_text(f"3 reviewed today, {left - 3} left in this view")
    expect(page.locator("#queue tbody tr[data-id]")).to_have_count(min(50, left - 3))

    page.keyboard.press("u")

    last = marked[2]  # the batch decides in the order of the rows: the third was the last decision
    expect(page.locator("#queue-notice")).to_contain_text(f"Undid your accept of event {last}")
    event = Event.objects.get(pk=last)
    assert (event.review_state, event.event_type) == ("scored", "explosion"), "undo should restore the state before"
    undo = AuditEntry.objects.get(action="undo", event_id=last)
    assert undo.user == analyst
    assert undo.after["undoes"] == accepts.get(event_id=last).pk
    assert undo.before["review_state"] == "accepted"
    expect(page.locator(f"#queue tbody tr[data-id='{last}']")).to_have_count(1)
    expect(page.locator("#queue-progress")).to_contain_text(f", {left - 2} left in this view")  # back in the view
    screenshot(page, "demo-queue-after-undo.png")

    # On the review page of another event, u takes back the decision before and shows its event.
    page.goto(f"{url}/queue/events/{marked[0]}/?{UNREVIEWED}")
    page.keyboard.press("u")
    page.wait_for_url(re.compile(rf"/queue/events/{marked[1]}/\?review_state=new(,|%2C)scored$"))
    assert Event.objects.get(pk=marked[1]).review_state == "scored"
    assert AuditEntry.objects.filter(action="undo", user=analyst).count() == 2


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


def _j_and_k_walk_the_most_informative_list(page: Page, url: str) -> None:
    """The list names events by time, magnitude and region; j/k walk it in its order, Enter opens the event under
    the cursor, and the event's page walks on through the list (not the queue) until q returns to it."""
    informative = [row["event"].pk for row in events_most_informative()]
    assert len(informative) >= 4, informative
    page.goto(f"{url}/learning/informative/")
    links = page.locator("#informative tbody a.open-event")
    expect(links).to_have_count(len(informative))
    for name in links.all_inner_texts()[:10]:
        assert NAME.match(name) and len(name) < 60, name
        assert "smi:" not in name and "quakeml:" not in name, name
    for key in ("j", "j", "j", "k"):
        page.keyboard.press(key)
    expect(page.locator("#informative tbody tr.selected")).to_have_count(1)
    selected = page.locator("#informative tbody tr.selected a.open-event")
    expect(selected).to_have_attribute("href", f"/queue/events/{informative[1]}/?walk=informative")

    page.keyboard.press("Enter")

    page.wait_for_url(f"**/queue/events/{informative[1]}/?walk=informative")
    nav = page.locator("header nav")
    for name in ("Queue", "Events", "Most informative", "Models", "Bulletins", "Label agreement"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_have_count(1)
    expect(page.locator("#walk-status")).to_have_text(f"2 of {len(informative)} in Most informative first")
    assert _queue_next(page, informative[1]) != informative[2], "the list's order is the queue's here: no proof"
    expect(page.locator("#next-event")).to_have_attribute("href", f"/queue/events/{informative[2]}/?walk=informative")
    for expected in (informative[2], informative[3]):
        page.keyboard.press("j")
        page.wait_for_url(f"**/queue/events/{expected}/?walk=informative")
        expect(page.locator("#previous-event")).to_be_visible()
    for expected in (informative[2], informative[1], informative[0]):
        page.keyboard.press("k")
        page.wait_for_url(f"**/queue/events/{expected}/?walk=informative")
        expect(page.locator("#next-event")).to_be_visible()
    expect(page.locator("#previous-event")).to_be_hidden()  # the list's first event
    page.keyboard.press("q")  # back to the list it came from
    page.wait_for_url("**/learning/informative/")

    # opened from the queue, the same event walks the queue again
    page.goto(f"{url}/queue/events/{informative[1]}/")
    queue_next = _queue_next(page, informative[1])
    assert queue_next is not None
    expect(page.locator("#next-event")).to_have_attribute("href", f"/queue/events/{queue_next}/?")
    expect(page.locator("#walk-status")).to_be_hidden()


def _j_and_k_walk_the_event_search(page: Page, url: str) -> None:
    """The event search (newest first) opens the event under the cursor with o, and its page walks the results."""
    newest = list(Event.objects.order_by("-origin_time", "-id").values_list("id", flat=True)[:4])
    page.goto(f"{url}/events/")
    for _ in range(3):
        page.keyboard.press("j")
    page.keyboard.press("o")
    page.wait_for_url(f"**/events/{newest[2]}/?walk=events")
    expect(page.locator("#walk-status")).to_contain_text("3 of")
    page.keyboard.press("j")
    page.wait_for_url(f"**/events/{newest[3]}/?walk=events")
    for expected in (newest[2], newest[1]):
        page.keyboard.press("k")
        page.wait_for_url(f"**/events/{expected}/?walk=events")
