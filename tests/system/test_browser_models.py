"""The model page in a real browser: a senior analyst sees candidate and active side by side, with the
comparison plots drawn by the locally served plotly.js, and reaches it from the navigation."""

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from analyst.ingest.services import events_ingest_file
from ranking.models import TrainingRun
from ranking.training import ranker_train
from ranking.training_runs import training_run_execute, training_run_start
from tests.support.browser import chromium, log_in, screenshot
from tests.support.workbench_data import pnsn_head

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_senior_analyst_sees_the_model_comparison_plots(
    live_server, senior_analyst: User, shared_data: Path, tmp_path: Path
) -> None:
    events_ingest_file(path=pnsn_head(shared_data, tmp_path, rows=600), reviewed=True)
    ranker_train(created_by="first", promote=True)
    run = training_run_start(kind="ranker", trigger=TrainingRun.Trigger.UI, requested_by="sen")
    training_run_execute(run_id=run.pk)
    external: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda r: None if r.url.startswith(live_server.url) else external.append(r.url))
        log_in(page, live_server.url, "sen", "sen-password-1")
        page.goto(f"{live_server.url}/models/ranker/")
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20000)
        assert page.locator(".js-plotly-plot").count() >= 3
        assert page.get_by_role("button", name="Train now").count() == 1
        assert page.locator("header nav").get_by_role("link", name="Models").count() == 1
        screenshot(page, "models.png")
    assert external == []
