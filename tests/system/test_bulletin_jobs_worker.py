"""Bulletins are written by a real Celery worker, not in the request (review L10): the page and the API answer at
once with a job, the worker writes the file through a temporary name and records it, the status URL says when it
is there. A job whose message the broker lost is re-queued by the bulletin sweep and written once."""

import hashlib
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from obspy import read_events

from analyst.bulletins.conversion import quakeml_uri
from analyst.bulletins.jobs import bulletin_jobs_sweep
from analyst.models import Bulletin, BulletinJob
from analyst.tasks import write_bulletin
from events.models import Event
from tests.conftest import wait_for
from tests.support.export_data import import_bundled, review_some
from tests.support.worker import CeleryWorkerProcess

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
WINDOW = {"start": "1990-01-01T00:00:00", "end": "2030-01-01T00:00:00"}


@pytest.fixture
def catalogue(analyst: User, obspy_data: Path) -> None:
    import_bundled(obspy_data)
    review_some(analyst)


def _finished(client: Client, status_url: str) -> dict[str, Any]:
    answers: list[dict[str, Any]] = []

    def finished() -> bool:
        answers.append(client.get(status_url).json())
        return answers[-1]["state"] in ("done", "failed")

    wait_for(finished, timeout=120, what=f"the worker's bulletin at {status_url}")
    return answers[-1]


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else bytes(response.content)


def test_a_worker_publishes_what_a_senior_asked_for_and_the_api_offers_it_when_written(
    celery_worker_process: CeleryWorkerProcess, catalogue: None, senior_analyst: User
) -> None:
    client = Client()
    client.force_login(senior_analyst)
    accepted = client.post("/api/bulletins/", {**WINDOW, "format": "quakeml"}, content_type="application/json")
    assert accepted.status_code == 202 and accepted.json()["state"] in ("queued", "running", "done")
    done = _finished(client, accepted["Location"])
    assert done["state"] == "done", done
    bulletin = Bulletin.objects.get(pk=done["bulletin_id"])
    assert bulletin.kind == "published" and bulletin.created_by == senior_analyst
    body = _body(client.get(done["file_url"]))
    assert hashlib.sha256(body).hexdigest() == done["sha256"] == bulletin.sha256
    accepted_ids = {
        quakeml_uri(p) for p in Event.objects.filter(review_state="accepted").values_list("public_id", flat=True)
    }
    assert {str(e.resource_id) for e in read_events(io.BytesIO(body), format="QUAKEML")} == accepted_ids
    stored = Path(settings.DATA_DIR) / "bulletins" / bulletin.file_path
    assert stored.is_file() and not list(stored.parent.glob("*.partial"))


def test_the_page_asks_the_worker_for_a_draft_and_polls_until_it_can_be_downloaded(
    celery_worker_process: CeleryWorkerProcess, catalogue: None, analyst: User
) -> None:
    client = Client()
    client.force_login(analyst)
    response = client.post("/bulletins/", {**WINDOW, "format": "csv", "status": "all", "action": "draft"})
    assert response.status_code == 303
    job_id = response["Location"].removeprefix("/bulletins/#job-")
    page = client.get("/bulletins/").content.decode()
    status_url = f"/api/bulletins/jobs/{job_id}/"
    assert f'data-status-url="{status_url}"' in page  # what static/js/bulletins.js polls
    done = _finished(client, status_url)
    assert done["state"] == "done" and done["kind"] == "draft", done
    assert done["event_count"] == Event.objects.exclude(origin_time=None).count()
    assert f'href="/bulletins/{done["bulletin_id"]}/file/"' in client.get("/bulletins/").content.decode()
    download = client.get(f"/bulletins/{done['bulletin_id']}/file/")
    assert download["Content-Disposition"] == 'attachment; filename="seistriage-draft-19900101-20300101.csv"'
    assert hashlib.sha256(_body(download)).hexdigest() == done["sha256"]


def test_a_job_whose_message_was_lost_is_requeued_by_the_sweep_and_written_once(
    celery_worker_process: CeleryWorkerProcess, catalogue: None, senior_analyst: User
) -> None:
    # the row is all a broker restart without persistence leaves of a job: no message ever reaches a worker
    job = BulletinJob.objects.create(
        id=uuid.uuid4().hex,
        user=senior_analyst,
        kind="published",
        format="sc3ml",
        selection={"status": "accepted", **WINDOW},
    )
    write_bulletin.delay(job.id)  # a late duplicate of the lost message turns up too
    swept = bulletin_jobs_sweep(stalled_after_s=0)
    assert swept["requeued"] >= 1
    client = Client()
    client.force_login(senior_analyst)
    done = _finished(client, f"/api/bulletins/jobs/{job.id}/")
    assert done["state"] == "done", done
    assert Bulletin.objects.count() == 1  # two messages, one bulletin: the second found the job finished
    celery_worker_process.wait_for_text("finished or held by another task", timeout=60)
