"""The OpenAPI schema describes every API operation: generated from the code without a single drf-spectacular
warning or error, valid OpenAPI 3, and each operation with a summary, who may call it, its errors (403 always),
described parameters and typed bodies."""

import contextlib
import copy
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core import signals
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.db import close_old_connections
from django.test import Client
from drf_spectacular.drainage import GENERATOR_STATS
from rest_framework.authtoken.models import Token
from schemathesis.core.result import Ok
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from analyst.api.learning import LabelAgreement
from analyst.api.serializers import EventEvidence, QueuePageData
from analyst.bulletins.jobs import bulletin_job_run
from analyst.ingest.uploads import ImportJobData, UploadedPart, import_job_create, import_job_run
from analyst.selectors.queue import QueueRow
from analyst.selectors.waveforms import TraceFigurePayload
from events.models import Event, Pick
from ranking.selectors import ModelDashboard
from tests.support.export_data import catalogue_for_module

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """The schema as `manage.py spectacular --validate` writes it, and the warnings and errors it printed
    (`--fail-on-warn` fails on exactly these, but writes no file; the other tests still read the schema)."""
    GENERATOR_STATS.reset()  # warnings already seen in this process would not be counted again
    path = tmp_path_factory.mktemp("schema") / "schema.json"
    printed = io.StringIO()
    failure = ""
    with contextlib.redirect_stderr(printed), contextlib.redirect_stdout(printed):
        try:
            call_command("spectacular", "--validate", "--format", "openapi-json", "--file", str(path))
        except Exception as error:  # a jsonschema error on an invalid schema
            failure = f"{type(error).__name__}: {error}"
    if GENERATOR_STATS:
        failure += " drf-spectacular warned"
    report = "\n".join(part for part in (failure.strip(), printed.getvalue().strip()) if part)
    schema: dict[str, Any] = json.loads(Path(path).read_text()) if path.exists() else {}
    return schema, report


@pytest.fixture(scope="module")
def operations(generated: tuple[dict[str, Any], str]) -> list[tuple[str, str, dict[str, Any]]]:
    schema, _ = generated
    found = [
        (method.upper(), path, operation)
        for path, item in schema.get("paths", {}).items()
        for method, operation in item.items()
        if method in METHODS
    ]
    assert len(found) >= 30, f"only {len(found)} operations in the schema"
    return found


def test_it_generates_and_validates_without_any_warning_or_error(generated: tuple[dict[str, Any], str]) -> None:
    schema, report = generated
    assert schema, report
    assert not report, report
    assert schema["openapi"].startswith("3.")


def test_it_holds_only_the_api_not_the_pages_or_the_fdsn_service(generated: tuple[dict[str, Any], str]) -> None:
    paths = list(generated[0]["paths"])
    assert all(path.startswith("/api/") for path in paths), [p for p in paths if not p.startswith("/api/")]
    assert not [path for path in paths if path.startswith(("/api/schema", "/api/docs"))]


def test_every_operation_has_a_summary_and_a_description_naming_who_may_call_it(
    operations: list[tuple[str, str, dict[str, Any]]],
) -> None:
    missing = [
        f"{m} {p}" for m, p, op in operations if not op.get("summary") or "Who:" not in op.get("description", "")
    ]
    assert not missing, missing


def test_every_operation_lists_403_and_names_each_of_its_errors_in_its_description(
    operations: list[tuple[str, str, dict[str, Any]]],
) -> None:
    no_403 = [f"{m} {p}" for m, p, op in operations if "403" not in op["responses"]]
    assert not no_403, no_403
    unexplained = [
        f"{m} {p}: {code}"
        for m, p, op in operations
        for code in op["responses"]
        if int(code) >= 400 and (not op["responses"][code].get("description") or code not in op["description"])
    ]
    assert not unexplained, unexplained


def test_every_path_and_query_parameter_is_declared_and_described(
    operations: list[tuple[str, str, dict[str, Any]]],
) -> None:
    problems = []
    for method, path, operation in operations:
        parameters = operation.get("parameters", [])
        declared = {p["name"] for p in parameters if p["in"] == "path"}
        if declared != set(re.findall(r"{(\w+)}", path)):
            problems.append(f"{method} {path}: path parameters declared {sorted(declared)}")
        problems += [
            f"{method} {path}: {p['in']} parameter {p['name']} has no description"
            for p in parameters
            if p["in"] in ("path", "query") and not p.get("description", "").strip()
        ]
        problems += [f"{method} {path}: {p['name']} has no type" for p in parameters if not p.get("schema")]
    assert not problems, "\n".join(problems)


def _typed(schema: dict[str, Any]) -> bool:
    """A $ref, an array of something typed, or a type that is not a bare free-form object."""
    if "$ref" in schema:
        return True
    if schema.get("type") == "array":
        return _typed(schema.get("items", {}))
    return bool(schema.get("type")) and (schema["type"] != "object" or bool(schema.get("properties")))


def test_every_answer_and_every_request_body_has_a_declared_shape(
    operations: list[tuple[str, str, dict[str, Any]]],
) -> None:
    problems = []
    for method, path, operation in operations:
        for code, response in operation["responses"].items():
            if code == "204":
                continue
            contents = response.get("content", {})
            if not contents:
                problems.append(f"{method} {path} {code}: no body declared")
            problems += [
                f"{method} {path} {code} {media}: free-form body"
                for media, content in contents.items()
                if not (_typed(content.get("schema", {})) or content["schema"].get("additionalProperties"))
            ]
        body = operation.get("requestBody", {}).get("content", {})
        problems += [
            f"{method} {path} request {media}: free-form body"
            for media, content in body.items()
            if not _typed(content.get("schema", {}))
        ]
    assert not problems, "\n".join(problems)


def test_operations_that_take_input_declare_their_request_body(
    operations: list[tuple[str, str, dict[str, Any]]],
) -> None:
    """The endpoints whose views read a body say so (the others declare none, so clients send none)."""
    takes_body = {
        ("POST", "/api/events/{event_id}/review/"),
        ("POST", "/api/events/{event_id}/picks/"),
        ("POST", "/api/events/review-batch/"),
        ("POST", "/api/filters/"),
        ("POST", "/api/imports/"),
        ("PUT", "/api/preferences/columns/"),
        ("POST", "/api/bulletins/"),
        ("POST", "/api/bulletins/drafts/"),
        ("POST", "/api/models/{kind}/versions/{version}/promote/"),
        ("POST", "/api/models/{kind}/versions/{version}/rollback/"),
    }
    declared = {(m, p) for m, p, op in operations if "requestBody" in op}
    assert declared == takes_body
    upload = next(op for m, p, op in operations if (m, p) == ("POST", "/api/imports/"))
    assert list(upload["requestBody"]["content"]) == ["multipart/form-data"]


@pytest.mark.parametrize(
    "payload",
    [QueuePageData, QueueRow, EventEvidence, ImportJobData, TraceFigurePayload, ModelDashboard, LabelAgreement],
)
def test_an_answer_is_documented_by_the_type_its_code_returns(
    generated: tuple[dict[str, Any], str], payload: type
) -> None:
    """The component is generated from the TypedDict the view returns: the same keys, the same required ones."""
    component = generated[0]["components"]["schemas"][payload.__name__]
    assert set(component["properties"]) == set(payload.__annotations__)
    assert set(component["required"]) == payload.__required_keys__  # type: ignore[attr-defined]


# ---- real answers match the declared shapes ---------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue(django_db_setup: None, django_db_blocker: Any, obspy_data: Path) -> Iterator[tuple[User, Event, Event]]:
    with catalogue_for_module(django_db_blocker, obspy_data) as imported:
        yield imported


def _upload(path: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(path.name, path.read_bytes())


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every object that lists its properties closed to others, so an answer carrying a key its
    documentation leaves out fails the conformance check (OpenAPI allows unlisted keys by default)."""
    closed = copy.deepcopy(schema)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("properties") and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(closed["components"]["schemas"])
    return closed


@pytest.fixture
def live_schema(senior_analyst: User, settings: Any) -> Iterator[tuple[BaseSchema, dict[str, str]]]:
    """The schema served at /api/schema/, closed (`_closed`), and a senior analyst's token header."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]  # schemathesis's WSGI client's host
    headers = {"Authorization": f"Token {Token.objects.create(user=senior_analyst).key}"}
    served = Client().get("/api/schema/", {"format": "json"}, headers=headers).json()
    schema = schemathesis.openapi.from_dict(_closed(served))
    schema.app, schema.location = WSGIHandler(), "/api/schema/"
    # Like Django's test client, requests must not close the test's database connection when they finish.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schema, headers
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
def test_real_answers_match_the_bodies_status_codes_and_media_types_the_schema_declares(
    catalogue: tuple[User, Event, Event],
    live_schema: tuple[BaseSchema, dict[str, str]],
    senior_analyst: User,
    obspy_data: Path,
    shared_data: Path,
    settings: Any,
    tmp_path: Path,
) -> None:
    """Requests on imported and reviewed real events (ObsPy's bulletins), each answer checked by schemathesis
    against the schema: body shape (nullable fields included, and no key the schema leaves out), documented status
    code and media type."""
    schema, headers = live_schema
    _, accepted, _ = catalogue
    event = Event.objects.filter(source_format="NORDIC", review_state="new").order_by("origin_time", "id").first()
    assert event is not None
    seed_id = next(p.seed_id for p in Pick.objects.filter(event=event) if p.seed_id.count(".") == 3)
    window = {"start": "1990-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"}
    checks = [response_schema_conformance, status_code_conformance, content_type_conformance]
    seen: list[tuple[str, str, int]] = []

    def call(method: str, path: str, expected: int, **case: Any) -> Any:
        media_type = "application/json" if "body" in case else None
        response = (
            schema[path][method].Case(media_type=media_type, **case).call_and_validate(headers=headers, checks=checks)
        )
        seen.append((method, path, response.status_code))
        assert response.status_code == expected, (method, path, response.status_code, response.text[:500])
        media = " ".join(
            value for key, values in response.headers.items() if key.lower() == "content-type" for value in values
        )
        return response.json() if "json" in media else None

    ids = {"event_id": event.pk}
    page = call("GET", "/api/events/", 200, query={"limit": 5, "ordering": "origin_time"})
    assert page["results"] and page["next"]
    assert call("GET", "/api/events/{event_id}/", 200, path_parameters={"event_id": accepted.pk})["history"]
    call("GET", "/api/events/{event_id}/", 404, path_parameters={"event_id": 10**9})
    call("GET", "/api/events/", 400, query={"limit": 0})
    call("POST", "/api/events/{event_id}/claim/", 200, path_parameters=ids)
    call(
        "POST",
        "/api/events/{event_id}/review/",
        409,
        path_parameters=ids,
        body={"decision": "accept", "version": event.version + 5, "event_type": "earthquake"},
    )
    call("POST", "/api/events/{event_id}/review/", 400, path_parameters=ids, body={"decision": "maybe", "version": 1})
    decided = call(
        "POST",
        "/api/events/{event_id}/review/",
        200,
        path_parameters=ids,
        body={"decision": "accept", "version": event.version, "event_type": "earthquake"},
    )
    assert decided["review_state"] == "accepted" and decided["version"] == event.version + 1
    assert event.origin_time is not None
    picked = call(
        "POST",
        "/api/events/{event_id}/picks/",
        201,
        path_parameters=ids,
        body={"seed_id": seed_id, "phase": "P", "time": event.origin_time.isoformat()},
    )
    assert picked["evaluation_mode"] == "manual" and picked["seed_id"] == seed_id
    call("POST", "/api/events/{event_id}/picks/", 400, path_parameters=ids, body={"seed_id": seed_id, "phase": "Pn"})
    call("DELETE", "/api/events/{event_id}/claim/", 200, path_parameters=ids)
    assert call("GET", "/api/events/progress/", 200, query={"review_state": "new,scored"})["reviewed_today"] >= 1
    undone = call("POST", "/api/events/undo/", 200)["event"]  # the pick since does not block the undo
    assert undone["review_state"] == event.review_state
    batch = {
        "decision": "accept",
        "event_type": "earthquake",
        "events": [{"id": event.pk, "version": undone["version"]}],
    }
    assert call("POST", "/api/events/review-batch/", 200, body=batch)["decided"] == 1
    call("POST", "/api/events/review-batch/", 400, body={**batch, "events": []})
    call("POST", "/api/events/{event_id}/presence/", 200, path_parameters=ids)
    call("DELETE", "/api/events/{event_id}/presence/", 204, path_parameters=ids)
    call("GET", "/api/presence/", 200, query={"events": str(event.pk)})
    saved = call("POST", "/api/filters/", 201, body={"name": "mine", "query": "?review_state=new"})
    call("GET", "/api/filters/", 200)
    call("DELETE", "/api/filters/{saved_filter_id}/", 204, path_parameters={"saved_filter_id": saved["id"]})
    call("PUT", "/api/preferences/columns/", 200, body={"columns": ["rank", "importance", "origin_time"]})
    call("PUT", "/api/preferences/columns/", 400, body={"columns": ["rank", "rank"]})
    call("GET", "/api/preferences/columns/", 200)
    call("GET", "/api/events/{event_id}/waveforms/", 200, path_parameters=ids, query={"filter": "1-10"})
    call("GET", "/api/events/{event_id}/waveforms/", 400, path_parameters=ids, query={"width": "1"})
    call("GET", "/api/events/{event_id}/waveforms/{seed_id}/", 200, path_parameters={**ids, "seed_id": seed_id})
    call(
        "GET",
        "/api/events/{event_id}/waveforms/{seed_id}/spectrogram/",
        200,
        path_parameters={**ids, "seed_id": seed_id},
    )
    call("GET", "/api/models/{kind}/", 200, path_parameters={"kind": "ranker"})
    run = call("POST", "/api/models/{kind}/train/", 202, path_parameters={"kind": "ranker"})
    call("POST", "/api/models/{kind}/train/", 409, path_parameters={"kind": "ranker"})
    call("GET", "/api/training-runs/{run_id}/", 200, path_parameters={"run_id": run["id"]})
    call(
        "POST",
        "/api/models/{kind}/versions/{version}/promote/",
        404,
        path_parameters={"kind": "ranker", "version": "no-such-version"},
        body={"reason": "test"},
    )
    call(
        "POST",
        "/api/models/{kind}/versions/{version}/rollback/",
        404,
        path_parameters={"kind": "cnn", "version": "no-such-version"},
    )
    call("GET", "/api/learning/informative/", 200, query={"measure": "margin"})
    call("GET", "/api/learning/mislabelled/", 200)
    assert call("GET", "/api/learning/labels/", 200)["agreement"]["events_decided_more_than_once"] >= 0
    job = call("POST", "/api/bulletins/", 202, body={**window, "format": "csv", "status": "all"})
    bulletin_job_run(job_id=job["id"])  # the worker's side
    on_job = {"bulletin_job_id": job["id"]}
    published = call("GET", "/api/bulletins/jobs/{bulletin_job_id}/", 200, path_parameters=on_job)
    assert published["state"] == "done" and published["event_count"] > 0
    call("GET", "/api/bulletins/jobs/{bulletin_job_id}/", 404, path_parameters={"bulletin_job_id": "no-such-job"})
    call("POST", "/api/bulletins/", 400, body={"start": window["end"], "end": window["start"], "format": "csv"})
    call("POST", "/api/bulletins/drafts/", 202, body={**window, "format": "kml"})
    call("GET", "/api/bulletins/", 200)
    call("GET", "/api/bulletins/{bulletin_id}/file/", 200, path_parameters={"bulletin_id": published["bulletin_id"]})
    for format in ("quakeml", "geojson", "ims1.0"):
        call("GET", "/api/export/", 200, query={**window, "format": format})
    call("GET", "/api/imports/{job_id}/", 404, path_parameters={"job_id": "no-such-job"})
    settings.DATA_DIR = tmp_path
    parts = [
        UploadedPart("events", _upload(obspy_data / "io/seiscomp/tests/data/quakeml_1.2_quarryblast.xml")),
        UploadedPart("stations", _upload(shared_data / "esec/stations/1/AV.SPBG.xml")),
    ]
    job = import_job_create(user=senior_analyst, parts=parts)
    import_job_run(job_id=job["id"])  # what the worker runs: each file's outcome joins the job
    finished = call("GET", "/api/imports/{job_id}/", 200, path_parameters={"job_id": job["id"]})
    assert [entry["status"] for entry in finished["files"]] == ["done", "done"]
    call("GET", "/api/token/", 200)
    # Every operation was called but the upload (multipart; its 400 and 202 are the import tests') and making or
    # revoking a token (it would replace the one these requests use).
    every = {(r.ok().method.upper(), r.ok().path) for r in schema.get_all_operations() if isinstance(r, Ok)}
    skipped = {("POST", "/api/imports/"), ("POST", "/api/token/"), ("DELETE", "/api/token/")}
    assert {(method, path) for method, path, _ in seen} == every - skipped
