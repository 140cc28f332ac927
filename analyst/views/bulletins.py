"""The bulletins page: analysts ask a worker for drafts, senior analysts ask it to publish (the file kept with its
SHA-256 and downloadable again byte for byte); the page lists the user's bulletin jobs and polls the unfinished
ones (static/js/bulletins.js) until the file is there. An outsider gets 403."""

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from analyst.api.bulletins import BulletinRequestSerializer, bulletin_job_from, stored_file_response
from analyst.bulletins.jobs import bulletin_jobs_recent
from analyst.bulletins.selection import bulletin_get, bulletins_published
from analyst.bulletins.services import STATUS_CHOICES
from analyst.bulletins.writers import BULLETIN_FORMATS
from analyst.roles import user_is_senior_analyst
from analyst.views.events import analyst_required
from events.vocabulary import QUAKEML_EVENT_TYPES

ACTIONS = ("draft", "publish")


def _page(request: HttpRequest, errors: dict[str, list[str]] | None = None, status_code: int = 200) -> HttpResponse:
    assert isinstance(request.user, User)
    return render(
        request,
        "analyst/bulletins.html",
        {
            "formats": BULLETIN_FORMATS,
            "statuses": tuple(STATUS_CHOICES),
            "event_types": QUAKEML_EVENT_TYPES,
            "bulletins": bulletins_published(),
            "jobs": bulletin_jobs_recent(user=request.user),
            "senior": user_is_senior_analyst(request.user),
            "errors": errors or {},
            "values": request.POST or request.GET,
        },
        status=status_code,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@analyst_required
def bulletins_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request)
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        return _page(request, {"action": ["choose Build draft or Publish"]}, 400)
    if action == "publish" and not user_is_senior_analyst(request.user):
        raise PermissionDenied("publishing needs the senior analyst role")
    form = BulletinRequestSerializer(data=request.POST)
    if not form.is_valid():
        return _page(request, {field: [str(m) for m in messages] for field, messages in form.errors.items()}, 400)
    assert isinstance(request.user, User)
    job = bulletin_job_from(form.validated_data, request.user, published=action == "publish")
    # 303: the browser follows with a GET, so a reload does not ask for the bulletin again
    response = HttpResponse(status=303)
    response["Location"] = f"{reverse('bulletins')}#job-{job['id']}"
    return response


@require_safe
@analyst_required  # type: ignore[arg-type]  # its type says HttpResponse; a file response passes too
def bulletin_file_download(request: HttpRequest, bulletin_id: int) -> FileResponse:
    bulletin = bulletin_get(bulletin_id=bulletin_id)
    if bulletin is None:
        raise Http404(f"no bulletin {bulletin_id}")
    assert isinstance(request.user, User)
    return stored_file_response(bulletin, request.user)
