"""A database that fails under a request answers 503 "try again" (JSON under /api/, a plain page elsewhere),
logged in one line without a stack trace, and the next request after the connection is dropped works again.

The failure is real: on PostgreSQL the request's own connection is terminated by the server
(pg_terminate_backend, as a restart does); on SQLite the table the request reads is moved away, which SQLite
reports as an OperationalError too.
"""

import logging
from collections.abc import Callable, Iterator

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import close_old_connections, connection
from django.test import Client

from events.models import Event
from tests.conftest import _database_url

pytestmark = pytest.mark.django_db(transaction=True)
TABLE = Event._meta.db_table


@pytest.fixture
def break_database() -> Iterator[Callable[[], None]]:
    """Break the database under the next request; undone (and the connection dropped) afterwards."""
    moved = False

    def breaking() -> None:
        nonlocal moved
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                [pid] = cursor.fetchone()
            with psycopg.connect(_database_url(connection.settings_dict), autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s)", [pid])
        else:
            with connection.cursor() as cursor:
                cursor.execute(f'ALTER TABLE "{TABLE}" RENAME TO "{TABLE}_moved"')
            moved = True

    yield breaking
    if moved:
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER TABLE "{TABLE}_moved" RENAME TO "{TABLE}"')
    close_old_connections()


def test_it_answers_503_json_on_the_api_when_the_database_fails_mid_request(
    analyst: User, break_database: Callable[[], None], caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(analyst)
    assert client.get("/api/events/").status_code == 200
    break_database()
    with caplog.at_level(logging.WARNING, logger="analyst.web.service_unavailable"):
        response = client.get("/api/events/")
    assert response.status_code == 503, response.content[:500]
    assert response["Content-Type"] == "application/json" and response["Retry-After"] == "5"
    assert response.json() == {"detail": "service temporarily unavailable, try again"}
    [record] = [r for r in caplog.records if r.name == "analyst.web.service_unavailable"]
    assert "503 for GET /api/events/" in record.getMessage() and "OperationalError" in record.getMessage()
    assert record.exc_info is None and "Traceback" not in caplog.text


def test_it_answers_a_plain_503_page_elsewhere_and_recovers_on_the_next_request(
    analyst: User, break_database: Callable[[], None]
) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(analyst)
    assert client.get("/events/").status_code == 200
    break_database()
    response = client.get("/events/")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert "temporarily unavailable, try again" in body and "Traceback" not in body and "psycopg" not in body
    close_old_connections()  # what the handler does at the end of every request (the test client leaves it out)
    if connection.vendor == "postgresql":
        assert client.get("/events/").status_code == 200  # a new connection, no restart
