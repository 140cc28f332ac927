"""Shared fixtures: the personas, the real data folders and a real Celery worker process."""

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import obspy
import pytest
from django.conf import settings
from django.contrib.auth.models import User

from tests.support.worker import CeleryWorkerProcess

OBSPY_DIR = Path(obspy.__path__[0])
_SESSION_WORKER: dict[str, CeleryWorkerProcess] = {}  # the session's worker, once a test has started it
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shared_data() -> Path:
    folder = Path(settings.SHARED_DATA_DIR)
    assert (folder / "README.md").exists(), f"the shared real data is missing at {folder} (SEISTRIAGE_SHARED_DATA)"
    return folder


@pytest.fixture(scope="session")
def obspy_data() -> Path:
    return OBSPY_DIR


@pytest.fixture
def fast_password_hashing(settings: Any) -> None:
    """MD5 instead of the production hasher for test logins: files that create personas per test would spend
    most of their time hashing (use with ``pytest.mark.usefixtures``, so it runs before the personas)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def empty_broker() -> Iterator[None]:
    """After the test, purge what it sent to the broker, so that no worker of a later test runs it."""
    yield
    from config.celery_app import app

    app.control.purge()


@pytest.fixture
def analyst(db: None) -> User:
    from analyst.roles import roles_ensure

    groups = roles_ensure()
    user = User.objects.create_user("ana", password="ana-password-1")
    user.groups.add(groups["analyst"])
    return user


@pytest.fixture
def senior_analyst(db: None) -> User:
    from analyst.roles import roles_ensure

    groups = roles_ensure()
    user = User.objects.create_user("sen", password="sen-password-1")
    user.groups.add(groups["senior analyst"], groups["analyst"])
    return user


@pytest.fixture
def outsider(db: None) -> User:
    return User.objects.create_user("out", password="out-password-1")


def _database_url(settings_dict: dict[str, Any]) -> str:
    engine = settings_dict["ENGINE"]
    if "sqlite" in engine:
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: Any
) -> Iterator[CeleryWorkerProcess]:
    """A real `celery worker` process on the configured broker, writing to the test database."""
    from django.db import connection

    from config.celery_app import app

    env = {"DATABASE_URL": _database_url(connection.settings_dict), "SEISTRIAGE_DATA_DIR": str(settings.DATA_DIR)}
    with django_db_blocker.unblock():
        app.control.purge()
    worker = CeleryWorkerProcess(log=tmp_path_factory.mktemp("worker") / "worker.log", env=env)
    _SESSION_WORKER["worker"] = worker
    yield worker
    _SESSION_WORKER.pop("worker", None)
    worker.stop(timeout=30)


@pytest.fixture(autouse=True)
def _worker_idle_before_flush(request: pytest.FixtureRequest) -> Iterator[None]:
    """A transactional test ends with a flush (TRUNCATE of every table). When the session's worker is still
    running a task that test queued (a rescore, an import's follow-up), its row locks and the flush's table
    locks deadlock and the flush fails. So before the flush, empty the broker and wait for the worker to be
    idle. Requesting the database helper here makes this fixture's teardown run before the flush."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction", False)) or bool(
        {"transactional_db", "live_server"} & set(request.fixturenames)
    )
    if not transactional:
        yield
        return
    request.getfixturevalue("_django_db_helper")
    yield
    worker = _SESSION_WORKER.get("worker")
    if worker is None:
        return
    from config.celery_app import app

    if not worker.drain(app):
        raise AssertionError(f"the session's celery worker stayed busy after the test:\n{worker.text()[-2000:]}")


@pytest.fixture
def make_run_demo(celery_worker_process: CeleryWorkerProcess) -> None:
    """The database a fresh `make run` gives: load_demo (the repository's demo bundle and ObsPy's files, nothing from
    the shared folder), then the session's real worker scores the queue, trains and promotes the demo's first CNN
    and rescores the queue with it. Returns once the worker has finished all of that, so the queue's order holds."""
    from django.core.cache import cache
    from django.core.management import call_command

    from config.celery_app import app
    from ranking.models import ModelVersion

    cache.clear()
    call_command("load_demo", verbosity=0)
    wait_for(
        lambda: ModelVersion.objects.filter(kind="cnn", status="active", created_by="load_demo").exists(),
        timeout=300,
        what="the worker to train and promote the demo's first CNN",
    )
    if not celery_worker_process.drain(app, purge=False, timeout=300):
        raise AssertionError(f"the worker never finished the demo's scoring:\n{celery_worker_process.text()[-2000:]}")


def wait_for(condition: Callable[[], bool], *, timeout: float = 90.0, what: str = "condition") -> None:
    """Poll until `condition()` is true, for results a worker process writes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
