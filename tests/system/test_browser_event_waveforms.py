"""The event page's waveform view in a real browser, on the demo that `make run` loads (load_demo with a real
worker scoring it, training the first CNN on the demo's labelled records and running it): the demo's events draw,
a zoom fetches the window again at full resolution, the CNN's saliency is shaded under the traces and its
probabilities stand beside the ranker's, the view aligns on P, rotates to R/T and removes the response, and a
P pick placed with one key and a click is stored as the analyst's manual pick, audited, and exported in a
QuakeML bulletin."""

import datetime as dt
from pathlib import Path
from typing import Any

import obspy
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from playwright.sync_api import Page, expect

from analyst.models import AuditEntry
from analyst.picks import WORKBENCH_PICK_METHOD
from events.models import Event, Pick
from ranking.models import CnnPrediction
from tests.conftest import wait_for
from tests.support.browser import ARTIFACTS, chromium, log_in, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_password_hashing"),
]

SE_USA_EXPLOSION = "smi:seistriage.demo/se_usa/20150623030000"  # 4 stations, each with its P pick
LAHAR = "smi:esec.iris.edu/event/1"  # 3-component records with full StationXML responses


@pytest.fixture
def demo_with_cnn(make_run_demo: None) -> dict[str, Event]:
    """`make run`'s demo (make_run_demo: the real worker has scored it, trained and promoted the first CNN on the
    demo's labelled records and stored its probabilities and saliency): the two events this file opens."""
    events = {
        name: Event.objects.get(public_id=public_id) for name, public_id in (("se", SE_USA_EXPLOSION), ("lahar", LAHAR))
    }
    for event in events.values():
        predictions = CnnPrediction.objects.filter(event=event).exclude(saliency_path="")
        assert predictions.exists(), f"the worker stored no CNN saliency for {event.public_id}"
        assert event.importance is not None, f"the worker never scored {event.public_id}"
    return events


def _visible_points(page: Page) -> list[int]:
    """Per drawn waveform row, the points inside the current x range."""
    counts: list[int] = page.evaluate(
        """() => {
            const box = document.getElementById("waveforms");
            const [a, b] = box._fullLayout.xaxis.range;
            return box.data.filter((t) => t.meta && t.meta.scale !== undefined)
                .map((t) => t.x.filter((x) => x !== null && x >= a && x <= b).length);
        }"""
    )
    return counts


def _plot_px(page: Page, seconds: float, row: int) -> tuple[float, float]:
    """Page coordinates of (x seconds, row) in the record section."""
    box = page.locator("#waveforms .nsewdrag").first.bounding_box()
    assert box is not None
    (x0, x1), width, (y0, y1), height = page.evaluate(
        """() => { const l = document.getElementById("waveforms")._fullLayout;
                   return [l.xaxis.range, l.xaxis._length, l.yaxis.range, l.yaxis._length]; }"""
    )
    return (
        box["x"] + (seconds - x0) / (x1 - x0) * width,
        box["y"] + (y1 - (-row)) / (y1 - y0) * height,
    )


def _requests(page: Page) -> int:
    return int(page.locator("#waveforms").get_attribute("data-requests") or 0)


def test_the_demo_event_page_zooms_to_samples_shades_saliency_and_exports_a_pick(
    live_server: Any, analyst: User, demo_with_cnn: dict[str, Event], tmp_path: Path
) -> None:
    explosion, lahar = demo_with_cnn["se"], demo_with_cnn["lahar"]
    assert explosion.origin_time is not None
    first_p = min(Pick.objects.filter(event=explosion, phase_hint__startswith="P").values_list("time", flat=True))
    p_seconds = (first_p - explosion.origin_time).total_seconds()
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        log_in(page, live_server.url, "ana", "ana-password-1")
        page.goto(f"{live_server.url}/queue/events/{explosion.pk}/")
        waveforms = page.locator("#waveforms")
        expect(waveforms).to_have_attribute("data-traces", "4", timeout=30000)
        expect(page.locator("#claim-status")).to_contain_text("UTC")

        # the first screen at 1,366 x 768: the decision form, the ranker's reasons and the map
        for selector in ("#decision [data-decision=accept]", "#ml-panel .explanation li", "#event-map .main-svg"):
            element = page.locator(selector).first
            expect(element).to_be_visible(timeout=30000)
            box = element.bounding_box()
            assert box is not None and box["y"] + box["height"] <= 768 and box["x"] + box["width"] <= 1366, selector
        expect(page.locator("#gap-summary")).to_have_text("No gaps in the data.")
        # a long public id wraps inside its column instead of running under the waveforms
        public_id, column = page.locator("code.public-id").bounding_box(), page.locator(".review-side").bounding_box()
        assert public_id is not None and column is not None
        assert public_id["x"] + public_id["width"] <= column["x"] + column["width"] + 1

        # the CNN's saliency is shaded under the traces, and its probabilities stand beside the ranker's
        expect(waveforms).not_to_have_attribute("data-saliency", "0")
        assert page.locator("#waveforms .legendtext", has_text="CNN saliency").count() == 1
        expect(page.locator("#saliency-note")).to_contain_text("Shaded: where the CNN")
        prediction = CnnPrediction.objects.get(event=explosion)
        cnn_rows = page.locator("#cnn-panel table.beside tbody tr")
        expect(cnn_rows).to_have_count(4)
        earthquake = round(100 * prediction.class_probabilities["earthquake"])
        expect(cnn_rows.filter(has_text="earthquake").first).to_contain_text(str(earthquake))
        expect(page.locator("#cnn-panel details summary")).to_contain_text(f"Per station ({len(prediction.stations)})")

        # a 6 s zoom from just before the first P: a new request, and every row draws more points in that span
        before = _requests(page)
        x0, y = _plot_px(page, p_seconds - 1, 0)
        x1, _ = _plot_px(page, p_seconds + 5, 0)
        page.mouse.move(x0, y)
        page.mouse.down()
        page.mouse.move((x0 + x1) / 2, y, steps=4)
        page.mouse.move(x1, y, steps=4)
        page.mouse.up()
        page.wait_for_function(f"() => Number(document.getElementById('waveforms').dataset.requests) > {before}")
        expect(waveforms).not_to_have_attribute("data-window", "")
        page.wait_for_function(
            "() => { const w = document.getElementById('waveforms').dataset.window.split(',').map(Number);"
            " return w[1] - w[0] < 7; }"
        )
        fine = _visible_points(page)
        # 50 Hz records: 6 s hold 300 samples, fewer than the plot's pixel columns, so every one is drawn (the
        # overview drew about one point per 0.2 s); the first row's record starts half a second into the zoom
        assert fine and min(fine) >= 250, fine
        page.mouse.move(5, 5)  # no hover label on the picture
        page.wait_for_timeout(300)
        screenshot(page, "event-zoomed-saliency.png")

        # one key and a click: a P pick on the first row, at the zoomed onset
        seed_id = page.evaluate(
            "() => document.getElementById('waveforms').data.find((t) => t.meta && t.meta.row === 0).name"
        )
        page.keyboard.press("p")
        expect(page.locator("#pick-status")).to_contain_text("Click on a trace to place P")
        page.mouse.click(*_plot_px(page, p_seconds + 0.1, 0))
        expect(page.locator("#pick-status")).to_contain_text(f"Added manual P pick on {seed_id}")
        expect(page.locator("#picks tr.pick-workbench")).to_have_count(1)
        pick = Pick.objects.get(event=explosion, method_id=WORKBENCH_PICK_METHOD)
        assert (pick.seed_id, pick.phase_hint, pick.evaluation_mode, pick.author) == (seed_id, "P", "manual", "ana")
        assert abs((pick.time - first_p).total_seconds() - 0.1) < 0.1
        entry = AuditEntry.objects.get(event=explosion, action="pick")
        assert entry.user == analyst and entry.after["seed_id"] == seed_id and entry.before == {}
        # drawn in its own colour, on the figure fetched again
        expect(page.locator("#waveforms .legendtext", has_text="picks made here")).to_have_count(1)

        # accept: the pick travels with the event into a QuakeML bulletin
        page.keyboard.press("a")
        wait_for(lambda: Event.objects.get(pk=explosion.pk).review_state == "accepted", what="the decision")

        # the lahar: aligned on P, rotated to R/T, with the response removed to velocity
        page.goto(f"{live_server.url}/queue/events/{lahar.pk}/")
        expect(waveforms).not_to_have_attribute("data-traces", "0", timeout=30000)
        page.keyboard.press("l")
        expect(waveforms).to_have_attribute("data-aligned", "true")
        expect(page.locator("#waveforms .g-xtitle")).to_have_text("seconds after P")
        page.select_option("#waveform-components", "RT")
        page.wait_for_function(
            "() => { const d = document.getElementById('waveforms').data"
            ".filter((t) => t.meta && t.meta.scale !== undefined);"
            " return d.length > 0 && d.every((t) => /[RT]$/.test(t.name)); }"
        )
        page.keyboard.press("v")
        expect(page.locator("#waveforms .ytick").first).to_contain_text("(m/s)")
        screenshot(page, "event-aligned-rt-velocity.png")

    out = tmp_path / "bulletin.xml"
    day = explosion.origin_time.date()
    call_command(
        "export_bulletin",
        start=f"{day}T00:00:00",
        end=f"{day + dt.timedelta(days=1)}T00:00:00",
        format="quakeml",
        output=out,
        verbosity=0,
    )
    catalog = obspy.read_events(str(out), format="QUAKEML")
    exported = [
        p for event in catalog for p in event.picks if p.method_id and WORKBENCH_PICK_METHOD in str(p.method_id)
    ]
    assert len(exported) == 1
    assert exported[0].evaluation_mode == "manual" and exported[0].creation_info.author == "ana"
    assert exported[0].waveform_id.get_seed_string() == seed_id
    assert abs(exported[0].time - obspy.UTCDateTime(pick.time)) < 0.001
    assert (ARTIFACTS / "event-zoomed-saliency.png").exists()
