from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from analyst.roles import user_is_analyst
from analyst.selectors import event_detail_get, event_list_page

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
    page = event_list_page(page_number=request.GET.get("page", "1"))
    return render(request, "analyst/event_list.html", {"page": page})


@require_safe
@analyst_required
def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    return render(request, "analyst/event_detail.html", event_detail_get(event_id=event_id))
