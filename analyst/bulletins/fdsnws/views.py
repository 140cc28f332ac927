"""fdsnws-event 1.2 endpoints: query, version, application.wadl, catalogs, contributors.

Public-read by default (SEISTRIAGE_FDSN_PUBLIC), serving only the events SEISTRIAGE_FDSN_EVENTS allows.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET

from analyst.bulletins.fdsnws.params import PARAMETERS, FdsnParameterError, fdsn_query_parse, served_review_states
from analyst.bulletins.fdsnws.services import fdsn_quakeml_answer, fdsn_text_answer
from analyst.bulletins.selection import events_select
from analyst.roles import user_is_analyst
from analyst.web.ratelimit import client_address, request_rate_limited
from events.models import Event

logger = logging.getLogger(__name__)

SERVICE_VERSION = "1.2.0"
View = Callable[[HttpRequest], HttpResponseBase]


def _error(request: HttpRequest, status: int, title: str, detail: str) -> HttpResponse:
    body = (
        f"Error {status}: {title}\n\n{detail}\n\nUsage details are available from "
        f"{request.build_absolute_uri('/fdsnws/event/1/')}\n\nRequest:\n{request.build_absolute_uri()}\n\n"
        f"Request Submitted:\n{timezone.now().isoformat()}\n\nService version:\n{SERVICE_VERSION}\n"
    )
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


def fdsn_access(view: View) -> View:
    """Public unless SEISTRIAGE_FDSN_PUBLIC is off; then only users with a Seistriage role."""

    def wrapped(request: HttpRequest) -> HttpResponseBase:
        if not settings.SEISTRIAGE_FDSN_PUBLIC and not user_is_analyst(request.user):
            return _error(
                request,
                401 if not request.user.is_authenticated else 403,
                "Unauthorized",
                "this service needs a Seistriage login",
            )
        return view(request)

    return wrapped


@require_GET
@fdsn_access
def query(request: HttpRequest) -> HttpResponseBase:
    if not request.user.is_authenticated:
        retry_after = request_rate_limited(
            scope="fdsnws-query",
            address=client_address(request),
            per_minute=settings.SEISTRIAGE_FDSN_ANONYMOUS_PER_MINUTE,
        )
        if retry_after is not None:
            response = _error(
                request,
                429,
                "Too Many Requests",
                f"more than {settings.SEISTRIAGE_FDSN_ANONYMOUS_PER_MINUTE} queries a minute from this address; "
                f"try again in {retry_after} s",
            )
            response["Retry-After"] = str(retry_after)
            return response
    try:
        parsed = fdsn_query_parse({name: request.GET[name] for name in request.GET})
    except FdsnParameterError as error:
        return _error(request, 400, "Bad Request", str(error))
    criteria = parsed.criteria
    maximum = settings.SEISTRIAGE_FDSN_MAX_EVENTS
    if criteria.limit is not None and criteria.limit > maximum:
        return _error(request, 413, "Request too large", f"limit: may be at most {maximum}")
    matching = events_select(criteria=criteria)[criteria.offset : criteria.offset + (criteria.limit or maximum + 1)]
    count = matching.count()
    if criteria.limit is None and count > maximum:
        return _error(
            request,
            413,
            "Request too large",
            f"more than {maximum} events match: narrow the query (starttime, endtime, minmagnitude, a region) "
            f"or page through it with limit (at most {maximum}) and offset",
        )
    if count == 0:
        if parsed.nodata == 404:
            return _error(request, 404, "Not Found", "no events match the request")
        return HttpResponse(status=204)
    # The whole answer is written before the first byte goes out: a writer that fails answers 500 with the
    # reason, never a 200 cut short, and the client gets a Content-Length to check what it received.
    try:
        if parsed.format == "text":
            answer, content_type = fdsn_text_answer(query=parsed), "text/plain; charset=utf-8"
        else:
            answer = fdsn_quakeml_answer(query=parsed, request_url=request.build_absolute_uri())
            content_type = "application/xml"
    except Exception as error:
        logger.exception("FDSN event query %s could not be answered", request.get_full_path())
        return _error(request, 500, "Internal Server Error", f"the answer could not be written: {error}")
    return FileResponse(answer, content_type=content_type)


@require_GET
def version(request: HttpRequest) -> HttpResponse:
    return HttpResponse(SERVICE_VERSION, content_type="text/plain")


@require_GET
def application_wadl(request: HttpRequest) -> HttpResponse:
    base = request.build_absolute_uri("/fdsnws/event/1/")
    body = render_to_string("fdsnws/application.wadl", {"base": base, "parameters": PARAMETERS})
    return HttpResponse(body, content_type="application/xml")


@require_GET
@fdsn_access
def catalogs(request: HttpRequest) -> HttpResponse:
    body = render_to_string(
        "fdsnws/list.xml", {"root": "Catalogs", "item": "Catalog", "values": [settings.SEISTRIAGE_AGENCY_ID]}
    )
    return HttpResponse(body, content_type="application/xml")


@require_GET
@fdsn_access
def contributors(request: HttpRequest) -> HttpResponse:
    values = (
        Event.objects.filter(review_state__in=served_review_states())
        .exclude(agency_id="")
        .values_list("agency_id", flat=True)
        .distinct()
        .order_by("agency_id")
    )
    body = render_to_string("fdsnws/list.xml", {"root": "Contributors", "item": "Contributor", "values": values})
    return HttpResponse(body, content_type="application/xml")
