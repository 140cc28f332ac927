"""The model pages: dashboards per model kind, runs, promotion, active learning.

Everyone with a role reads; only a senior analyst starts runs, promotes, rolls back or sees the likely
mislabelled events; an outsider gets 403.
"""

import logging
from typing import TYPE_CHECKING, TypedDict

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from analyst.roles import user_is_senior_analyst
from analyst.views.events import analyst_required
from ranking.models import ModelVersion
from ranking.ranking_evidence import ranking_evidence_get
from ranking.registry import ModelArtifactError, model_version_active
from ranking.selectors import (
    ModelDashboard,
    event_label_decisions,
    events_likely_mislabelled,
    events_most_informative,
    label_agreement,
    model_dashboard_get,
)

if TYPE_CHECKING:  # the network module imports Keras: loaded only where the CNN page needs it
    from ranking.ml.cnn.network import FirstLayerFilters

logger = logging.getLogger(__name__)


def _kind(kind: str) -> str:
    if kind not in ModelVersion.Kind.values:
        raise Http404(f"no model kind {kind!r}")
    return kind


class ModelPage(ModelDashboard):
    filters: "FirstLayerFilters | ModelFiltersError | None"  # the active CNN's first layer; None for the ranker


class ModelFiltersError(TypedDict):
    error: str


def _cnn_filters(kind: str) -> "FirstLayerFilters | ModelFiltersError | None":
    """The active CNN's first-layer filters (waveforms and responses); None without an active CNN."""
    active = model_version_active(kind=kind)
    if kind != ModelVersion.Kind.CNN or active is None:
        return None
    from ranking.cnn_runs import cnn_model_page_data

    try:
        return cnn_model_page_data(model_version=active)["filters"]
    except ModelArtifactError as error:
        return {"error": str(error)}


@require_safe
@analyst_required
def models_index(request: HttpRequest) -> HttpResponse:
    return redirect("model-dashboard", kind=ModelVersion.Kind.RANKER)


@require_safe
@analyst_required
def model_dashboard_page(request: HttpRequest, kind: str) -> HttpResponse:
    data: ModelPage = {**model_dashboard_get(kind=_kind(kind)), "filters": _cnn_filters(kind)}
    return render(
        request,
        "analyst/models.html",
        {
            "kind": kind,
            "kinds": ModelVersion.Kind.choices,
            "data": data,
            "senior": user_is_senior_analyst(request.user),
            "evidence": ranking_evidence_get(kind=_kind(kind)),
        },
    )


@require_safe
@analyst_required
def informative_page(request: HttpRequest) -> HttpResponse:
    measure = request.GET.get("measure", "entropy")
    if measure not in ("entropy", "margin"):
        measure = "entropy"
    return render(
        request,
        "analyst/models_learning.html",
        {
            "view": "informative",
            "measure": measure,
            "rows": events_most_informative(measure=measure),
            "senior": user_is_senior_analyst(request.user),
        },
    )


@require_safe
@analyst_required
def mislabelled_page(request: HttpRequest) -> HttpResponse:
    if not user_is_senior_analyst(request.user):
        raise PermissionDenied("the likely-mislabelled view is for senior analysts")
    return render(
        request,
        "analyst/models_learning.html",
        {
            "view": "mislabelled",
            "rows": events_likely_mislabelled(),
            "senior": True,
        },
    )


@require_safe
@analyst_required
def labels_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "analyst/models_learning.html",
        {
            "view": "labels",
            "agreement": label_agreement(),
            "disagreements": event_label_decisions(disagreeing_only=True, limit=100),
            "senior": user_is_senior_analyst(request.user),
        },
    )
