"""The bulletins page and API: analysts ask for drafts, senior analysts publish; a worker writes each file (here
its service, bulletin_job_run, runs in the test's transaction; tests/system/test_bulletin_jobs_worker.py sends the
same jobs to a real Celery worker). Outsiders get 403, another user's draft is a 404."""

import csv
import datetime as dt
import hashlib
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponseBase
from django.test import Client
from django.utils import timezone
from obspy import read_events

from analyst.bulletins.conversion import quakeml_uri
from analyst.bulletins.jobs import bulletin_job_run, bulletin_jobs_sweep
from analyst.models import Bulletin, BulletinJob
from analyst.roles import roles_ensure
from events.models import Event
from tests.support.export_data import catalogue_for_module

pytestmark = pytest.mark.django_db
WINDOW = {"start": "1990-01-01T00:00:00", "end": "2030-01-01T00:00:00"}


@pytest.fixture(scope="module", autouse=True)
def catalogue(django_db_setup: None, django_db_blocker: Any, obspy_data: Path) -> Iterator[None]:
    with catalogue_for_module(django_db_blocker, obspy_data):
        yield


def _body(response: HttpResponseBase) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return response.content  # type: ignore[attr-defined,no-any-return]


def _accepted_ids() -> set[str]:
    return {quakeml_uri(p) for p in Event.objects.filter(review_state="accepted").values_list("public_id", flat=True)}


def _job_from_redirect(response: HttpResponseBase) -> BulletinJob:
    assert response.status_code == 303, response
    location = response["Location"]
    assert location.startswith("/bulletins/#job-")
    return BulletinJob.objects.get(pk=location.removeprefix("/bulletins/#job-"))


def test_an_analyst_asks_for_a_draft_and_downloads_it_when_the_worker_has_written_it(
    client: Client, analyst: User
) -> None:
    client.force_login(analyst)
    page = client.get("/bulletins/")
    assert page.status_code == 200 and b"Build draft" in page.content and b'value="publish"' not in page.content
    job = _job_from_redirect(client.post("/bulletins/", {**WINDOW, "format": "quakeml", "action": "draft"}))
    assert (job.state, job.kind, job.user) == ("queued", "draft", analyst) and not Bulletin.objects.exists()
    waiting = client.get("/bulletins/").content.decode()
    assert f'id="job-{job.id}"' in waiting and f'data-status-url="/api/bulletins/jobs/{job.id}/"' in waiting
    assert 'data-state="queued"' in waiting
    assert client.get(f"/api/bulletins/jobs/{job.id}/").json()["state"] == "queued"

    assert bulletin_job_run(job_id=job.id)["state"] == "done"  # the worker's side

    status = client.get(f"/api/bulletins/jobs/{job.id}/").json()
    assert status["state"] == "done" and status["error"] == "" and status["event_count"] == len(_accepted_ids())
    draft = Bulletin.objects.get(pk=status["bulletin_id"])
    assert draft.kind == "draft" and draft.file_path.startswith("drafts/")
    ready = client.get("/bulletins/").content.decode()
    assert f'href="/bulletins/{draft.pk}/file/"' in ready and 'data-state="done"' in ready
    response = client.get(f"/bulletins/{draft.pk}/file/")
    assert response["Content-Disposition"] == 'attachment; filename="seistriage-draft-19900101-20300101.xml"'
    body = _body(response)
    assert hashlib.sha256(body).hexdigest() == status["sha256"]
    assert {str(e.resource_id) for e in read_events(io.BytesIO(body), format="QUAKEML")} == _accepted_ids()
    assert _body(client.get(status["file_url"])) == body
    assert b"/bulletins/" + str(draft.pk).encode() not in _body(client.get("/bulletins/")).split(b"<h2>Published")[1]
    # an analyst may not publish
    assert client.post("/bulletins/", {**WINDOW, "format": "quakeml", "action": "publish"}).status_code == 403
    assert BulletinJob.objects.count() == 1


def test_another_users_draft_and_its_job_are_not_found(client: Client, analyst: User) -> None:
    client.force_login(analyst)
    job = _job_from_redirect(client.post("/bulletins/", {**WINDOW, "format": "csv", "action": "draft"}))
    bulletin_job_run(job_id=job.id)
    job.refresh_from_db()
    other = User.objects.create_user("ana2", password="ana2-password-1")
    other.groups.add(roles_ensure()["analyst"])
    client.force_login(other)
    assert client.get(f"/api/bulletins/jobs/{job.id}/").status_code == 404
    assert client.get(f"/bulletins/{job.bulletin_id}/file/").status_code == 404
    assert client.get(f"/api/bulletins/{job.bulletin_id}/file/").status_code == 404
    assert f"job-{job.id}" not in client.get("/bulletins/").content.decode()


def test_a_senior_publishes_and_an_analyst_downloads_it_byte_for_byte(
    client: Client, analyst: User, senior_analyst: User
) -> None:
    client.force_login(senior_analyst)
    assert b'value="publish">Publish</button>' in client.get("/bulletins/").content
    job = _job_from_redirect(
        client.post("/bulletins/", {**WINDOW, "format": "ims1.0", "status": "all", "action": "publish"})
    )
    assert not Bulletin.objects.exists()
    bulletin_job_run(job_id=job.id)
    bulletin = Bulletin.objects.get()
    assert (bulletin.kind, bulletin.created_by, bulletin.format) == ("published", senior_analyst, "ims1.0")
    assert bulletin.event_count == Event.objects.exclude(origin_time=None).count()
    client.force_login(analyst)
    page = client.get("/bulletins/").content.decode()
    assert f"/bulletins/{bulletin.pk}/file/" in page and bulletin.sha256[:16] in page
    downloaded = _body(client.get(f"/bulletins/{bulletin.pk}/file/"))
    assert hashlib.sha256(downloaded).hexdigest() == bulletin.sha256 and len(downloaded) == bulletin.size_bytes
    assert _body(client.get(f"/api/bulletins/{bulletin.pk}/file/")) == downloaded


def test_the_api_publishes_for_seniors_only_through_a_job_and_lists_what_was_published(
    client: Client, analyst: User, senior_analyst: User
) -> None:
    request = {**WINDOW, "format": "geojson", "event_types": ["quarry blast", "earthquake"], "min_magnitude": 1.0}
    client.force_login(analyst)
    assert client.post("/api/bulletins/", request, content_type="application/json").status_code == 403
    client.force_login(senior_analyst)
    key = client.post("/api/token/").json()["key"]
    script = Client()
    auth = f"Token {key}"
    accepted = script.post("/api/bulletins/", request, content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert accepted.status_code == 202, accepted.content
    job = accepted.json()
    assert job["state"] == "queued" and job["kind"] == "published" and accepted["Location"] == job["status_url"]
    assert job["selection"]["event_types"] == ["quarry blast", "earthquake"] and job["file_url"] is None
    bulletin_job_run(job_id=job["id"])
    record = script.get(job["status_url"], HTTP_AUTHORIZATION=auth).json()
    selected = Event.objects.filter(review_state="accepted", event_type__in=request["event_types"], magnitude__gte=1.0)
    assert record["state"] == "done" and record["event_count"] == selected.count() > 0
    listed = script.get("/api/bulletins/", HTTP_AUTHORIZATION=auth).json()[0]
    assert listed["sha256"] == record["sha256"] and listed["created_by"] == "sen"
    assert listed["filters"]["event_types"] == "quarry blast,earthquake"
    stored = _body(script.get(record["file_url"], HTTP_AUTHORIZATION=auth))
    assert hashlib.sha256(stored).hexdigest() == record["sha256"]


def test_the_api_drafts_through_a_job_and_streams_only_small_selections(
    client: Client, analyst: User, settings: Any
) -> None:
    client.force_login(analyst)
    response = client.get("/api/export/", {**WINDOW, "format": "csv", "status": "all"})
    assert response.status_code == 200 and response.streaming
    rows = [r for r in csv.reader(io.StringIO(_body(response).decode())) if r and not r[0].startswith("#")]
    assert rows[0][:3] == ["time", "latitude", "longitude"]
    total = Event.objects.exclude(origin_time=None).count()
    assert len(rows) - 1 == total
    assert not Bulletin.objects.exists()  # streamed drafts are not recorded
    settings.SEISTRIAGE_BULLETIN_STREAM_MAX_EVENTS = total - 1
    refused = client.get("/api/export/", {**WINDOW, "format": "csv", "status": "all"})
    assert refused.status_code == 413
    assert f"holds {total} events" in refused.json()["detail"] and "/api/bulletins/drafts/" in refused.json()["detail"]
    accepted = client.post(
        "/api/bulletins/drafts/", {**WINDOW, "format": "csv", "status": "all"}, content_type="application/json"
    )
    assert accepted.status_code == 202
    bulletin_job_run(job_id=accepted.json()["id"])
    done = client.get(accepted.json()["status_url"]).json()
    assert done["state"] == "done" and done["kind"] == "draft" and done["event_count"] == total
    written = [r for r in csv.reader(io.StringIO(_body(client.get(done["file_url"])).decode())) if r]
    assert [r for r in written if not r[0].startswith("#")] == rows
    assert not Bulletin.objects.filter(kind="published").exists()


def test_bad_requests_name_the_field_and_queue_nothing(client: Client, senior_analyst: User) -> None:
    client.force_login(senior_analyst)
    backwards = {"start": "2020-01-02T00:00:00", "end": "2020-01-01T00:00:00", "format": "csv"}
    assert client.get("/api/export/", backwards).json() == {"end": ["must be after start"]}
    assert "format" in client.get("/api/export/", {**WINDOW, "format": "pdf"}).json()
    assert client.post("/api/bulletins/", {**WINDOW}, content_type="application/json").json() == {
        "format": ["This field is required."]
    }
    assert client.post("/api/bulletins/drafts/", backwards, content_type="application/json").json() == {
        "end": ["must be after start"]
    }
    page = client.post("/bulletins/", {**backwards, "action": "publish"})
    assert page.status_code == 400 and b"must be after start" in page.content
    no_action = client.post("/bulletins/", {**WINDOW, "format": "csv"})
    assert no_action.status_code == 400 and b"choose Build draft or Publish" in no_action.content
    bad_number = client.post("/bulletins/", {**WINDOW, "format": "csv", "min_magnitude": "big", "action": "draft"})
    assert bad_number.status_code == 400 and b"min_magnitude" in bad_number.content
    assert client.get("/api/bulletins/jobs/no-such-job/").status_code == 404
    assert client.get("/api/bulletins/jobs/a%00b/").status_code == 404  # a NUL is no id (it was a 500)
    assert client.get("/api/imports/a%00b/").status_code == 404
    assert not BulletinJob.objects.exists() and not Bulletin.objects.exists()


def test_a_bulletin_that_cannot_be_written_fails_with_a_clear_message_and_leaves_nothing(
    client: Client, senior_analyst: User, settings: Any, tmp_path: Path
) -> None:
    settings.DATA_DIR = str(tmp_path)
    (tmp_path / "bulletins").write_text("a file where the bulletin folder should be")
    client.force_login(senior_analyst)
    job = _job_from_redirect(client.post("/bulletins/", {**WINDOW, "format": "sc3ml", "action": "publish"}))
    assert bulletin_job_run(job_id=job.id)["state"] == "failed"
    status = client.get(f"/api/bulletins/jobs/{job.id}/").json()
    assert status["state"] == "failed" and status["file_url"] is None
    month = timezone.now().strftime("%Y/%m")
    assert (
        status["error"]
        == f"the bulletin file could not be written in the data folder: Not a directory (bulletins/{month})"
    )
    assert str(tmp_path) not in status["error"]  # no server folder in what users see
    page = client.get("/bulletins/").content.decode()
    assert 'role="alert">the bulletin file could not be written in the data folder: Not a directory' in page
    assert not Bulletin.objects.exists() and [p.name for p in tmp_path.iterdir()] == ["bulletins"]
    # a second delivery of the same message finds the job finished and writes nothing
    assert bulletin_job_run(job_id=job.id)["skipped"]


def test_the_sweep_deletes_expired_drafts_and_half_written_files_and_keeps_the_rest(
    client: Client, senior_analyst: User, settings: Any, tmp_path: Path
) -> None:
    settings.DATA_DIR = str(tmp_path)
    settings.SEISTRIAGE_BULLETIN_DRAFT_DAYS = 7
    client.force_login(senior_analyst)
    jobs = {}
    for action in ("draft", "publish"):
        jobs[action] = _job_from_redirect(client.post("/bulletins/", {**WINDOW, "format": "csv", "action": action}))
        bulletin_job_run(job_id=jobs[action].id)
        jobs[action].refresh_from_db()
    fresh = _job_from_redirect(client.post("/bulletins/", {**WINDOW, "format": "kml", "action": "draft"}))
    bulletin_job_run(job_id=fresh.id)
    fresh.refresh_from_db()
    assert jobs["draft"].bulletin is not None and jobs["publish"].bulletin is not None and fresh.bulletin is not None
    eight_days_ago = timezone.now() - dt.timedelta(days=8)
    Bulletin.objects.filter(pk__in=[jobs["draft"].bulletin_id, jobs["publish"].bulletin_id]).update(
        created_at=eight_days_ago
    )
    folder = tmp_path / "bulletins"
    old_draft = folder / jobs["draft"].bulletin.file_path
    killed = folder / "2024/01/20240101T000000_killed.xml.partial"  # a worker killed mid-write an hour ago
    killed.parent.mkdir(parents=True)
    killed.write_bytes(b"<?xml")
    os.utime(killed, (time.time() - 3600, time.time() - 3600))
    writing = folder / "drafts/now.csv.partial"  # a worker writing right now
    writing.write_bytes(b"time,")

    assert bulletin_jobs_sweep() == {"requeued": 0, "drafts_removed": 1, "partials_removed": 1}

    assert not old_draft.exists() and not killed.exists() and writing.exists()
    assert set(Bulletin.objects.values_list("pk", flat=True)) == {jobs["publish"].bulletin_id, fresh.bulletin_id}
    assert (folder / jobs["publish"].bulletin.file_path).is_file() and (folder / fresh.bulletin.file_path).is_file()
    gone = client.get(f"/api/bulletins/jobs/{jobs['draft'].id}/").json()
    assert gone["state"] == "done" and gone["file_url"] is None  # the job says its file is no longer kept
    assert "no longer kept (drafts are deleted after a few days)" in client.get("/bulletins/").content.decode()


def test_outsiders_get_403_and_strangers_must_log_in(client: Client, outsider: User, senior_analyst: User) -> None:
    client.force_login(senior_analyst)
    job = _job_from_redirect(client.post("/bulletins/", {**WINDOW, "format": "kml", "action": "publish"}))
    bulletin_job_run(job_id=job.id)
    bulletin = Bulletin.objects.get()
    paths = [
        "/bulletins/",
        f"/bulletins/{bulletin.pk}/file/",
        "/api/bulletins/",
        f"/api/bulletins/{bulletin.pk}/file/",
        f"/api/bulletins/jobs/{job.id}/",
        "/api/export/?format=csv",
    ]
    client.force_login(outsider)
    assert [client.get(path).status_code for path in paths] == [403] * len(paths)
    assert client.post("/api/bulletins/", {**WINDOW, "format": "csv"}).status_code == 403
    assert client.post("/api/bulletins/drafts/", {**WINDOW, "format": "csv"}).status_code == 403
    assert client.post("/bulletins/", {**WINDOW, "format": "csv", "action": "draft"}).status_code == 403
    client.logout()
    assert client.get("/bulletins/").status_code == 302
    assert client.get("/api/bulletins/").status_code in (401, 403)
