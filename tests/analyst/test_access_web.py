"""Access and disclosure through real HTTP requests (issue 18): the login limits against look-alike names and
shared proxies, API token lifetime, security headers, what answers disclose, and upload pre-checks."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from analyst.ratelimit import login_failures_reset

pytestmark = pytest.mark.django_db

LOOK_ALIKES = ("ⅴictim", "ｖｉｃｔｉｍ", "𝐯𝐢𝐜𝐭𝐢𝐦", "𝘃𝗶𝗰𝘁𝗶𝗺", "VICTIM")


@pytest.fixture
def victim(db: None) -> User:
    from analyst.roles import roles_ensure

    user = User.objects.create_user("victim", password="victim-password-1")
    user.groups.add(roles_ensure()["analyst"])
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
