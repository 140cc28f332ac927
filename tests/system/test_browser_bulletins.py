"""The bulletins page in a real browser with a real Celery worker: an analyst asks for a draft of a whole
catalogue, the page answers at once, polls the job (static/js/bulletins.js) and offers the file when the worker
has written it; the downloaded file is the recorded one."""

import hashlib
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from analyst.models import Bulletin
from events.models import Event
from tests.support.browser import chromium, log_in, screenshot
from tests.support.export_data import import_bundled

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_password_hashing"),
]


def test_an_analyst_builds_a_draft_and_downloads_it_when_the_worker_has_written_it(
    live_server, analyst: User, obspy_data: Path, celery_worker_process: None, tmp_path: Path
) -> None:
    import_bundled(obspy_data)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        log_in(page, live_server.url, "ana", "ana-password-1")
        page.get_by_role("link", name="Bulletins").click()
        page.fill("input[name=start]", "1990-01-01T00:00:00")
        page.fill("input[name=end]", "2030-01-01T00:00:00")
        page.select_option("select[name=status]", "all")
        page.select_option("select[name=format]", "csv")
        page.get_by_role("button", name="Build draft").click()
        row = page.locator("#bulletin-jobs tbody tr").first
        expect(row.locator("td").nth(1)).to_have_text("draft")
        expect(row).to_have_attribute("data-state", "done", timeout=90000)  # polled, no reload
        link = row.locator(".job-result a")
        total = Event.objects.exclude(origin_time=None).count()
        expect(link).to_contain_text(f"{total} events")
        with page.expect_download() as download:
            link.click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        screenshot(page, "bulletin-draft.png")
    draft = Bulletin.objects.get(kind="draft")
    assert saved.name == "seistriage-draft-19900101-20300101.csv"
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == draft.sha256 and draft.event_count == total
