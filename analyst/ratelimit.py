"""Login rate limiting: after SEISTRIAGE_LOGIN_FAILURES failed logins for one user name from one address within
SEISTRIAGE_LOGIN_WINDOW_SECONDS, further attempts get 429 until the window has passed.

The counts live in the Django cache (shared by every web process with the file or Redis cache); a successful
login clears them. Behind a proxy, REMOTE_ADDR is the proxy: the user name still separates the counts.
"""

import hashlib
import math
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

CACHE_KEY = "seistriage:login-failures:{digest}"


def _key(*, username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}\x00{address}".encode()).hexdigest()
    return CACHE_KEY.format(digest=digest)


def _entry(key: str, now: float) -> tuple[int, float] | None:
    """(failures, end of the window) while the window lasts. The window end is stored with the count because
    the file and memory caches reset an entry's timeout on incr."""
    entry = cache.get(key)
    if not isinstance(entry, (tuple, list)) or len(entry) != 2 or entry[1] <= now:
        return None
    return int(entry[0]), float(entry[1])


def login_failures_get(*, username: str, address: str) -> int:
    entry = _entry(_key(username=username, address=address), time.time())
    return entry[0] if entry is not None else 0


def login_failure_record(*, username: str, address: str) -> int:
    """Count one failed login; the window starts at the first failure. (Two failures at the same instant in two
    processes may count once: the limit is a brake on guessing, not an exact tally.)"""
    key = _key(username=username, address=address)
    now = time.time()
    count, until = _entry(key, now) or (0, now + settings.SEISTRIAGE_LOGIN_WINDOW_SECONDS)
    cache.set(key, (count + 1, until), timeout=max(1, math.ceil(until - now)))
    return count + 1


def login_failures_reset(*, username: str, address: str) -> None:
    cache.delete(_key(username=username, address=address))


def _address(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


class RateLimitedLoginView(LoginView):
    """Django's login view with a per user name and address limit on failed attempts."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "")
        limit = settings.SEISTRIAGE_LOGIN_FAILURES
        if username and login_failures_get(username=username, address=_address(request)) >= limit:
            minutes = max(1, round(settings.SEISTRIAGE_LOGIN_WINDOW_SECONDS / 60))
            context = self.get_context_data(
                form=self.get_form(),
                rate_limited=f"Too many failed logins for this user name: try again in {minutes} minutes.",
            )
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        username = self.request.POST.get("username", "")
        if username and self.request.POST.get("password"):
            login_failure_record(username=username, address=_address(self.request))
        return super().form_invalid(form)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        login_failures_reset(username=form.get_user().get_username(), address=_address(self.request))
        return super().form_valid(form)


def login_rate_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The same limit around a login view we do not own (the Django admin's): a refused attempt is the form shown
    again (200) to a POST naming a user and a password, a success is a redirect with a logged-in user."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        username, address = request.POST.get("username", ""), _address(request)
        if username and login_failures_get(username=username, address=address) >= settings.SEISTRIAGE_LOGIN_FAILURES:
            minutes = max(1, round(settings.SEISTRIAGE_LOGIN_WINDOW_SECONDS / 60))
            message = f"Too many failed logins for this user name: try again in {minutes} minutes.\n"
            return HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
        response = view(request, *args, **kwargs)
        if response.status_code == 200 and username and request.POST.get("password"):
            login_failure_record(username=username, address=address)
        elif response.status_code == 302 and request.user.is_authenticated:
            login_failures_reset(username=request.user.get_username(), address=address)
        return response

    return wrapped


REQUEST_RATE_KEY = "seistriage:request-rate:{scope}:{digest}:{minute}"


def client_address(request: HttpRequest) -> str:
    """The address requests are counted by (REMOTE_ADDR: behind a proxy, the proxy's)."""
    return _address(request)


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
