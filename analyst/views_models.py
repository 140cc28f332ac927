"""The model pages and the learning-loop API: dashboards per model kind, runs, promotion, active learning.

Everyone with a role reads; only a senior analyst starts runs, promotes, rolls back or sees the likely
mislabelled events; an outsider gets 403.
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analyst.api.permissions import HasSeistriageRole, HasSeniorRole
from analyst.learning import PromotionError, TrainingRunBusyError, model_promote, model_rollback, training_run_start
from analyst.roles import user_is_senior_analyst
from analyst.selectors_learning import (
    event_label_decisions,
    events_likely_mislabelled,
    events_most_informative,
    label_agreement,
    model_dashboard_get,
    training_run_data,
)
from analyst.views import analyst_required
from ranking.models import ModelVersion, TrainingRun
from ranking.registry import ModelArtifactError

logger = logging.getLogger(__name__)


def _kind(kind: str) -> str:
    if kind not in ModelVersion.Kind.values:
        raise Http404(f"no model kind {kind!r}")
    return kind


def _cnn_filters(kind: str) -> dict[str, Any] | None:
    """The active CNN's first-layer filters (waveforms and responses); None without an active CNN."""
    active = ModelVersion.objects.filter(kind=kind, status=ModelVersion.Status.ACTIVE).first()
    if kind != ModelVersion.Kind.CNN or active is None:
        return None
    from analyst.cnn import cnn_model_page_data

    try:
        filters: dict[str, Any] = cnn_model_page_data(model_version=active)["filters"]
        return filters
    except ModelArtifactError as error:
        return {"error": str(error)}


@analyst_required
def models_index(request: HttpRequest) -> HttpResponse:
    return redirect("model-dashboard", kind=ModelVersion.Kind.RANKER)


@analyst_required
def model_dashboard_page(request: HttpRequest, kind: str) -> HttpResponse:
    data = model_dashboard_get(kind=_kind(kind))
    data["filters"] = _cnn_filters(kind)
    return render(request, "analyst/models.html", {
        "kind": kind, "kinds": ModelVersion.Kind.choices, "data": data, "senior": user_is_senior_analyst(request.user),
    })  # fmt: skip


@analyst_required
def informative_page(request: HttpRequest) -> HttpResponse:
    measure = request.GET.get("measure", "entropy")
    if measure not in ("entropy", "margin"):
        measure = "entropy"
    return render(request, "analyst/models_learning.html", {
        "view": "informative", "measure": measure, "rows": events_most_informative(measure=measure),
        "senior": user_is_senior_analyst(request.user),
    })  # fmt: skip


@analyst_required
def mislabelled_page(request: HttpRequest) -> HttpResponse:
    if not user_is_senior_analyst(request.user):
        raise PermissionDenied("the likely-mislabelled view is for senior analysts")
    return render(request, "analyst/models_learning.html", {
        "view": "mislabelled", "rows": events_likely_mislabelled(), "senior": True,
    })  # fmt: skip


@analyst_required
def labels_page(request: HttpRequest) -> HttpResponse:
    return render(request, "analyst/models_learning.html", {
        "view": "labels", "agreement": label_agreement(),
        "disagreements": event_label_decisions(disagreeing_only=True, limit=100),
        "senior": user_is_senior_analyst(request.user),
    })  # fmt: skip


# ------------------------------------------------------------------------------------------------
# API
# ------------------------------------------------------------------------------------------------


class RoleApi(APIView):
    permission_classes = [IsAuthenticated, HasSeistriageRole]


class SeniorApi(APIView):
    permission_classes = [IsAuthenticated, HasSeistriageRole, HasSeniorRole]


class ModelDashboardApi(RoleApi):
    def get(self, request: Request, kind: str) -> Response:
        return Response(model_dashboard_get(kind=_kind(kind)))


class TrainingRunStartApi(SeniorApi):
    """POST: start a training run of this kind now (202); 409 with the open run when one is queued or running."""

    def post(self, request: Request, kind: str) -> Response:
        try:
            run = training_run_start(
                kind=_kind(kind), trigger=TrainingRun.Trigger.UI, requested_by=request.user.get_username()
            )
        except TrainingRunBusyError as error:
            return Response(
                {"detail": str(error), "run": training_run_data(error.run)}, status=status.HTTP_409_CONFLICT
            )
        return Response(training_run_data(run), status=status.HTTP_202_ACCEPTED)


class TrainingRunApi(RoleApi):
    def get(self, request: Request, run_id: int) -> Response:
        run = TrainingRun.objects.select_related("candidate", "compared_with").filter(pk=run_id).first()
        if run is None:
            raise NotFound(f"no training run {run_id}")
        data = training_run_data(run)
        data["candidate_metrics"], data["active_metrics"] = run.candidate_metrics, run.active_metrics
        return Response(data)


class ModelPromoteApi(SeniorApi):
    """POST: make this version active (`rollback` for an earlier, retired one); unreviewed events are rescored."""

    rollback = False

    def post(self, request: Request, kind: str, version: str) -> Response:
        model_version = get_object_or_404(ModelVersion, kind=_kind(kind), version=version)
        reason = str(request.data.get("reason", ""))[:2000] if isinstance(request.data, dict) else ""
        by = request.user.get_username()
        try:
            if self.rollback:
                promotion = model_rollback(model_version=model_version, by=by, reason=reason)
            else:
                promotion = model_promote(model_version=model_version, by=by, reason=reason)
        except (PromotionError, ModelArtifactError) as error:
            raise ValidationError({"version": str(error)}) from None
        return Response({"action": promotion.action, "active": model_version.version, "by": promotion.by})


class ModelRollbackApi(ModelPromoteApi):
    rollback = True


def _event_row(event: Any) -> dict[str, Any]:
    return {
        "id": event.pk, "public_id": event.public_id, "origin_time": event.origin_time, "magnitude": event.magnitude,
        "event_type": event.event_type, "review_state": event.review_state, "importance": event.importance,
    }  # fmt: skip


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ValidationError({"limit": f"an integer 1-1000, got {raw!r}"})
    return int(raw)


class InformativeEventsApi(RoleApi):
    """GET: unreviewed events, least certain first (`measure=entropy|margin`, `limit`)."""

    def get(self, request: Request) -> Response:
        measure = request.query_params.get("measure", "entropy")
        if measure not in ("entropy", "margin"):
            raise ValidationError({"measure": f"entropy or margin, got {measure!r}"})
        rows = events_most_informative(measure=measure, limit=_limit(request))
        return Response({"measure": measure, "results": [
            {**_event_row(row["event"]), "entropy": row["entropy"], "margin": row["margin"],
             "probabilities": row["probabilities"]}
            for row in rows
        ]})  # fmt: skip


class MislabelledEventsApi(SeniorApi):
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("confidence", "0.8")
        try:
            confidence = float(raw)
        except ValueError:
            raise ValidationError({"confidence": f"a number in (0.25, 1], got {raw!r}"}) from None
        if not 0.25 < confidence <= 1:
            raise ValidationError({"confidence": f"a number in (0.25, 1], got {raw!r}"})
        rows = events_likely_mislabelled(confidence=confidence, limit=_limit(request))
        return Response({"confidence": confidence, "results": [
            {**_event_row(row["event"]), **{k: v for k, v in row.items() if k != "event"}} for row in rows
        ]})  # fmt: skip


class LabelAgreementApi(RoleApi):
    """GET: agreement figures and the events decided more than once (`disagreeing=true` for conflicts only)."""

    def get(self, request: Request) -> Response:
        disagreeing = request.query_params.get("disagreeing", "").lower() in ("1", "true", "yes")
        return Response({
            "agreement": label_agreement(),
            "events": event_label_decisions(disagreeing_only=disagreeing, limit=_limit(request)),
        })  # fmt: skip
