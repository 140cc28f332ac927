"""The model pages: candidate and active side by side with locally served Plotly, buttons for senior analysts only,
read-only for analysts, 403 for outsiders; the train/promote/rollback API enforces the same roles."""

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import Client
from rest_framework.test import APIClient

from analyst.ingest.services import events_ingest_file
from ranking.models import ModelPromotion, ModelVersion, TrainingRun
from ranking.registry import model_version_active
from ranking.training import ranker_train
from ranking.training_runs import training_run_execute, training_run_start
from tests.support.workbench_data import pnsn_head

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing", "empty_broker")]


@pytest.fixture
def compared_run(shared_data: Path, tmp_path: Path) -> TrainingRun:
    """A first ranker on 600 real PNSN labels, then a finished run comparing a candidate with it."""
    events_ingest_file(path=pnsn_head(shared_data, tmp_path, rows=600), reviewed=True)
    ranker_train(created_by="first", promote=True)
    run = training_run_start(kind="ranker", trigger=TrainingRun.Trigger.UI, requested_by="sen")
    return training_run_execute(run_id=run.pk)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_for(user: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_a_senior_analyst_sees_the_comparison_plots_and_the_buttons(
    compared_run: TrainingRun, senior_analyst: User
) -> None:
    page = client_for(senior_analyst).get("/models/ranker/")
    assert page.status_code == 200
    html = page.content.decode()
    assert compared_run.candidate is not None and compared_run.compared_with is not None
    assert f"Promote {compared_run.candidate.version}" in html
    assert compared_run.compared_with.version in html and 'id="train-now"' in html
    assert "importance.average_precision" in html  # the side-by-side table
    assert '<script src="/vendor/plotly.min.js"></script>' in html and "cdn" not in html.lower()
    for plot in ("plot-pr", "plot-calibration", "plot-confusion", "plot-effort", "plot-importance", "plot-labels-day"):
        assert f'id="{plot}"' in html
    assert finders.find("js/models.js") is not None and 'src="/static/js/models.js"' in html


def test_an_analyst_reads_the_model_page_but_cannot_train_promote_or_roll_back(
    compared_run: TrainingRun, analyst: User
) -> None:
    html = client_for(analyst).get("/models/ranker/").content.decode()
    assert "Read-only" in html and 'id="train-now"' not in html and "Promote" not in html
    api = api_for(analyst)
    assert api.post("/api/models/ranker/train/").status_code == 403
    assert compared_run.candidate is not None
    assert api.post(f"/api/models/ranker/versions/{compared_run.candidate.version}/promote/").status_code == 403
    assert api.get("/api/models/ranker/").json()["runs"][0]["status"] == "succeeded"
    assert api.get("/api/learning/mislabelled/").status_code == 403
    assert client_for(analyst).get("/learning/mislabelled/").status_code == 403


def test_an_outsider_gets_403_everywhere(outsider: User) -> None:
    client, api = client_for(outsider), api_for(outsider)
    for url in ("/models/ranker/", "/models/cnn/", "/learning/informative/", "/learning/labels/"):
        assert client.get(url).status_code == 403, url
    for url in ("/api/models/ranker/", "/api/learning/informative/", "/api/learning/labels/"):
        assert api.get(url).status_code == 403, url
    assert api.post("/api/models/ranker/train/").status_code == 403


def test_a_senior_analyst_starts_a_run_promotes_and_rolls_back_through_the_api(
    compared_run: TrainingRun, senior_analyst: User
) -> None:
    api = api_for(senior_analyst)
    started = api.post("/api/models/ranker/train/")
    assert started.status_code == 202 and started.json()["status"] == "queued"
    busy = api.post("/api/models/ranker/train/")
    assert busy.status_code == 409 and busy.json()["run"]["id"] == started.json()["id"]
    assert api.get(f"/api/training-runs/{started.json()['id']}/").json()["trigger"] == "ui"

    assert compared_run.candidate is not None and compared_run.compared_with is not None
    first, candidate = compared_run.compared_with, compared_run.candidate
    answer = api.post(f"/api/models/ranker/versions/{candidate.version}/promote/", {"reason": "AP"}, format="json")
    assert answer.status_code == 200, answer.content
    assert model_version_active(kind="ranker") == candidate
    refused = api.post(f"/api/models/ranker/versions/{candidate.version}/rollback/")
    assert refused.status_code == 400 and "already the active" in str(refused.json()["version"])
    assert api.post(f"/api/models/ranker/versions/{first.version}/rollback/").status_code == 200
    assert model_version_active(kind="ranker") == first
    assert api.post("/api/models/ranker/versions/no-such-version/promote/").status_code == 404
    html = client_for(senior_analyst).get("/models/ranker/").content.decode()
    assert f'data-version="{candidate.version}">Roll back to this' in html


def test_the_cnn_page_renders_without_an_active_cnn(senior_analyst: User) -> None:
    page = client_for(senior_analyst).get("/models/cnn/")
    assert page.status_code == 200 and b"No finished training run yet" in page.content
    assert not ModelVersion.objects.filter(kind="cnn").exists()
    assert client_for(senior_analyst).get("/models/forest/").status_code == 404


def test_the_page_leads_with_a_verdict_and_marks_which_model_each_metric_favours(
    compared_run: TrainingRun, senior_analyst: User
) -> None:
    dashboard = api_for(senior_analyst).get("/api/models/ranker/").json()
    verdict = dashboard["comparison"]["verdict"]
    held_out = compared_run.data_summary["held_out_events"]
    assert verdict["held_out_events"] == held_out < 200
    assert verdict["words"].startswith("Candidate finds 95% of events of interest in ")
    assert f"for the active model; {held_out} held-out events; difference" in verdict["words"]
    low, high = verdict["interval"]
    stored = compared_run.curves["verdict"]
    assert low <= stored["difference"] <= high and stored["resamples"] > 900
    assert any("held-out events (under 200)" in warning for warning in verdict["warnings"])
    assert ("worse than the active model" in " ".join(verdict["warnings"])) == (verdict["candidate_better"] is False)
    rows = dashboard["comparison"]["side_by_side"]
    favoured = {row["metric"]: row["better"] for row in rows}
    assert favoured["events"] is None  # a count favours nobody
    assert favoured["expected_calibration_error"] in ("candidate", "active", "same")
    assert verdict["metrics_better"] == sum(1 for row in rows if row["better"] == "candidate")
    html = client_for(senior_analyst).get("/models/ranker/").content.decode()
    assert html.index('id="verdict"') < html.index("Candidate vs active")
    assert html.count('class="better"') == verdict["metrics_better"]
    assert html.count('class="worse"') == verdict["metrics_worse"]
    assert '<details class="metrics" id="metrics-details">' in html


def test_promoting_a_thinly_tested_candidate_needs_a_reason_and_keeps_it(
    compared_run: TrainingRun, senior_analyst: User
) -> None:
    assert compared_run.candidate is not None
    url = f"/api/models/ranker/versions/{compared_run.candidate.version}/promote/"
    api = api_for(senior_analyst)

    refused = api.post(url, {"reason": "  "}, format="json")

    assert refused.status_code == 400
    assert "needs a reason" in refused.json()["reason"] and "held-out events" in refused.json()["reason"]
    assert model_version_active(kind="ranker") == compared_run.compared_with
    assert api.post(url, {"reason": "new PNSN explosions"}, format="json").status_code == 200
    promotion = ModelPromotion.objects.get(model_version=compared_run.candidate)
    assert (promotion.reason, promotion.by) == ("new PNSN explosions", senior_analyst.get_username())
