from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_safe

from analyst.roles import user_is_analyst
from analyst.selectors.events import EventListError, event_detail_get, event_list_page
from analyst.web.disclosure import path_public
from analyst.web.parameters import ParameterError, integer_parse
from events.vocabulary import ReviewState

View = Callable[..., HttpResponse]


def analyst_required(view: View) -> View:
    """Log in first; then a user without a role gets 403, not a glimpse of the catalogue."""

    @login_required
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not user_is_analyst(request.user):
            raise PermissionDenied("no Seistriage role")
        return view(request, *args, **kwargs)

    return wrapped


@require_safe
@analyst_required
def event_list(request: HttpRequest) -> HttpResponse:
    positions: dict[str, int] = {}
    for name in ("after", "before"):
        raw = request.GET.get(name, "")
        if raw:
            try:
                positions[name] = integer_parse(name=name, raw=raw)
            except ParameterError as error:
                return HttpResponseBadRequest(f"{error} (an event id)", content_type="text/plain")
    if len(positions) > 1:
        return HttpResponseBadRequest("give after or before, not both", content_type="text/plain")
    try:
        page = event_list_page(**positions)
    except EventListError as error:
        raise Http404(str(error)) from None
    states = dict(ReviewState.choices)
    rows = [{**row, "review_state_label": states.get(row["review_state"], row["review_state"])} for row in page.rows]
    return render(request, "analyst/event_list.html", {"page": page, "rows": rows, "first_page": not positions})


@require_safe
@analyst_required
def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    detail = event_detail_get(event_id=event_id)
    # the file name (relative to the data folders), never the server's absolute path
    source = path_public(detail["event"].source_file) if detail["event"].source_file else ""
    return render(request, "analyst/event_detail.html", {**detail, "source_name": source})
