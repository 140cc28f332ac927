"""The import page in a real browser: a senior analyst uploads a real event file, a real Celery worker
imports it, and the page shows the progress and the importer's report."""

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from events.models import Event
from tests.support.browser import chromium, log_in, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_password_hashing"),
]


def test_a_senior_analyst_uploads_a_bulletin_and_sees_the_importers_report(
    live_server, senior_analyst: User, obspy_data: Path, celery_worker_process: None
) -> None:
    bulletin = obspy_data / "io/iaspei/tests/data/ipe202409sel_ims.txt"
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        log_in(page, live_server.url, "sen", "sen-password-1")
        page.get_by_role("link", name="Import").click()
        page.set_input_files("input[name=events]", str(bulletin))
        page.get_by_role("button", name="Upload and import").click()
        expect(page.locator("#import-state")).to_have_attribute("data-state", "done", timeout=90000)
        expect(page.locator("#import-progress")).to_have_attribute("value", "1")
        row = page.locator("#import-report tbody tr")
        expect(row).to_have_count(1)
        cells = row.locator("td")
        expect(cells.nth(2)).to_have_text("done")
        created = Event.objects.count()
        for index, text in enumerate([bulletin.name, "events", "done", str(created), "0"]):
            expect(cells.nth(index)).to_have_text(text)
        skipped = cells.nth(5).inner_text()
        expect(cells.nth(6)).to_contain_text(f"events {created} created, 0 updated, {skipped} skipped")
        screenshot(page, "import.png")
    assert created > 0
