"""Uploads in flight while the broker loses its queued messages (Redis restarted without persistence) and while
PostgreSQL refuses connections for a few seconds: every accepted upload is imported and each event scored
exactly once by the active ranker (security review M3, M4).

The import jobs are rows (ImportJob), so a lost message leaves a queued job that the import sweep re-queues; a
database error in the worker is retried with back-off, and a job already held by a task is not taken twice.
"""

import re
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Count
from rest_framework.test import APIClient

from analyst.ingest.services import events_ingest_file
from analyst.ingest.uploads import import_jobs_requeue_stalled
from analyst.models import ImportJob
from events.models import Event
from events.vocabulary import ScoringState
from ranking.models import EventScore
from ranking.scoring import events_scoring_sweep
from ranking.training import ranker_train
from tests.conftest import wait_for
from tests.support.worker import CeleryWorkerProcess

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
ROWS_PER_UPLOAD = 250


@pytest.fixture
def own_worker(celery_worker_process: CeleryWorkerProcess) -> CeleryWorkerProcess:
    from config.celery_app import app

    app.control.purge()
    return celery_worker_process


@pytest.fixture
def pnsn_lines(shared_data: Path) -> list[str]:
    return (shared_data / "catalogs" / "pnsn_comcat_2018-2022.csv").read_text().splitlines()


@pytest.fixture
def active_ranker(pnsn_lines: list[str], tmp_path: Path) -> None:
    reviewed = tmp_path / "reviewed.csv"
    reviewed.write_text("\n".join(pnsn_lines[:1501]) + "\n")
    events_ingest_file(path=reviewed, reviewed=True)
    ranker_train(created_by="test", promote=True)


def _upload_slices(senior: User, lines: list[str], first_row: int, count: int) -> list[str]:
    """``count`` uploads of ROWS_PER_UPLOAD real automatic PNSN rows each, through the API; their job ids."""
    api = APIClient()
    api.force_authenticate(senior)
    ids = []
    for index in range(count):
        start = first_row + index * ROWS_PER_UPLOAD
        body = "\n".join([lines[0], *lines[start : start + ROWS_PER_UPLOAD]]) + "\n"
        upload = SimpleUploadedFile(f"pnsn-{start}.csv", body.encode())
        answer = api.post("/api/imports/", {"events": upload}, format="multipart")
        assert answer.status_code == 202, answer.content
        ids.append(answer.json()["id"])
    return ids


def _states(job_ids: list[str]) -> dict[str, str]:
    return dict(ImportJob.objects.filter(pk__in=job_ids).values_list("id", "state"))


def _assert_all_imported_and_scored_once(job_ids: list[str], expected_events: int) -> None:
    wait_for(lambda: set(_states(job_ids).values()) == {"done"}, timeout=240, what="every upload imported")
    for job in ImportJob.objects.filter(pk__in=job_ids):
        [entry] = job.files
        assert (entry["status"], entry["created"] + entry["updated"]) == ("done", ROWS_PER_UPLOAD), entry
    automatic = Event.objects.filter(review_state__in=("new", "scored"))
    assert automatic.count() == expected_events

    def all_scored() -> bool:
        return automatic.filter(scoring_state=ScoringState.SCORED).count() == expected_events

    try:
        wait_for(all_scored, timeout=60, what="every imported event scored")
    except AssertionError:
        events_scoring_sweep(stalled_after_s=0)  # scoring batches the broker lost: the scoring sweep's job
        wait_for(all_scored, timeout=180, what="every imported event scored after the scoring sweep")
    per_event = EventScore.objects.filter(event__in=automatic).values("event_id").annotate(n=Count("id"))
    counts = sorted({row["n"] for row in per_event})
    assert (counts, len(per_event)) == ([1], expected_events)


def _maintenance_connection() -> psycopg.Connection[Any]:
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


def _delete_broker_queues() -> int:
    """What a Redis restart without persistence does to the queued messages: the queue keys are gone."""
    import redis
    from django.conf import settings

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    keys = [key for name in ("cpu", "gpu", "training") for key in broker.scan_iter(f"{name}*")]
    return int(broker.delete(*keys)) if keys else 0


def test_uploads_queued_when_the_broker_loses_its_messages_are_requeued_by_the_sweep_and_imported_once(
    own_worker: CeleryWorkerProcess, active_ranker: None, senior_analyst: User, pnsn_lines: list[str], settings: Any
) -> None:
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("simulates a Redis restart: needs the Redis broker")
    job_ids = _upload_slices(senior_analyst, pnsn_lines, 1501, 4)
    wait_for(lambda: "running" in _states(job_ids).values(), timeout=60, what="the first upload running")
    assert _delete_broker_queues() > 0
    lost = [job_id for job_id, state in _states(job_ids).items() if state == "queued"]
    assert lost, "every upload had left the queue before the restart: upload more"

    time.sleep(5)  # the running import goes on; the lost ones stay queued, their records still answer
    assert all(_states(job_ids)[job_id] == "queued" for job_id in lost)
    requeued = import_jobs_requeue_stalled(stalled_after_s=0)  # what beat's import sweep does after the stall
    assert set(lost) <= set(requeued)
    _assert_all_imported_and_scored_once(job_ids, 4 * ROWS_PER_UPLOAD)
    attempts = dict(ImportJob.objects.filter(pk__in=job_ids).values_list("id", "attempts"))
    assert all(attempts[job_id] == 1 for job_id in lost), attempts  # a requeue is claimed once
    print(f"lost {len(lost)} of {len(job_ids)} queued uploads with the broker queues; all imported, scored once")


def test_uploads_in_flight_while_postgresql_refuses_connections_are_retried_and_imported_once(
    own_worker: CeleryWorkerProcess, active_ranker: None, senior_analyst: User, pnsn_lines: list[str]
) -> None:
    since = own_worker.mark()
    job_ids = _upload_slices(senior_analyst, pnsn_lines, 1501 + 4 * ROWS_PER_UPLOAD, 3)
    wait_for(lambda: "running" in _states(job_ids).values(), timeout=60, what="the first upload running")
    database = connection.settings_dict["NAME"]
    cut = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
    with _maintenance_connection() as admin:
        # Nobody may connect to the test database (superusers included) and the connections to it are cut: an
        # outage of this database only; the shared server keeps running for everyone else.
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(cut, [database])
            time.sleep(4)
            admin.execute(cut, [database])
        finally:
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    connection.close()  # this test's own connection was cut too
    _assert_all_imported_and_scored_once(job_ids, 3 * ROWS_PER_UPLOAD)
    retries = re.findall(r"import_uploaded_files\[[0-9a-f-]+\] retry: ([^\n]{0,120})", own_worker.text(since))
    assert retries, "no import was in flight during the outage: make the uploads bigger"
    print(f"{len(retries)} import retries after the outage, e.g. {retries[0]}")
