"""The bulletins page: analysts download drafts (streamed, not recorded), senior analysts publish
(the file kept with its SHA-256 and downloadable again byte for byte); an outsider gets 403."""

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from analyst.api.bulletins import (
    BulletinRequestSerializer,
    bulletin_publish_from,
    draft_response,
    stored_file_response,
)
from analyst.bulletins.selection import bulletin_get, bulletins_published
from analyst.bulletins.services import (
    STATUS_CHOICES,
)
from analyst.bulletins.writers import BULLETIN_FORMATS
from analyst.roles import user_is_senior_analyst
from analyst.views.events import analyst_required
from events.vocabulary import QUAKEML_EVENT_TYPES


def _page(request: HttpRequest, form: BulletinRequestSerializer | None, status_code: int = 200) -> HttpResponse:
    return render(
        request,
        "analyst/bulletins.html",
        {
            "formats": BULLETIN_FORMATS,
            "statuses": tuple(STATUS_CHOICES),
            "event_types": QUAKEML_EVENT_TYPES,
            "bulletins": bulletins_published(),
            "senior": user_is_senior_analyst(request.user),
            "errors": form.errors if form is not None else {},
            "values": request.POST or request.GET,
        },
        status=status_code,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@analyst_required
def bulletins_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not user_is_senior_analyst(request.user):
            raise PermissionDenied("publishing needs the senior analyst role")
        form = BulletinRequestSerializer(data=request.POST)
        if not form.is_valid():
            return _page(request, form, 400)
        assert isinstance(request.user, User)
        bulletin_publish_from(form.validated_data, request.user)
        return redirect("bulletins")
    return _page(request, None)


@require_safe
@analyst_required  # type: ignore[arg-type]  # its type says HttpResponse; streamed and file responses pass too
def bulletin_draft_download(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    form = BulletinRequestSerializer(data=request.GET)
    if not form.is_valid():
        return _page(request, form, 400)
    assert isinstance(request.user, User)
    return draft_response(form.validated_data, request.user)


@require_safe
@analyst_required  # type: ignore[arg-type]
def bulletin_file_download(request: HttpRequest, bulletin_id: int) -> FileResponse:
    bulletin = bulletin_get(bulletin_id=bulletin_id)
    if bulletin is None:
        raise Http404(f"no bulletin {bulletin_id}")
    return stored_file_response(bulletin)
