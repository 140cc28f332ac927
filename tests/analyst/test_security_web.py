"""Attacks through the web interface: CSRF on every unsafe method, HTML from imported files and from users
escaped on every page, SQL injection through every filter, path traversal through every parameter naming a
file, upload limits, login rate limiting, error pages without stack traces, `check --deploy` and secrets."""

import os
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import obspy
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from obspy.core.event import Comment, EventDescription

from analyst.api.filters import QueueQuerySerializer
from analyst.bulletins.fdsnws.params import ALIASES, PARAMETERS
from analyst.bulletins.services import bulletin_criteria, bulletin_publish
from analyst.ingest.services import events_ingest_file
from analyst.models import Bulletin, SavedFilter
from analyst.web.ratelimit import login_failures_reset
from config import urls as project_urls
from events.models import Event
from ranking.models import ModelVersion
from ranking.registry import ModelArtifactError, model_artifact_load
from ranking.training import ranker_train
from tests.analyst.test_authorization_matrix import METHODS, ROUTES, url_for
from tests.support.security_data import QUARRY_BLAST, SecurityWorld, security_world

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "<script>alert('seistriage')</script>"
IMG = '"><img src=x onerror=alert(1)>'
RAW_MARKERS = (b"<script>alert(", b"<img src=x onerror", b"onerror=alert(1)>", b"<b>XSS</b>")


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any, shared_data: Path, tmp_path_factory: Any) -> Any:
    with security_world(django_db_blocker, shared_data, tmp_path_factory.mktemp("security-web")) as built:
        yield built


def _client(user: User | None, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf, raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


# ---- CSRF ----------------------------------------------------------------------------------------------------


def test_every_unsafe_method_with_a_session_and_no_token_is_refused_with_403(world: SecurityWorld) -> None:
    """Every URL, as a senior analyst's and an admin's session (who may use every form) without a CSRF token."""
    refused, wrong = 0, []
    for role in ("senior", "admin"):
        client = _client(world.users[role], csrf=True)
        for route in ROUTES:
            url = url_for(route, world)
            for method in METHODS[1:]:
                response = getattr(client, method.lower())(url)
                if response.status_code != 403:
                    wrong.append(f"{role} {method} {url}: {response.status_code}")
                refused += 1
    assert not wrong, "\n".join(wrong)
    assert refused == 2 * 4 * len(ROUTES)


def test_the_same_posts_with_the_token_reach_the_view(world: SecurityWorld) -> None:
    """The refusal above is the CSRF check and not something else: with the token the forms answer."""
    client = _client(world.users["senior"], csrf=True)
    client.get("/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    assert client.post("/api/filters/", {"name": ""}, HTTP_X_CSRFTOKEN=token).status_code == 400
    assert client.post("/bulletins/", {"csrfmiddlewaretoken": token}).status_code == 400
    assert client.post("/accounts/logout/", {"csrfmiddlewaretoken": token}).status_code == 302


class _Forms(HTMLParser):
    """The forms of a page: their method and the names of the inputs inside each."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, list[str]]] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.forms.append(((values.get("method") or "get").lower(), []))
            self._open = True
        elif tag == "input" and self._open:
            self.forms[-1][1].append(values.get("name") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = False


def test_no_get_form_carries_the_csrf_token_into_a_url(world: SecurityWorld) -> None:
    """A token in a GET form ends up in the address, the history, server logs and Referer headers."""
    client = _client(world.users["senior"])
    seen = 0
    for route in ROUTES:
        if route.key.startswith(("admin", "api", "fdsnws")):
            continue
        response = client.get(url_for(route, world))
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        parser = _Forms()
        parser.feed(response.content.decode())
        for method, names in parser.forms:
            seen += method == "get"
            assert method == "post" or "csrfmiddlewaretoken" not in names, f"{route.key}: a GET form with the token"
    assert seen >= 1  # the queue filters at least


def test_the_admin_login_is_rate_limited_like_the_workbench_login(senior_analyst: User, settings: Any) -> None:
    settings.SEISTRIAGE_LOGIN_FAILURES = 2
    login_failures_reset(username="sen", address="10.0.0.9")
    client = Client(REMOTE_ADDR="10.0.0.9")
    for _ in range(2):
        assert client.post("/admin/login/", {"username": "sen", "password": "wrong"}).status_code == 200
    blocked = client.post("/admin/login/", {"username": "sen", "password": "sen-password-1"})
    assert blocked.status_code == 429 and b"Too many failed logins" in blocked.content
    assert "_auth_user_id" not in client.session and b"Traceback" not in blocked.content
    # the two login forms share the count: the workbench's is closed to this name and address too
    assert client.post("/accounts/login/", {"username": "sen", "password": "sen-password-1"}).status_code == 429
    login_failures_reset(username="sen", address="10.0.0.9")
    admin = User.objects.create_superuser("root", password="root-password-1")
    assert client.post("/admin/login/", {"username": admin.username, "password": "root-password-1"}).status_code == 302


def test_the_login_form_needs_the_token_too(senior_analyst: User) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "sen", "password": "sen-password-1"})
    assert response.status_code == 403 and "_auth_user_id" not in client.session


def test_an_api_token_needs_no_csrf_token_because_no_browser_sends_it(client: Client, analyst: User) -> None:
    client.force_login(analyst)
    key = client.post("/api/token/").json()["key"]
    scripted = Client(enforce_csrf_checks=True)
    answer = scripted.post(
        "/api/filters/",
        {"name": "mine", "query": "ordering=-importance"},
        HTTP_AUTHORIZATION=f"Token {key}",
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content


# ---- escaping ------------------------------------------------------------------------------------------------


def _hostile_quakeml(folder: Path) -> Path:
    """The real SeisComP mining-explosion QuakeML with its region, a description, the agency, the author and a
    comment replaced by HTML and script."""
    catalog = obspy.read_events(str(QUARRY_BLAST), format="QUAKEML")
    event = catalog[0]
    event.event_descriptions = [
        EventDescription(text=SCRIPT, type="region name"),
        EventDescription(text=IMG, type="earthquake name"),
    ]
    event.comments.append(Comment(text=SCRIPT + IMG))
    event.creation_info.agency_id = "<b>XSS</b>"
    event.creation_info.author = IMG
    path = folder / "hostile_quarryblast.xml"
    catalog.write(str(path), format="QUAKEML")
    return path


def _assert_escaped(response: Any, url: str, *, shown: bool) -> None:
    assert response.status_code == 200, f"{url}: {response.status_code}"
    body = response.content
    for marker in RAW_MARKERS:
        assert marker not in body, f"{url} carries the raw tag {marker!r}"
    if shown:  # the hostile text did reach the page, escaped (HTML or JSON escapes)
        assert b"&lt;script&gt;" in body or b"\\u003Cscript\\u003E" in body or b"\\u003cscript\\u003e" in body, url


def test_html_in_imported_files_and_user_input_is_escaped_on_every_page(
    tmp_path: Path, analyst: User, senior_analyst: User
) -> None:
    report = events_ingest_file(path=_hostile_quakeml(tmp_path))
    event = Event.objects.get(pk=report.event_ids[0])
    assert event.origin_time is not None
    # (the region is Flinn-Engdahl's name for the epicentre, never the file's text)
    assert SCRIPT in event.description and IMG in event.description and event.author == IMG
    assert event.agency_id == "<b>XSS</b>"
    client = _client(senior_analyst)
    review = client.post(
        f"/api/events/{event.pk}/review/",
        {"version": event.version, "decision": "comment", "comment": SCRIPT + IMG},
        content_type="application/json",
    )
    assert review.status_code == 200, review.content
    SavedFilter.objects.create(user=senior_analyst, name=SCRIPT, query="region=" + IMG)
    window = bulletin_criteria(
        start=event.origin_time.replace(year=2000), end=event.origin_time.replace(year=2030), status="all"
    )
    bulletin_publish(user=senior_analyst, format="quakeml", criteria=window, status="all", published=True)
    pages = {
        "/events/": False,
        f"/events/{event.pk}/": True,
        f"/queue/events/{event.pk}/": True,
        "/": True,  # the queue page: saved filter names and presets
        f"/?region={IMG}&agency={SCRIPT}": True,  # query parameters echoed into the filter form
        "/bulletins/": False,
        "/models/ranker/": False,
        "/learning/informative/": False,
        "/learning/labels/": False,
        "/learning/mislabelled/": False,
        "/import/": False,
    }
    for url, shown in pages.items():
        _assert_escaped(client.get(url), url, shown=shown)
    refused = client.post("/bulletins/", {"start": SCRIPT, "end": IMG, "format": "quakeml", "action": "draft"})
    assert refused.status_code == 400
    refused.status_code = 200  # the page with the form's errors, checked like the others
    _assert_escaped(refused, "/bulletins/ (a refused draft)", shown=True)
    # The queue page's script reads rows from the API: JSON, never HTML, and the script writes textContent.
    for url in ("/api/events/", f"/api/events/{event.pk}/"):
        assert client.get(url)["Content-Type"] == "application/json"


def test_a_model_trained_by_a_hostile_name_is_shown_escaped(
    senior_analyst: User, shared_data: Path, tmp_path: Path
) -> None:
    lines = (shared_data / "catalogs/pnsn_comcat_2018-2022.csv").read_text().splitlines()[:201]
    (tmp_path / "pnsn.csv").write_text("\n".join(lines) + "\n")
    events_ingest_file(path=tmp_path / "pnsn.csv", reviewed=True)
    ranker_train(created_by=SCRIPT, promote=True)
    _assert_escaped(_client(senior_analyst).get("/models/ranker/"), "/models/ranker/", shown=True)


# ---- SQL injection -------------------------------------------------------------------------------------------

INJECTIONS = (
    "' OR '1'='1",
    "1 OR 1=1",
    "1; DROP TABLE analyst_event;--",
    "x' UNION SELECT username, password FROM auth_user--",
    "%' OR 1=1 --",
    "earthquake') OR ('a'='a",
    "1e999",
    "\x00",
)


def _queue_parameters() -> list[str]:
    return [*QueueQuerySerializer().fields, "limit", "total", "cursor", "after_event", "before_event"]


def test_sql_injection_through_every_queue_filter_gets_400_or_nothing(world: SecurityWorld) -> None:
    client = _client(world.users["analyst"])
    events_before = Event.objects.count()
    tried = 0
    for name in _queue_parameters():
        for value in INJECTIONS:
            response = client.get("/api/events/", {name: value})
            tried += 1
            assert response.status_code in (200, 400, 404), f"{name}={value!r}: {response.status_code}"
            if response.status_code == 200 and name not in ("total", "hide_false"):
                assert response.json()["results"] == [], f"{name}={value!r} returned rows"
    assert Event.objects.count() == events_before and tried == len(_queue_parameters()) * len(INJECTIONS)


def test_sql_injection_through_every_fdsn_parameter_gets_400_or_nothing(world: SecurityWorld, settings: Any) -> None:
    settings.SEISTRIAGE_FDSN_EVENTS = "all"
    settings.SEISTRIAGE_FDSN_ANONYMOUS_PER_MINUTE = (
        0  # hundreds of queries from one address: throttling is tested apart
    )
    client = Client()
    events_before = Event.objects.count()
    for name in [*PARAMETERS, *ALIASES]:
        for value in INJECTIONS:
            response = client.get(
                "/fdsnws/event/1/query", {name: value, "format": "text"} if name != "format" else {name: value}
            )
            body = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
            assert response.status_code in (204, 400, 404), f"{name}={value!r}: {response.status_code} {body[:300]!r}"
    assert Event.objects.count() == events_before


# ---- path traversal ------------------------------------------------------------------------------------------

TRAVERSALS = (
    "..",
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e",
    "....//....//etc",
    "/etc/passwd",
    "AV.SPCG..BHN%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "..\\..\\windows",
)


def test_a_bulletin_row_pointing_outside_the_bulletin_folder_is_not_served(world: SecurityWorld) -> None:
    client = _client(world.users["analyst"])
    for target in ("../../../../etc/passwd", "/etc/passwd", "../" + "x" * 10):
        Bulletin.objects.filter(pk=world.bulletin.pk).update(file_path=target)
        for url in (f"/bulletins/{world.bulletin.pk}/file/", f"/api/bulletins/{world.bulletin.pk}/file/"):
            response = client.get(url)
            assert response.status_code == 404, f"{target} via {url}: {response.status_code}"
            assert b"root:" not in b"".join(getattr(response, "streaming_content", [response.content]))


def test_traversal_in_waveform_model_and_job_paths_is_refused(world: SecurityWorld) -> None:
    client = _client(world.users["admin"])
    event = world.event.pk
    version = world.model.version
    for value in TRAVERSALS:
        for url in (
            f"/api/events/{event}/waveforms/{value}/",
            f"/api/events/{event}/waveforms/{value}/spectrogram/",
            f"/models/{value}/",
            f"/api/models/{value}/",
            f"/api/imports/{value}/",
            f"/api/models/ranker/versions/{value}/promote/",
        ):
            response = client.post(url) if url.endswith("promote/") else client.get(url)
            assert response.status_code in (400, 404), f"{url}: {response.status_code}"
    assert ModelVersion.objects.get(kind="ranker", version=version).status == "active"


def test_a_model_artifact_path_outside_the_store_is_refused(world: SecurityWorld) -> None:
    for target in ("../../../../etc/passwd", "/etc/passwd"):
        ModelVersion.objects.filter(pk=world.model.pk).update(artifact_path=target)
        world.model.refresh_from_db()
        with pytest.raises(ModelArtifactError):
            model_artifact_load(model_version=world.model)


def test_upload_names_cannot_escape_the_job_folder(world: SecurityWorld) -> None:
    client = _client(world.users["senior"])
    data = QUARRY_BLAST.read_bytes()
    for name in ("../../../evil.xml", "..\\..\\evil.xml", "/etc/cron.d/evil.xml", ".hidden.xml"):
        response = client.post("/api/imports/", {"events": SimpleUploadedFile(name, data)})
        assert response.status_code == 202, response.content
        uploads = Path(django_settings.DATA_DIR) / "uploads"
        saved = (uploads / response.json()["files"][0]["path"]).resolve()  # the job names it relative to uploads/
        job_folder = (uploads / response.json()["id"]).resolve()
        assert saved.parent == job_folder and not saved.name.startswith("."), saved


# ---- upload limits -------------------------------------------------------------------------------------------


def test_uploads_over_the_size_limit_or_of_the_wrong_type_are_refused_naming_the_file(
    world: SecurityWorld, settings: Any
) -> None:
    settings.SEISTRIAGE_MAX_UPLOAD_BYTES = 2048
    client = _client(world.users["senior"])
    big = QUARRY_BLAST.read_bytes()
    assert len(big) > 2048
    mseed = next((Path(obspy.__path__[0]) / "io/mseed/tests/data").glob("*.mseed")).read_bytes()
    cases = {
        "events": [
            ("quarry.xml", big, "over the upload limit"),
            ("quarry.exe", big[:2000], "must end in"),
            ("binary.xml", mseed[:2000], "binary content"),
            ("empty.xml", b"", "empty"),
        ],
        "waveforms": [("notes.mseed", b"not a waveform at all\n" * 10, "not a waveform file")],
        "stations": [("inventory.pdf", b"%PDF-1.4\n", "must end in")],
    }
    uploads_before = sorted((Path(django_settings.DATA_DIR) / "uploads").glob("*"))
    for kind, files in cases.items():
        for name, content, reason in files:
            response = client.post("/api/imports/", {kind: SimpleUploadedFile(name, content)})
            assert response.status_code == 400, (name, response.content)
            message = " ".join(response.json()["files"])
            assert name in message and reason in message, message
    assert sorted((Path(django_settings.DATA_DIR) / "uploads").glob("*")) == uploads_before


# ---- login rate limiting -------------------------------------------------------------------------------------


def test_logins_are_rate_limited_per_user_name_and_address(analyst: User, settings: Any) -> None:
    settings.SEISTRIAGE_LOGIN_FAILURES = 3
    for address in ("10.0.0.1", "10.0.0.2"):
        login_failures_reset(username="ana", address=address)
    client = Client(REMOTE_ADDR="10.0.0.1")
    for _ in range(3):
        assert client.post("/accounts/login/", {"username": "ana", "password": "wrong"}).status_code == 200
    blocked = client.post("/accounts/login/", {"username": "ana", "password": "ana-password-1"})
    assert blocked.status_code == 429 and b"Too many failed logins" in blocked.content
    assert "_auth_user_id" not in client.session
    # another address, and the same address for another user name, are not blocked
    other = Client(REMOTE_ADDR="10.0.0.2")
    assert other.post("/accounts/login/", {"username": "ana", "password": "ana-password-1"}).status_code == 302
    login_failures_reset(username="ana", address="10.0.0.1")
    assert client.post("/accounts/login/", {"username": "ana", "password": "ana-password-1"}).status_code == 302


def test_the_limit_lapses_after_its_window(fast_password_hashing: None, analyst: User, settings: Any) -> None:
    settings.SEISTRIAGE_LOGIN_FAILURES = 2
    # Long enough that three logins fit inside it on a loaded machine (a 1 s window lapsed before the third).
    settings.SEISTRIAGE_LOGIN_WINDOW_SECONDS = 4
    login_failures_reset(username="ana", address="10.0.0.3")
    client = Client(REMOTE_ADDR="10.0.0.3")
    for _ in range(2):
        client.post("/accounts/login/", {"username": "ana", "password": "wrong"})
    assert client.post("/accounts/login/", {"username": "ana", "password": "ana-password-1"}).status_code == 429
    time.sleep(4.5)
    assert client.post("/accounts/login/", {"username": "ana", "password": "ana-password-1"}).status_code == 302


# ---- error pages ---------------------------------------------------------------------------------------------


def _fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("internal detail: DATABASE password=hunter2")


urlpatterns = [*project_urls.urlpatterns, path("test-failure/", _fail)]


@pytest.mark.urls(__name__)
def test_with_debug_off_an_error_shows_the_plain_pages_and_no_stack_trace(
    analyst: User, outsider: User, settings: Any
) -> None:
    settings.DEBUG = False
    cache.clear()
    client = _client(analyst)
    failed = client.get("/test-failure/")
    assert failed.status_code == 500 and b"Server error" in failed.content
    for leak in (b"Traceback", b"RuntimeError", b"hunter2", b"internal detail", b'File "'):
        assert leak not in failed.content
    missing = client.get("/events/999999999/")
    assert missing.status_code == 404 and b"Not found" in missing.content and b"urlpatterns" not in missing.content
    forbidden = _client(outsider).get("/events/")
    assert forbidden.status_code == 403 and b"needs a role" in forbidden.content


# ---- deployment checks and secrets ---------------------------------------------------------------------------

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k" * 20 + "-production-secret-from-the-environment-" + "q" * 20,
    "ALLOWED_HOSTS": "seistriage.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://seistriage.example.org",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # The test command itself relaxes cookie security for http test servers; production must use the defaults.
    relaxed = {"SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "DEBUG", "ALLOWED_HOSTS"}
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION and k not in relaxed}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_check_deploy_is_clean_with_the_production_settings_the_readme_recommends() -> None:
    result = _manage("check", "--deploy", "--tag", "security", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "security." not in result.stdout + result.stderr


def test_the_secret_key_comes_only_from_the_environment() -> None:
    without = {**PRODUCTION, "SECRET_KEY": ""}
    refused = _manage("check", env=without)
    assert refused.returncode != 0 and "SECRET_KEY" in refused.stderr
    short = _manage("check", env={**PRODUCTION, "SECRET_KEY": "short"})
    assert short.returncode != 0 and "at least 32 characters" in short.stderr
    shown = _manage("shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)", env=PRODUCTION)
    assert shown.stdout.strip().splitlines()[-1] == PRODUCTION["SECRET_KEY"], shown.stderr
    source = "\n".join(p.read_text() for p in (ROOT / "config").glob("*.py"))
    assert 'SECRET_KEY = env_str("SECRET_KEY"' in source and "django-insecure" not in source
