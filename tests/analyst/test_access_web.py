"""Access and disclosure through real HTTP requests (issue 18): the login limits against look-alike names and
shared proxies, API token lifetime, security headers, what answers disclose, and upload pre-checks."""

import datetime as dt
import io
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import obspy
import psycopg
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from analyst.ingest.uploads import import_job_run
from analyst.web.disclosure import text_public
from analyst.web.ratelimit import KNOWN_DEVICE_COOKIE, login_failures_reset
from events.models import Event
from tests.analyst.test_authorization_matrix import ROUTES, url_for
from tests.support.security_data import SecurityWorld, security_world

pytestmark = pytest.mark.django_db

LOOK_ALIKES = ("ⅴictim", "ｖｉｃｔｉｍ", "𝐯𝐢𝐜𝐭𝐢𝐦", "𝘃𝗶𝗰𝘁𝗶𝗺", "VICTIM")


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any, shared_data: Path, tmp_path_factory: Any) -> Any:
    with security_world(django_db_blocker, shared_data, tmp_path_factory.mktemp("access-web")) as built:
        yield built


@pytest.fixture
def victim(db: None) -> User:
    from analyst.roles import roles_ensure

    user = User.objects.create_user("victim", password="victim-password-1")
    user.groups.add(roles_ensure()["analyst"])
    return user


def _user(world: SecurityWorld, role: str) -> User:
    user = world.users[role]
    assert user is not None
    return user


def _forget(*addresses: str, name: str = "victim") -> None:
    for address in addresses:
        login_failures_reset(username=name, address=address)


# ---- H3: NFKC look-alike user names ----------------------------------------------------------------------------


@pytest.mark.parametrize("login_url", ["/accounts/login/", "/admin/login/"])
def test_a_look_alike_user_name_neither_gets_fresh_attempts_nor_logs_in_while_the_name_is_locked(
    victim: User, settings: Any, login_url: str
) -> None:
    settings.SEISTRIAGE_LOGIN_FAILURES = 3
    _forget("10.1.0.1")
    client = Client(REMOTE_ADDR="10.1.0.1")
    for _ in range(3):
        client.post(login_url, {"username": "victim", "password": "wrong"})
    assert client.post(login_url, {"username": "victim", "password": "wrong"}).status_code == 429
    for look_alike in LOOK_ALIKES:
        guess = client.post(login_url, {"username": look_alike, "password": "wrong"})
        assert guess.status_code == 429, look_alike
    right = client.post(login_url, {"username": "ⅴictim", "password": "victim-password-1"})
    assert right.status_code == 429 and "_auth_user_id" not in client.session


def test_failures_under_look_alike_names_count_for_the_account(victim: User, settings: Any) -> None:
    settings.SEISTRIAGE_LOGIN_FAILURES = 3
    _forget("10.1.0.2")
    client = Client(REMOTE_ADDR="10.1.0.2")
    for look_alike in LOOK_ALIKES[:3]:
        assert client.post("/accounts/login/", {"username": look_alike, "password": "wrong"}).status_code == 200
    assert client.post("/accounts/login/", {"username": "victim", "password": "victim-password-1"}).status_code == 429


# ---- M7: lockout of everybody behind the proxy ------------------------------------------------------------------


def test_behind_the_proxy_one_client_cannot_lock_a_name_for_the_others(victim: User, settings: Any) -> None:
    settings.SEISTRIAGE_LOGIN_FAILURES = 3
    settings.SEISTRIAGE_CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"
    _forget("203.0.113.7", "198.51.100.4", "10.9.9.9")
    # every request comes from the proxy (10.9.9.9); the proxy appends the address it saw
    attacker = Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")
    for _ in range(3):
        attacker.post("/accounts/login/", {"username": "victim", "password": "wrong"})
    assert attacker.post("/accounts/login/", {"username": "victim", "password": "wrong"}).status_code == 429
    # a forged first entry does not give the attacker fresh attempts: the proxy's last entry is the client
    forged = Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="5.6.7.8, 203.0.113.7")
    assert forged.post("/accounts/login/", {"username": "victim", "password": "wrong"}).status_code == 429
    owner = Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert owner.post("/accounts/login/", {"username": "victim", "password": "victim-password-1"}).status_code == 302
    admin = Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert admin.post("/admin/login/", {"username": "victim", "password": "wrong"}).status_code == 200


def test_guessing_one_name_from_many_addresses_meets_the_slower_name_wide_limit(victim: User, settings: Any) -> None:
    settings.SEISTRIAGE_LOGIN_FAILURES = 3
    settings.SEISTRIAGE_LOGIN_NAME_FAILURES = 6
    addresses = [f"10.2.0.{n}" for n in range(1, 5)]
    _forget(*addresses)
    for address in addresses[:3]:
        client = Client(REMOTE_ADDR=address)
        for _ in range(2):
            assert client.post("/accounts/login/", {"username": "victim", "password": "wrong"}).status_code == 200
    fresh = Client(REMOTE_ADDR=addresses[3])
    refused = fresh.post("/accounts/login/", {"username": "ｖｉｃｔｉｍ", "password": "victim-password-1"})
    assert refused.status_code == 429 and b"from many addresses" in refused.content
    assert "_auth_user_id" not in fresh.session
    _forget(*addresses)


def test_the_owner_logs_in_through_a_name_wide_lock_from_a_browser_that_logged_in_before(
    victim: User, settings: Any
) -> None:
    settings.SEISTRIAGE_LOGIN_FAILURES = 3
    settings.SEISTRIAGE_LOGIN_NAME_FAILURES = 4
    addresses = [f"10.3.0.{n}" for n in range(1, 7)]
    _forget(*addresses)
    owner = Client(REMOTE_ADDR=addresses[0])
    assert owner.post("/accounts/login/", {"username": "victim", "password": "victim-password-1"}).status_code == 302
    assert KNOWN_DEVICE_COOKIE in owner.cookies and owner.cookies[KNOWN_DEVICE_COOKIE]["httponly"]
    owner.post("/accounts/logout/")
    # strangers from two addresses spend the name-wide allowance: the name is locked everywhere
    for address in addresses[1:3]:
        stranger = Client(REMOTE_ADDR=address)
        for _ in range(2):
            assert stranger.post("/accounts/login/", {"username": "victim", "password": "wrong"}).status_code == 200
    newcomer = Client(REMOTE_ADDR=addresses[3])
    locked = newcomer.post("/accounts/login/", {"username": "victim", "password": "victim-password-1"})
    assert locked.status_code == 429 and "_auth_user_id" not in newcomer.session
    # the attacker stays locked, right password or not, even with a cookie copied from another name's login
    assert (
        Client(REMOTE_ADDR=addresses[1])
        .post("/accounts/login/", {"username": "victim", "password": "victim-password-1"})
        .status_code
        == 429
    )
    forged = Client(REMOTE_ADDR=addresses[4])
    forged.cookies[KNOWN_DEVICE_COOKIE] = "victim"  # unsigned: ignored
    assert forged.post("/accounts/login/", {"username": "victim", "password": "wrong"}).status_code == 429
    # the owner's browser, from the owner's (new) address: a wrong password is counted and refused as ever...
    owner.defaults["REMOTE_ADDR"] = addresses[5]
    assert owner.post("/accounts/login/", {"username": "victim", "password": "typo"}).status_code == 200
    assert "_auth_user_id" not in owner.session
    # ...and the right one logs in, through the name-wide lock, on both login pages
    assert owner.post("/accounts/login/", {"username": "victim", "password": "victim-password-1"}).status_code == 302
    assert owner.session["_auth_user_id"] == str(victim.pk)
    owner.post("/accounts/logout/")
    # the admin login applies the same rule (victim is no staff member, so the admin shows its form again)
    admin = owner.post("/admin/login/", {"username": "victim", "password": "victim-password-1"})
    assert admin.status_code == 200 and b"staff account" in admin.content
    # but the per-address limit still holds for a known browser: three wrong passwords close that address
    owner.post("/accounts/logout/")
    for _ in range(3):
        owner.post("/accounts/login/", {"username": "victim", "password": "wrong"})
    assert owner.post("/accounts/login/", {"username": "victim", "password": "victim-password-1"}).status_code == 429
    _forget(*addresses)


def test_a_known_device_cookie_for_one_name_does_not_open_another(victim: User, analyst: User, settings: Any) -> None:
    settings.SEISTRIAGE_LOGIN_NAME_FAILURES = 2
    _forget("10.4.0.1", "10.4.0.2", name="ana")
    _forget("10.4.0.1")
    shared = Client(REMOTE_ADDR="10.4.0.1")
    assert shared.post("/accounts/login/", {"username": "victim", "password": "victim-password-1"}).status_code == 302
    shared.post("/accounts/logout/")
    stranger = Client(REMOTE_ADDR="10.4.0.2")
    for _ in range(2):
        stranger.post("/accounts/login/", {"username": "ana", "password": "wrong"})
    refused = shared.post("/accounts/login/", {"username": "ana", "password": "ana-password-1"})
    assert refused.status_code == 429 and b"from many addresses" in refused.content
    _forget("10.4.0.1", "10.4.0.2", name="ana")


# ---- L7: API token lifetime ------------------------------------------------------------------------------------


def _token(user: User, password: str) -> tuple[Client, str]:
    browser = Client()
    assert browser.post("/accounts/login/", {"username": user.username, "password": password}).status_code == 302
    return browser, browser.post("/api/token/").json()["key"]


def test_a_password_change_through_the_password_page_ends_the_api_token(victim: User) -> None:
    browser, key = _token(victim, "victim-password-1")
    script = Client()
    assert script.get("/api/token/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    changed = browser.post(
        "/accounts/password_change/",
        {
            "old_password": "victim-password-1",
            "new_password1": "a-new-password-for-victim-2",
            "new_password2": "a-new-password-for-victim-2",
        },
    )
    assert changed.status_code == 302, changed.content
    refused = script.get("/api/token/", HTTP_AUTHORIZATION=f"Token {key}")
    assert refused.status_code == 401 and refused.json()["detail"] == "Invalid token."


def test_set_password_by_an_operator_ends_the_token_but_other_saves_keep_it(victim: User) -> None:
    _, key = _token(victim, "victim-password-1")
    victim.first_name = "Vic"
    victim.save()
    assert Client().get("/api/token/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    victim.set_password("an-operator-reset-password-3")
    victim.save()
    assert Client().get("/api/token/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


def test_logging_out_ends_the_token_that_session_made(victim: User) -> None:
    browser, key = _token(victim, "victim-password-1")
    script = Client()
    assert script.get("/api/events/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    assert browser.post("/accounts/logout/").status_code in (200, 302)
    refused = script.get("/api/events/", HTTP_AUTHORIZATION=f"Token {key}")
    assert refused.status_code == 401 and refused.json()["detail"] == "Invalid token."
    assert not Token.objects.filter(user=victim).exists()


def test_logging_out_elsewhere_or_a_script_made_token_leaves_the_token_alone(victim: User) -> None:
    first, key = _token(victim, "victim-password-1")
    other = Client()
    assert other.post("/accounts/login/", {"username": "victim", "password": "victim-password-1"}).status_code == 302
    other.post("/accounts/logout/")  # another session, which made no token
    assert Client().get("/api/events/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    # a script replaces its token with its token: the new one is bound to no session, so the old login's
    # logout does not end it (the old token, which that login made, is already gone)
    renewed = Client().post("/api/token/", HTTP_AUTHORIZATION=f"Token {key}").json()["key"]
    first.post("/accounts/logout/")
    assert Client().get("/api/events/", HTTP_AUTHORIZATION=f"Token {renewed}").status_code == 200


def test_an_api_token_older_than_its_lifetime_is_refused_with_401_saying_it_expired(
    victim: User, settings: Any
) -> None:
    settings.SEISTRIAGE_API_TOKEN_DAYS = 30
    _, key = _token(victim, "victim-password-1")
    script = Client()
    Token.objects.filter(key=key).update(created=timezone.now() - dt.timedelta(days=29, hours=23))
    assert script.get("/api/events/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    Token.objects.filter(key=key).update(created=timezone.now() - dt.timedelta(days=30, seconds=1))
    expired = script.get("/api/events/", HTTP_AUTHORIZATION=f"Token {key}")
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"] and "30 days" in expired.json()["detail"]


# ---- L8: headers -----------------------------------------------------------------------------------------------


class _InlineCode(HTMLParser):
    """Inline script and inline event handlers, which the Content-Security-Policy would block."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=...>")
        self._in_script = tag == "script" and not values.get("src") and values.get("type") != "application/json"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append(f"<script>{data.strip()[:60]}")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def _pages(world: SecurityWorld) -> list[str]:
    urls = [url_for(route, world) for route in ROUTES if not route.key.startswith(("admin", "api", "fdsnws"))]
    return [*urls, "/api/docs/", "/admin/", "/admin/auth/user/", "/admin/auth/user/add/", "/accounts/login/"]


def test_every_page_carries_a_content_security_policy_its_html_obeys(world: SecurityWorld) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(_user(world, "admin"))
    pages = 0
    for url in _pages(world):
        response = client.get(url)
        assert "default-src 'self'" in response["Content-Security-Policy"], url
        assert "script-src 'self';" in response["Content-Security-Policy"], url
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        pages += 1
        parser = _InlineCode()
        parser.feed(response.content.decode())
        assert parser.found == [], f"{url}: inline code the policy blocks: {parser.found}"
    assert pages >= 10
    # the Swagger UI's start-up script is a script of its own, not inline
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_every_api_answer_is_private_and_not_stored(world: SecurityWorld) -> None:
    browser = Client(raise_request_exception=False)
    browser.force_login(_user(world, "senior"))
    key = browser.post("/api/token/").json()["key"]
    script = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {key}")
    answers = [
        browser.get("/api/events/"),
        browser.get("/api/token/"),
        browser.get("/api/imports/0123456789abcdef0123456789abcdef/"),  # 404
        script.get("/api/events/"),
        script.get("/api/filters/"),
        Client().get("/api/events/"),  # 403, anonymous
        Client(HTTP_AUTHORIZATION="Token not-a-key").get("/api/events/"),  # 401
    ]
    assert {answer.status_code for answer in answers} >= {200, 401, 403, 404}
    for answer in answers:
        assert answer["Cache-Control"] == "private, no-store", answer.wsgi_request.path


# ---- L3: the upload size is checked before the body is read ------------------------------------------------------


class _Body(io.BytesIO):
    """A request body that remembers how much of it the server read."""

    read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.read_bytes += len(chunk)
        return chunk

    def readline(self, size: int | None = -1) -> bytes:
        line = super().readline(size)
        self.read_bytes += len(line)
        return line


def test_an_oversized_upload_from_a_browser_session_is_refused_before_its_body_is_read(
    world: SecurityWorld, settings: Any
) -> None:
    settings.SEISTRIAGE_MAX_UPLOAD_BYTES = 1024
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(_user(world, "senior"))
    assert browser.get("/import/").status_code == 200
    token = browser.cookies["csrftoken"].value
    boundary = "seistriage-boundary"
    part = (Path(obspy.__path__[0]) / "io/quakeml/tests/data/quakeml_1.2_origin.xml").read_bytes()
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="events"; filename="big.xml"\r\n'
        f"Content-Type: application/xml\r\n\r\n".encode()
        + part * 40
        + f"\r\n--{boundary}--\r\n".encode()
    )
    assert len(body) > 50 * 1024
    stream = _Body(body)
    body_stream: dict[str, Any] = {"wsgi.input": stream}
    response = browser.generic(
        "POST",
        "/api/imports/",
        content_type=f"multipart/form-data; boundary={boundary}",
        HTTP_X_CSRFTOKEN=token,
        CONTENT_LENGTH=str(len(body)),
        **body_stream,
    )
    assert stream.read_bytes == 0, f"{stream.read_bytes} bytes of the body were read before the size check"
    assert response.status_code == 413 and "too large" in response.json()["detail"], response.content
    # under the limit the same session reaches the view
    settings.SEISTRIAGE_MAX_UPLOAD_BYTES = 1024 * 1024
    small = SimpleUploadedFile("origin.xml", part)
    accepted = browser.post("/api/imports/", {"events": small}, HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 202, accepted.content


# ---- L4: a long upload file name --------------------------------------------------------------------------------


def test_a_300_character_file_name_is_saved_shortened_with_its_ending_and_imported(world: SecurityWorld) -> None:
    browser = Client(raise_request_exception=False)
    browser.force_login(_user(world, "senior"))
    data = (Path(obspy.__path__[0]) / "io/quakeml/tests/data/quakeml_1.2_origin.xml").read_bytes()
    long_name = "q" * 296 + ".xml"
    uploads = Path(django_settings.DATA_DIR) / "uploads"
    before = set(uploads.glob("*"))
    response = browser.post(
        "/api/imports/",
        {"events": [SimpleUploadedFile("first.xml", data), SimpleUploadedFile(long_name, data)]},
    )
    assert response.status_code == 202, response.content[:300]
    job = response.json()
    assert job["files"][0]["name"] == "first.xml" and job["files"][1]["name"].endswith("qq.xml")
    saved = sorted((uploads / job["id"]).iterdir())
    assert [path.name[:4] for path in saved] == ["001-", "002-"]
    assert len(saved[1].name) <= 204 and saved[1].name.endswith("qq.xml")
    assert set(uploads.glob("*")) - before == {uploads / job["id"]}


# ---- L8: what answers disclose ------------------------------------------------------------------------------------


def test_an_import_job_shows_its_files_relative_to_the_data_folder_before_and_after_the_import(
    world: SecurityWorld,
) -> None:
    browser = Client(raise_request_exception=False)
    browser.force_login(_user(world, "senior"))
    broken = b"<?xml version='1.0'?>\n<q:quakeml xmlns:q='http://quakeml.org/xmlns/quakeml/1.2'><eventParameters>"
    quakeml = (Path(obspy.__path__[0]) / "io/quakeml/tests/data/quakeml_1.2_origin.xml").read_bytes()
    queued = browser.post(
        "/api/imports/", {"events": [SimpleUploadedFile("good.xml", quakeml), SimpleUploadedFile("cut.xml", broken)]}
    )
    assert queued.status_code == 202, queued.content[:300]
    job_id = queued.json()["id"]
    assert [entry["path"] for entry in queued.json()["files"]] == [
        f"{job_id}/001-good.xml",  # relative to the upload folder
        f"{job_id}/002-cut.xml",
    ]
    import_job_run(job_id=job_id)  # what the worker runs
    answer = browser.get(f"/api/imports/{job_id}/")
    assert answer.status_code == 200
    files = answer.json()["files"]
    assert [entry["status"] for entry in files] == ["done", "failed"] and files[1]["error"].startswith("cut.xml")
    data_dir = str(Path(django_settings.DATA_DIR).resolve())
    assert data_dir not in answer.content.decode() and str(django_settings.DATA_DIR) not in answer.content.decode()


def test_waveform_problems_name_missing_files_without_server_folders(
    world: SecurityWorld, shared_data: Path, tmp_path: Path
) -> None:
    call_command("import_events", str(shared_data / "esec/IRISExoticEventCatalog.txt"), verbosity=0)
    call_command("import_stations", *map(str, sorted((shared_data / "esec/stations/1").glob("*.xml"))), verbosity=0)
    original = next((shared_data / "esec/waveforms/1").glob("AV.SPCR..BHZ__*.mseed"))
    outside = tmp_path / "elsewhere" / "AV.SPCR..BHZ.mseed"
    inside = Path(django_settings.DATA_DIR) / "archive-test" / "AV.SPCR..BHZ.inside.mseed"
    for copy in (outside, inside):
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(original, copy)
        call_command("import_waveforms", str(copy), verbosity=0)
        copy.unlink()
    cache.clear()
    lahar = Event.objects.get(origin_time=dt.datetime(2014, 9, 10, 19, 21, 15, tzinfo=dt.UTC))
    browser = Client()
    browser.force_login(_user(world, "analyst"))
    answer = browser.get(f"/api/events/{lahar.pk}/waveforms/", {"end": "30"})
    assert answer.status_code == 200
    problems = answer.json()["problems"]
    assert "AV.SPCR..BHZ.mseed: registered waveform file is missing" in problems, problems
    assert "archive-test/AV.SPCR..BHZ.inside.mseed: registered waveform file is missing" in problems, problems
    assert not any(str(tmp_path) in problem or "/work/" in problem for problem in problems), problems
    shutil.rmtree(inside.parent)


def test_a_database_error_in_a_job_record_does_not_name_the_database_server() -> None:
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect("postgresql://seistriage@127.0.0.1:1/seistriage", connect_timeout=2)
    recorded = f"quakes.csv: OperationalError: {refused.value}"
    assert "127.0.0.1" in recorded and "port 1" in recorded  # the real message names the server
    error = text_public(recorded)  # what the import job API shows of a file's error
    assert error.startswith("quakes.csv: OperationalError: ") and "127.0.0.1" not in error and "port 1" not in error
