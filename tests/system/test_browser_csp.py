"""The Content-Security-Policy in a real browser: every page with its scripts, the plotly.js waveform figure and
the Swagger UI work under it, and Chromium reports no blocked script, style, image or connection."""

import datetime as dt
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from playwright.sync_api import expect

from analyst.ingest.services import events_ingest_file
from events.models import Event
from tests.support.browser import chromium, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_password_hashing"),
]
LAHAR_ORIGIN = dt.datetime(2014, 9, 10, 19, 21, 15, tzinfo=dt.UTC)


def test_no_page_breaks_the_content_security_policy(live_server, senior_analyst: User, shared_data: Path) -> None:
    cache.clear()
    events_ingest_file(path=shared_data / "esec/IRISExoticEventCatalog.txt")
    call_command("import_stations", *map(str, sorted((shared_data / "esec/stations/1").glob("*.xml"))), verbosity=0)
    call_command("import_waveforms", *map(str, sorted((shared_data / "esec/waveforms/1").glob("*.mseed"))), verbosity=0)
    lahar = Event.objects.get(origin_time=LAHAR_ORIGIN)
    blocked: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda error: blocked.append(f"page error: {error}"))
        log_in(page, live_server.url, "sen", "sen-password-1")
        for url in ("/", "/events/", f"/events/{lahar.pk}/", "/import/", "/bulletins/", "/models/"):
            response = page.goto(f"{live_server.url}{url}")
            assert response is not None and response.status == 200, url
            assert "default-src 'self'" in (response.header_value("content-security-policy") or ""), url
            page.wait_for_load_state("networkidle")
        page.goto(f"{live_server.url}/queue/events/{lahar.pk}/")
        expect(page.locator("#waveforms .main-svg").first).to_be_visible(timeout=30000)
        page.wait_for_load_state("networkidle")
        page.goto(f"{live_server.url}/api/docs/")
        expect(page.locator(".swagger-ui .info").first).to_be_visible(timeout=20000)
    assert blocked == []
