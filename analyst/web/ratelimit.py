"""Login rate limiting, two counters per failed login:

- per (client address, user name): SEISTRIAGE_LOGIN_FAILURES failures within SEISTRIAGE_LOGIN_WINDOW_SECONDS close
  the name to that address (429) until the window has passed; a successful login clears it;
- per user name, from every address: SEISTRIAGE_LOGIN_NAME_FAILURES failures within
  SEISTRIAGE_LOGIN_NAME_WINDOW_SECONDS close the name everywhere (the brake on guessing from many addresses; it
  is much slower, so one address cannot lock a user out for everybody).

The name-wide lock would still let anyone lock an account out for everybody, slowly. So a browser that has logged
in as that name before (a "known device": a signed cookie set by a successful login, SEISTRIAGE_KNOWN_DEVICE_DAYS
long) is not held by the name-wide lock: its right password logs in, its wrong ones still count, and the
per-(address, name) limit holds for it as for everybody.

The user name is counted as Django authenticates it: NFKC-normalised (``UsernameField``), and case-folded, so
``ⅴictim`` or ``ｖｉｃｔｉｍ`` share the count of ``victim``. The client address is REMOTE_ADDR, or behind the
TLS proxy the last entry of the header named by SEISTRIAGE_CLIENT_ADDRESS_HEADER (the one the proxy itself
writes: nginx ``$proxy_add_x_forwarded_for`` appends the address it saw). The counts live in the Django cache,
shared by every web process with the file or Redis cache.
"""

import datetime as dt
import hashlib
import math
import time
import unicodedata
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase

CACHE_KEY = "seistriage:login-failures:{digest}"
NAME_CACHE_KEY = "seistriage:login-name-failures:{digest}"


def login_name_normalise(username: str) -> str:
    """The user name as the login form resolves it (NFKC), case-folded and stripped: one count per account."""
    return unicodedata.normalize("NFKC", username).casefold().strip()


def _key(*, username: str, address: str) -> str:
    digest = hashlib.sha256(f"{login_name_normalise(username)}\x00{address}".encode()).hexdigest()
    return CACHE_KEY.format(digest=digest)


def _name_key(*, username: str) -> str:
    return NAME_CACHE_KEY.format(digest=hashlib.sha256(login_name_normalise(username).encode()).hexdigest())


def _entry(key: str, now: float) -> tuple[int, float] | None:
    """(failures, end of the window) while the window lasts. The window end is stored with the count because
    the file and memory caches reset an entry's timeout on incr."""
    entry = cache.get(key)
    if not isinstance(entry, (tuple, list)) or len(entry) != 2 or entry[1] <= now:
        return None
    return int(entry[0]), float(entry[1])


def _count(key: str) -> int:
    entry = _entry(key, time.time())
    return entry[0] if entry is not None else 0


def _record(key: str, window: int) -> int:
    now = time.time()
    count, until = _entry(key, now) or (0, now + window)
    cache.set(key, (count + 1, until), timeout=max(1, math.ceil(until - now)))
    return count + 1


def login_failures_get(*, username: str, address: str) -> int:
    """Failures of this user name from this address in the current window."""
    return _count(_key(username=username, address=address))


def login_name_failures_get(*, username: str) -> int:
    """Failures of this user name from every address in the current (slower) name-wide window."""
    return _count(_name_key(username=username))


def login_failure_record(*, username: str, address: str) -> int:
    """Count one failed login on both counters; each window starts at its first failure. (Two failures at the
    same instant in two processes may count once: the limit is a brake on guessing, not an exact tally.)"""
    _record(_name_key(username=username), settings.SEISTRIAGE_LOGIN_NAME_WINDOW_SECONDS)
    return _record(_key(username=username, address=address), settings.SEISTRIAGE_LOGIN_WINDOW_SECONDS)


def login_failures_reset(*, username: str, address: str) -> None:
    """Clear the (address, name) count and the name-wide count (operators and tests)."""
    cache.delete_many([_key(username=username, address=address), _name_key(username=username)])


KNOWN_DEVICE_COOKIE = "seistriage_known_device"
_KNOWN_DEVICE_SALT = "seistriage.login.known-device"
_KNOWN_DEVICE_NAMES = 5  # a shared workstation remembers the last few accounts


def _known_device_names(request: HttpRequest) -> list[str]:
    """The (normalised) user names that logged in from this browser before; [] without a valid signed cookie."""
    try:
        value = request.get_signed_cookie(
            KNOWN_DEVICE_COOKIE,
            salt=_KNOWN_DEVICE_SALT,
            max_age=dt.timedelta(days=settings.SEISTRIAGE_KNOWN_DEVICE_DAYS),
        )
    except (KeyError, signing.BadSignature):
        return []
    return [name for name in (value or "").split("\n") if name]


def login_known_device(*, request: HttpRequest, username: str) -> bool:
    """Whether this browser logged in as this user name before (its signed cookie names it)."""
    return login_name_normalise(username) in _known_device_names(request)


def known_device_remember(*, request: HttpRequest, response: HttpResponseBase, username: str) -> None:
    """After a successful login: sign this browser's cookie so the name-wide lock lets it through next time."""
    name = login_name_normalise(username)
    names = [name, *(known for known in _known_device_names(request) if known != name)][:_KNOWN_DEVICE_NAMES]
    response.set_signed_cookie(
        KNOWN_DEVICE_COOKIE,
        "\n".join(names),
        salt=_KNOWN_DEVICE_SALT,
        max_age=settings.SEISTRIAGE_KNOWN_DEVICE_DAYS * 86400,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def login_limit_message(*, username: str, address: str, known_device: bool = False) -> str | None:
    """Why a login for this name from this address is refused now, or None when it may be tried. A known
    device (see login_known_device) is held by the per-address limit only."""
    if login_failures_get(username=username, address=address) >= settings.SEISTRIAGE_LOGIN_FAILURES:
        minutes = max(1, round(settings.SEISTRIAGE_LOGIN_WINDOW_SECONDS / 60))
        return f"Too many failed logins for this user name: try again in {minutes} minutes."
    if known_device:
        return None
    if login_name_failures_get(username=username) >= settings.SEISTRIAGE_LOGIN_NAME_FAILURES:
        minutes = max(1, round(settings.SEISTRIAGE_LOGIN_NAME_WINDOW_SECONDS / 60))
        return f"Too many failed logins for this user name from many addresses: try again in {minutes} minutes."
    return None


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the last entry of the trusted proxy's header when one is set."""
    header = settings.SEISTRIAGE_CLIENT_ADDRESS_HEADER
    if header:
        entries = [part.strip() for part in str(request.META.get(header, "")).split(",") if part.strip()]
        if entries:
            return entries[-1]
    return str(request.META.get("REMOTE_ADDR", ""))


class RateLimitedLoginView(LoginView):
    """Django's login view with the failed-login limits."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "")
        known = login_known_device(request=request, username=username)
        refused = username and login_limit_message(
            username=username, address=client_address(request), known_device=known
        )
        if refused:
            context = self.get_context_data(form=self.get_form(), rate_limited=refused)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        username = self.request.POST.get("username", "")
        if username and self.request.POST.get("password"):
            login_failure_record(username=username, address=client_address(self.request))
        return super().form_invalid(form)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        # The pair's count only: a success from one address does not wipe the name-wide count of the others.
        username = form.get_user().get_username()
        cache.delete(_key(username=username, address=client_address(self.request)))
        response = super().form_valid(form)
        known_device_remember(request=self.request, response=response, username=username)
        return response


def login_rate_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The same limits around a login view we do not own (the Django admin's): a refused attempt is the form
    shown again (200) to a POST naming a user and a password, a success is a redirect with a logged-in user."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        username, address = request.POST.get("username", ""), client_address(request)
        known = login_known_device(request=request, username=username)
        refused = username and login_limit_message(username=username, address=address, known_device=known)
        if refused:
            return HttpResponse(refused + "\n", status=429, content_type="text/plain; charset=utf-8")
        response = view(request, *args, **kwargs)
        if response.status_code == 200 and username and request.POST.get("password"):
            login_failure_record(username=username, address=address)
        elif response.status_code == 302 and request.user.is_authenticated:
            cache.delete(_key(username=request.user.get_username(), address=address))
            known_device_remember(request=request, response=response, username=request.user.get_username())
        return response

    return wrapped


REQUEST_RATE_KEY = "seistriage:request-rate:{scope}:{digest}:{minute}"


def request_rate_limited(*, scope: str, address: str, per_minute: int) -> int | None:
    """Count one request from ``address`` to ``scope`` in the current minute; past ``per_minute`` (0: no limit)
    return the seconds until the next minute starts (for Retry-After), else None. The counter is an atomic
    increment in the shared cache, so every web process counts into the same minute."""
    if per_minute <= 0:
        return None
    now = time.time()
    minute = int(now // 60)
    digest = hashlib.sha256(address.encode()).hexdigest()
    key = REQUEST_RATE_KEY.format(scope=scope, digest=digest, minute=minute)
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: this request starts the count
        cache.set(key, 1, timeout=120)
        count = 1
    if count > per_minute:
        return max(1, math.ceil((minute + 1) * 60 - now))
    return None
