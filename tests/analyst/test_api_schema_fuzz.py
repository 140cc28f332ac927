"""Schemathesis against the live OpenAPI schema (/api/schema/ of the running app): requests generated from the
schema, sent with a senior analyst's token to every operation, must never get a server error.

The default run is bounded (SEISTRIAGE_FUZZ_EXAMPLES examples per operation, 4 unless set); `bench/fuzz_api.py`
runs the long one.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err, Ok
from schemathesis.generation.case import Case
from schemathesis.schemas import APIOperation, BaseSchema

from tests.support.export_data import catalogue_for_module

pytestmark = pytest.mark.django_db
EXAMPLES = int(os.environ.get("SEISTRIAGE_FUZZ_EXAMPLES", "4"))


@pytest.fixture(scope="module", autouse=True)
def catalogue(django_db_setup: None, django_db_blocker: Any, obspy_data: Path) -> Iterator[None]:
    with catalogue_for_module(django_db_blocker, obspy_data):
        yield


@pytest.fixture
def token(senior_analyst: User, settings: Any) -> str:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]  # schemathesis's WSGI client's host
    key: str = Token.objects.create(user=senior_analyst).key
    return key


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """The project's WSGI application, called in this thread; like Django's test client, requests must not
    close the test's database connection when they finish."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(token: str, wsgi_app: WSGIHandler) -> BaseSchema:
    return schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app, headers={"Authorization": f"Token {token}"})


def _fuzz(operation: APIOperation[Any, Any, Any, Any], token: str, seen: set[tuple[str, int]]) -> str:
    """Run the bounded hypothesis search on one operation; the failure text, or "" when none was found."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def search(case: Case[Any]) -> None:
        response = case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=[not_a_server_error])
        seen.add((f"{operation.method.upper()} {operation.path}", response.status_code))

    try:
        search()
    except Exception as error:  # schemathesis raises a group of check failures, with the reproducing request
        return f"{operation.method.upper()} {operation.path}: {error}"
    return ""


def test_no_generated_request_gets_a_server_error(api_schema: BaseSchema, token: str) -> None:
    results = list(api_schema.get_all_operations())
    unreadable = [str(r.err()) for r in results if isinstance(r, Err)]
    assert not unreadable, unreadable
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) >= 20 and any(o.path == "/api/export/" for o in operations)
    seen: set[tuple[str, int]] = set()
    failures = [
        failure
        for operation in operations
        if not (operation.method.upper() == "DELETE" and operation.path == "/api/token/")  # would revoke the token
        and (failure := _fuzz(operation, token, seen))
    ]
    assert not failures, "\n\n".join(failures)
    # The token works: generated requests got real answers, not only 401/403/404.
    assert {("GET /api/bulletins/", 200), ("GET /api/events/", 200), ("GET /api/token/", 200)} <= seen
