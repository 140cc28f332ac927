"""The analyst's workbench pages: the queue and the event review page (small JS files call the review API)."""

from functools import lru_cache
from pathlib import Path

import plotly
from django.conf import settings
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from analyst.api.serializers import claim_data
from analyst.models import Event, SavedFilter
from analyst.preferences import queue_columns_get
from analyst.selectors_queue import QUEUE_COLUMNS, QUEUE_ORDERINGS, event_evidence_get
from analyst.views import analyst_required
from analyst.vocabulary import QUAKEML_EVENT_TYPES, ReviewState
from ranking.classes import DECISION_CLASSES

# Number keys on the review page set these types (the most common decisions first).
TYPE_KEYS = (
    "earthquake", "quarry blast", "mining explosion", "explosion", "chemical explosion", "nuclear explosion",
    "landslide", "ice quake", "other event",
)  # fmt: skip
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@analyst_required
def queue_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return render(request, "analyst/queue.html", {
        "columns": QUEUE_COLUMNS,
        "chosen_columns": queue_columns_get(user=user),
        "sortable": [key for key in QUEUE_COLUMNS if key in QUEUE_ORDERINGS or key == "rank"],
        "event_types": QUAKEML_EVENT_TYPES,
        "review_states": ReviewState.choices,
        "decision_classes": DECISION_CLASSES,
        "saved_filters": SavedFilter.objects.filter(user=user).order_by("name"),
        "params": request.GET,
    })  # fmt: skip


@analyst_required
def event_review_page(request: HttpRequest, event_id: int) -> HttpResponse:
    try:
        event = event_evidence_get(event_id=event_id)
    except Event.DoesNotExist:
        raise Http404(f"no event {event_id}") from None
    latest = getattr(event, "latest_scores", [])
    score = latest[0] if latest else None
    probabilities = sorted((score.class_probabilities or {}).items(), key=lambda item: -item[1]) if score else []
    return render(request, "analyst/event_review.html", {
        "event": event,
        "score": score,
        "probabilities": [(name, value, round(100 * value)) for name, value in probabilities],
        "claim": claim_data(getattr(event, "claim", None)),
        "origins": event.origins.all(),
        "picks": event.picks.all(),
        "history": event.audit_entries.all(),
        "type_keys": list(enumerate(TYPE_KEYS, start=1)),
        "event_types": QUAKEML_EVENT_TYPES,
        "queue_query": request.GET.urlencode(),
        "page_config": {
            "event": event.pk,
            "version": event.version,
            "eventType": event.event_type,
            "certainty": event.event_type_certainty or "known",
            "queueQuery": request.GET.urlencode(),
            "typeKeys": list(TYPE_KEYS),
            "heartbeatSeconds": max(10, min(60, settings.SEISTRIAGE_CLAIM_SECONDS // 3)),
            "me": _user(request).get_username(),
        },
    })  # fmt: skip


@lru_cache(maxsize=1)
def _plotly_js_bytes() -> bytes:
    return PLOTLY_JS.read_bytes()


@require_GET
@analyst_required
def plotly_js(request: HttpRequest) -> HttpResponse:
    """plotly.js straight from the installed plotly package: served locally, never copied, never a CDN."""
    response = HttpResponse(_plotly_js_bytes(), content_type="text/javascript")
    response["Cache-Control"] = "private, max-age=86400"
    return response
