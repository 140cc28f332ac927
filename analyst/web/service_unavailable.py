"""A database, cache or broker that is down answers 503 "try again", not a 500 with a trace.

While PostgreSQL or Redis restarts, a request's query (django.db.OperationalError / InterfaceError), cache call
(redis.exceptions.ConnectionError / TimeoutError) or task sent to the broker (kombu's OperationalError) fails.
The view's exception reaches `process_exception`, which logs one line (no stack trace) and answers 503 with
Retry-After: JSON under /api/, a short plain page elsewhere. Django then drops the broken database connection at
the end of the request, and the next request reconnects (CONN_HEALTH_CHECKS), so the process recovers by itself.
"""

import logging
from collections.abc import Callable

import kombu.exceptions
import redis.exceptions
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

UNAVAILABLE = "service temporarily unavailable, try again"
RETRY_AFTER_S = 5
SERVICE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
)


def service_error_response(*, request: HttpRequest, error: BaseException) -> HttpResponse:
    """The 503 answer for a request whose database, cache or broker failed; logs one line without a trace."""
    first_line = (str(error).strip().splitlines() or [""])[0][:300]
    logger.warning(
        "503 for %s %s: %s.%s: %s",
        request.method,
        request.path,
        type(error).__module__,
        type(error).__name__,
        first_line,
    )
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": UNAVAILABLE}, status=503)
    else:
        page = f"<!doctype html><title>Unavailable</title><h1>503</h1><p>The {UNAVAILABLE}.</p>"
        response = HttpResponse(page, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


class ServiceUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, SERVICE_ERRORS):
            return service_error_response(request=request, error=exception)
        return None
