"""The analyst's workbench pages: the queue and the event review page (small JS files call the review API)."""

from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict

import plotly
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_safe

from analyst.api.serializers import claim_data
from analyst.commit_buttons import commit_buttons_configured
from analyst.ingest.uploads import ALLOWED_SUFFIXES
from analyst.models import SavedFilter
from analyst.picks import WORKBENCH_PICK_METHOD
from analyst.preferences import queue_columns_get, saved_filters_get
from analyst.presence import presence_heartbeat_seconds
from analyst.roles import user_is_senior_analyst
from analyst.selectors.event_map import event_map_get
from analyst.selectors.evidence_marks import event_station_evidence
from analyst.selectors.queue import QUEUE_COLUMNS, QUEUE_ORDERINGS, event_evidence_get
from analyst.selectors.waveforms import event_cnn_panel
from analyst.views.events import analyst_required
from events.models import Event
from events.vocabulary import QUAKEML_EVENT_TYPES, ReviewState
from ranking.ml.classes import DECISION_CLASSES, decision_class_for
from ranking.models import EventScore
from waveforms.processing import FILTER_PRESETS

# Number keys on the review page set these types (the most common decisions first).
TYPE_KEYS = (
    "earthquake",
    "quarry blast",
    "mining explosion",
    "explosion",
    "chemical explosion",
    "nuclear explosion",
    "landslide",
    "ice quake",
    "other event",
)
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
# Filter presets of the queue on number keys (the user's saved views follow on the next free keys).
QUEUE_PRESETS = (
    ("Unreviewed", "review_state=new,scored"),
    ("Likely false", "predicted_class=not_existing&review_state=new,scored"),
    ("Explosion-like", "predicted_class=explosion_like&hide_false=true"),
    ("Claimed by me", "claimed_by=me"),
)
MAX_PRESET_KEYS = 9


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _queue_presets(saved: list[SavedFilter]) -> list[dict[str, str]]:
    presets = [{"name": name, "query": query} for name, query in QUEUE_PRESETS]
    presets += [{"name": item.name, "query": item.query} for item in saved]
    return [{"key": str(number), **preset} for number, preset in enumerate(presets[:MAX_PRESET_KEYS], start=1)]


@require_safe
@analyst_required
def queue_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    saved = saved_filters_get(user=user)
    presets = _queue_presets(saved)
    return render(
        request,
        "analyst/queue.html",
        {
            "columns": QUEUE_COLUMNS,
            "chosen_columns": queue_columns_get(user=user),
            "sortable": [key for key in QUEUE_COLUMNS if key in QUEUE_ORDERINGS or key == "rank"],
            "event_types": QUAKEML_EVENT_TYPES,
            "review_states": ReviewState.choices,
            "decision_classes": DECISION_CLASSES,
            "saved_filters": saved,
            "presets": presets,
            "params": request.GET,
            "page_config": {
                "presets": presets,
                "me": user.get_username(),
                # event type -> decision class, for the type column's symbol and colour
                "typeClasses": {name: decision_class_for(name) or "other" for name in QUAKEML_EVENT_TYPES},
            },
            "can_import": user_is_senior_analyst(user),
        },
    )


@require_safe
@analyst_required
def event_review_page(request: HttpRequest, event_id: int) -> HttpResponse:
    try:
        event = event_evidence_get(event_id=event_id)
    except Event.DoesNotExist:
        raise Http404(f"no event {event_id}") from None
    latest = getattr(event, "latest_scores", [])
    score = latest[0] if latest else None
    buttons = [button.as_dict() for button in commit_buttons_configured()]
    # ?walk=<list> names the list the event was opened from (static/js/walk.js walks it); the rest is the queue's
    queue = request.GET.copy()
    queue.pop("walk", None)
    return render(
        request,
        "analyst/event_review.html",
        {
            "event": event,
            "score": score,
            "ml": _ml_panel(score) if score is not None else None,
            "cnn": event_cnn_panel(event_id=event.pk, ranker=score.class_probabilities if score else None),
            "commit_buttons": buttons,
            "filter_presets": list(FILTER_PRESETS),
            "map_figure": event_map_get(event=event),
            "claim": claim_data(getattr(event, "claim", None)),
            "origins": event.origins.all(),
            "picks": event.picks.all(),
            "workbench_pick_method": WORKBENCH_PICK_METHOD,
            "station_evidence": event_station_evidence(event=event),
            "history": event.audit_entries.all(),
            "type_keys": list(enumerate(TYPE_KEYS, start=1)),
            "event_types": QUAKEML_EVENT_TYPES,
            "queue_query": queue.urlencode(),
            "page_config": {
                "event": event.pk,
                "version": event.version,
                "eventType": event.event_type,
                "certainty": event.event_type_certainty or "known",
                "queueQuery": queue.urlencode(),
                "typeKeys": list(TYPE_KEYS),
                "heartbeatSeconds": max(10, min(60, settings.SEISTRIAGE_CLAIM_SECONDS // 3)),
                "presenceSeconds": presence_heartbeat_seconds(),
                "commitButtons": buttons,
                "me": _user(request).get_username(),
            },
        },
    )


@require_safe
@login_required
def import_page(request: HttpRequest) -> HttpResponse:
    if not user_is_senior_analyst(request.user):
        raise PermissionDenied("importing files needs the senior analyst or admin role")
    return render(
        request,
        "analyst/import.html",
        {
            "max_bytes": settings.SEISTRIAGE_MAX_UPLOAD_BYTES,
            "suffixes": {kind: ", ".join(endings) for kind, endings in ALLOWED_SUFFIXES.items()},
            "accept": {kind: ",".join(endings) for kind, endings in ALLOWED_SUFFIXES.items()},
        },
    )


class ClassBar(TypedDict):
    name: str
    probability: float
    percent: int
    weight: float | None
    contribution: float | None


class MlPanel(TypedDict):
    classes: list[ClassBar]
    reasons: list[dict[str, Any]]  # the stored explanation's items (feature, effect, direction...) and a percent
    words: str


def _ml_panel(score: EventScore) -> MlPanel:
    """The ranker's evidence in words and bars: class probabilities with their weights, and the features
    that moved the importance most (bar length relative to the strongest)."""
    weights = score.class_weights or {}
    probabilities = sorted((score.class_probabilities or {}).items(), key=lambda item: -item[1])
    classes: list[ClassBar] = [
        {
            "name": name,
            "probability": value,
            "percent": round(100 * value),
            "weight": weights.get(name),
            "contribution": None if weights.get(name) is None else weights[name] * value,
        }
        for name, value in probabilities
    ]
    explanation = list(score.explanation or [])
    strongest = max((abs(item.get("effect") or 0.0) for item in explanation), default=0.0) or 1.0
    reasons = [{**item, "percent": round(100 * abs(item.get("effect") or 0.0) / strongest)} for item in explanation]
    words = ""
    if classes:
        top = classes[0]
        words = f"Most likely {top['name'].replace('_', ' ')} ({top['percent']}%)"
        if reasons:
            first = reasons[0]
            words += f"; {first['feature'].replace('_', ' ')} {first['direction']} the importance most"
            words += f" ({first['effect']:+.2f})"
        words += "."
    return {"classes": classes, "reasons": reasons, "words": words}


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
