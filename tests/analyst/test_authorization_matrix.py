"""The authorisation matrix: every URL pattern the resolver knows, times every role, times every method, against
a declared policy. A URL without a declared policy fails, so every new endpoint has to state who may use it.

Roles: anonymous, outsider (logged in, no Seistriage role), analyst, senior analyst, admin (superuser).
Path parameters are filled with real objects (tests/support/security_data.py). No answer may be a 500.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.regex_helper import normalize

from tests.support.security_data import ROLES, SecurityWorld, security_world

pytestmark = pytest.mark.django_db
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
RANK = {"anonymous": 0, "outsider": 1, "analyst": 2, "senior": 3, "admin": 4}


@dataclass(frozen=True)
class Route:
    key: str  # the URL name (namespaced), or the route itself for an unnamed pattern
    regex: str  # the full regular expression, as the resolver joins it


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for pattern in resolver.url_patterns:
        regex = prefix + pattern.pattern.regex.pattern.removeprefix("^")
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace or "") if part)
            yield from _walk(pattern, regex, inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield Route(key=name or f"{namespace + ':' if namespace else ''}{regex}", regex=regex)


ROUTES = sorted(_walk(get_resolver()), key=lambda r: r.key)


# ---- the policy -----------------------------------------------------------------------------------------------
# `needs` is the least role that may use the URL at all: "public" (anyone), "login" (any logged-in user),
# "analyst", "senior", "staff" (the Django admin). `methods` maps each method the URL answers to the answers a
# permitted user may get (the fixture's state moves on between calls, so a second claim may meet 409 and so on);
# `senior_methods` are methods that need the senior role although the URL itself needs less. Every other method
# is refused with 405 (or with the role's refusal, where the permission check runs first). `anonymous` says how a
# refused anonymous user is answered: "login" (302 to the login page) or "api" (401/403).


@dataclass(frozen=True)
class Policy:
    needs: str
    methods: dict[str, set[int]]
    anonymous: str = "login"
    senior_methods: frozenset[str] = field(default_factory=frozenset)


def every(codes: set[int]) -> dict[str, set[int]]:
    return {method: set(codes) for method in METHODS}


def page(*codes: int, needs: str = "analyst") -> Policy:
    """A server-rendered page behind `analyst_required`: GET (and HEAD) only, every other method 405 before the
    login check (`require_safe`)."""
    answers = set(codes) or {200}
    return Policy(needs=needs, methods={"GET": answers})


def api(needs: str = "analyst", senior_methods: tuple[str, ...] = (), **methods: set[int]) -> Policy:
    return Policy(needs=needs, methods=methods, anonymous="api", senior_methods=frozenset(senior_methods))


def form(needs: str, get: set[int], post: set[int]) -> Policy:
    """Django's form views: PUT is handled as POST."""
    return Policy(needs=needs, methods={"GET": get, "POST": post, "PUT": post})


FDSN = Policy(needs="public", methods={"GET": {200}})

POLICY: dict[str, Policy] = {
    # accounts (Django's auth views): log in, log out and password reset are open to anyone
    "login": form("public", get={200}, post={200, 429}),
    # the admin's login behind the same failed-login limit (analyst.web.ratelimit.login_rate_limited); 302 once in
    "admin-login": form("public", get={200, 302}, post={200, 302, 429}),
    "logout": Policy(needs="public", methods={"POST": {302}}),
    "password_change": form("login", get={200}, post={200}),
    "password_change_done": Policy(needs="login", methods={"GET": {200}}),
    "password_reset": form("public", get={200}, post={200}),
    "password_reset_done": Policy(needs="public", methods={"GET": {200}}),
    # a valid reset link answers 302 to its set-password page before any method check; a used one shows 200
    "password_reset_confirm": Policy(needs="public", methods=every({200, 302})),
    "password_reset_complete": Policy(needs="public", methods={"GET": {200}}),
    # the FDSN event service is public by default (SEISTRIAGE_FDSN_PUBLIC); 204: nothing accepted matches
    "fdsnws-event-query": Policy(needs="public", methods={"GET": {200, 204}}),
    "fdsnws-event-version": FDSN,
    "fdsnws-event-wadl": FDSN,
    "fdsnws-event-catalogs": FDSN,
    "fdsnws-event-contributors": FDSN,
    # API documentation and tokens
    "api-schema": api(GET={200}),
    "api-docs": api(GET={200}),
    "api-token": api(GET={200}, POST={201}, DELETE={204}),
    # pages
    "queue": page(),
    # the old address redirects every method first (RedirectView); the queue then asks for a login or says 405
    "queue/\\Z": Policy(needs="public", methods=every({301})),
    "event-list": page(),
    "event-detail": page(),
    "event-review": page(),
    "import": page(needs="senior"),
    "plotly-js": Policy(needs="analyst", methods={"GET": {200}}),
    "models": page(302),
    "model-dashboard": page(),
    "learning-informative": page(),
    "learning-mislabelled": page(needs="senior"),
    "learning-labels": page(),
    # GET: the page; POST asks a worker for a draft or (senior analysts, checked in test_bulletins_page.py) to
    # publish: 400 here as the form is empty; others 405
    "bulletins": Policy(needs="analyst", methods={"GET": {200}, "POST": {400}}),
    "bulletin-file": page(),
    # queue, review and workbench API
    "api-event-queue": api(GET={200}),
    "api-event": api(GET={200}),
    "api-event-review": api(POST={400}),
    "api-event-progress": api(GET={200}),
    "api-event-undo": api(POST={200, 404, 409}),  # 404: this user has no decision to undo
    "api-event-review-batch": api(POST={400}),
    "api-event-claim": api(POST={200, 201, 409}, DELETE={200, 204, 403, 404, 409}),
    "api-event-picks": api(POST={400}),  # an empty pick names its fields
    "api-event-presence": api(POST={200, 204}, DELETE={200, 204}),
    "api-presence": api(GET={200}),
    "api-imports": api(needs="senior", POST={400, 415}),
    "api-import-job": api(needs="senior", GET={200}),
    "api-saved-filters": api(GET={200}, POST={400}),
    "api-saved-filter": api(DELETE={204, 404}),
    "api-queue-columns": api(GET={200}, PUT={200, 400}),
    "api-event-waveforms": api(GET={200}),
    "api-event-trace": api(GET={200}),
    "api-event-spectrogram": api(GET={200}),
    # models and the learning loop
    "api-model-dashboard": api(GET={200}),
    "api-model-train": api(needs="senior", POST={202, 409}),
    "api-model-promote": api(needs="senior", POST={200, 400}),
    "api-model-rollback": api(needs="senior", POST={200, 400}),
    "api-training-run": api(GET={200}),
    "api-learning-informative": api(GET={200}),
    "api-learning-mislabelled": api(needs="senior", GET={200}),
    "api-learning-labels": api(GET={200}),
    # bulletins
    "api-bulletins": api(GET={200}, POST={400}, senior_methods=("POST",)),
    "api-bulletin-file": api(GET={200}),
    "api-export": api(GET={400}),
    "api-bulletin-drafts": api(POST={400}),
    # a bulletin job is the senior's: anyone else with a role is told there is none
    "api-bulletin-job": api(GET={200, 404}),
}
# The Django admin: staff only, whatever model is registered; refused users are sent to the admin login. Its
# own views answer every method (PUT renders like GET); the matrix pins who gets in.
ADMIN = Policy(needs="staff", methods=every({200, 302}))
ADMIN_SPECIAL = {
    "admin:login": form("public", get={200, 302}, post={200, 302}),  # 302 once logged in
    "admin:logout": Policy(needs="staff", methods={"POST": {200, 302}}),
    "admin:password_change": form("staff", get={200}, post={200}),
    "admin:password_change_done": Policy(needs="staff", methods={"GET": {200}}),
    "admin:view_on_site": Policy(needs="staff", methods=every({404})),  # users have no page
    "admin:autocomplete": Policy(needs="staff", methods={"GET": {403}}),  # no model named: PermissionDenied
    "admin:jsi18n": Policy(needs="staff", methods={"GET": {200}}),
    "admin:admin/(?P<url>.*)$": Policy(needs="staff", methods=every({404})),  # the catch-all
}


def policy_for(key: str) -> Policy | None:
    if key in ADMIN_SPECIAL:
        return ADMIN_SPECIAL[key]
    if key.startswith("admin:"):
        return ADMIN
    return POLICY.get(key)


# ---- filling the path ----------------------------------------------------------------------------------------


def _path_values(route: Route, world: SecurityWorld) -> dict[str, str]:
    analyst = User.objects.get(username="sec-analyst")  # fresh: a reset token depends on the last login
    group = Group.objects.get(name="analyst")
    admin_object = str(group.pk) if "auth/group" in route.regex else str(analyst.pk)
    return {
        "event_id": str(world.event.pk),
        "seed_id": world.seed_id,
        "bulletin_id": str(world.bulletin.pk),
        "job_id": world.import_job_id,
        "bulletin_job_id": world.bulletin_job_id,
        "saved_filter_id": str(world.saved_filter.pk),
        "run_id": str(world.training_run.pk),
        "kind": world.model.kind,
        "version": world.model.version,
        "uidb64": urlsafe_base64_encode(force_bytes(analyst.pk)),
        "token": default_token_generator.make_token(analyst),
        "object_id": admin_object,
        "id": str(analyst.pk),
        "content_type_id": str(ContentType.objects.get_for_model(User).pk),
        "app_label": "auth",
        "url": "no-such-admin-page/",
    }


def url_for(route: Route, world: SecurityWorld) -> str:
    values = _path_values(route, world)
    template, params = normalize(route.regex)[0]
    missing = [p for p in params if p not in values]
    assert not missing, f"{route.key}: no real value declared for path parameter(s) {missing}"
    return "/" + template % {p: values[p] for p in params}


# ---- the expected answer --------------------------------------------------------------------------------------


def _permitted(policy: Policy, role: str, method: str) -> bool:
    needs = "senior" if method in policy.senior_methods else policy.needs
    if needs == "public":
        return True
    if needs == "login":
        return role != "anonymous"
    if needs == "staff":
        return role == "admin"
    return RANK[role] >= RANK[needs]


def _refusal(policy: Policy, role: str, method: str) -> set[int]:
    if policy.needs == "staff":
        return {302}  # the admin sends everyone who is not staff to its own login page
    if role == "anonymous":
        return {302} if policy.anonymous == "login" else {401, 403}
    return {403}


def expected(policy: Policy, role: str, method: str) -> set[int]:
    """The answers allowed for one role and method."""
    answers = policy.methods.get(method)
    if _permitted(policy, role, method):
        return answers if answers is not None else {405}
    # Refused: the role's refusal; for a method the URL does not answer, 405 may come before the permission check.
    return _refusal(policy, role, method) | ({405} if answers is None else set())


# ---- the tests ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any, shared_data: Path, tmp_path_factory: Any) -> Iterator[Any]:
    with security_world(django_db_blocker, shared_data, tmp_path_factory.mktemp("security")) as built:
        yield built


def _client(world: SecurityWorld, role: str) -> Client:
    client = Client(raise_request_exception=False)
    user = world.users[role]
    if user is not None:
        client.force_login(user)
    return client


def test_every_url_pattern_has_a_declared_policy() -> None:
    undeclared = [route.key for route in ROUTES if policy_for(route.key) is None]
    assert not undeclared, f"declare who may use these URLs in POLICY: {undeclared}"
    stale = sorted((set(POLICY) | set(ADMIN_SPECIAL)) - {route.key for route in ROUTES})
    assert not stale, f"POLICY names URLs the resolver no longer has: {stale}"


def test_the_matrix_covers_the_api_and_the_pages() -> None:
    keys = {route.key for route in ROUTES}
    assert {"api-event-review", "api-bulletins", "api-model-promote", "event-review", "bulletins"} <= keys
    assert len(ROUTES) >= 80


@pytest.mark.parametrize("route", ROUTES, ids=[r.key for r in ROUTES])
def test_each_role_and_method_gets_the_declared_answer(route: Route, world: SecurityWorld) -> None:
    policy = policy_for(route.key)
    assert policy is not None, f"{route.key}: no declared policy"
    url = url_for(route, world)
    wrong = []
    for role in ROLES:
        for method in METHODS:
            response = getattr(_client(world, role), method.lower())(url)
            allowed = expected(policy, role, method)
            if response.status_code not in allowed:
                wrong.append(f"{role} {method} {url}: {response.status_code}, expected {sorted(allowed)}")
            elif response.status_code == 302 and role == "anonymous" and policy.needs not in ("public", "staff"):
                assert re.match(r"^/accounts/login/\?next=", response["Location"]), response["Location"]
    assert not wrong, "\n".join(wrong)


FDSN_DATA = ("fdsnws-event-query", "fdsnws-event-catalogs", "fdsnws-event-contributors")


@pytest.mark.parametrize("route", [r for r in ROUTES if r.key.startswith("fdsnws-")], ids=lambda r: r.key)
def test_a_private_fdsn_service_asks_for_a_login_and_a_role(route: Route, world: SecurityWorld, settings: Any) -> None:
    """SEISTRIAGE_FDSN_PUBLIC=false: the data (query, catalogs, contributors) needs a role; the version and the
    WADL describe only the service and stay open, as clients such as ObsPy's read them before authenticating."""
    settings.SEISTRIAGE_FDSN_PUBLIC = False
    url = url_for(route, world)
    answers = {role: _client(world, role).get(url).status_code for role in ROLES}
    ok = POLICY[route.key].methods["GET"]
    if route.key in FDSN_DATA:
        assert answers["anonymous"] == 401 and answers["outsider"] == 403, answers
        assert {answers[role] for role in ("analyst", "senior", "admin")} <= ok, answers
    else:
        assert set(answers.values()) <= ok, answers
