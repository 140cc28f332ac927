"""The learning-loop API: dashboards per model kind, runs, promotion, active learning.

Everyone with a role reads; only a senior analyst starts runs, promotes, rolls back or sees the likely
mislabelled events; an outsider gets 403.
"""

import datetime as dt
import logging
from typing import Annotated, Any, Literal, TypedDict

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from analyst.api.permissions import RoleApi, SeniorApi
from analyst.api.schema import (
    ANY_ROLE,
    FORBIDDEN,
    FORBIDDEN_SENIOR,
    LIMIT_1000,
    MODEL_KIND,
    MODEL_VERSION,
    SENIOR_ROLE,
    PromoteInputSerializer,
    bad_request,
    id_in_path,
    not_found,
    typed_response,
)
from analyst.web.parameters import ParameterError, integer_parse
from events.models import Event
from ranking.models import ModelVersion, TrainingRun
from ranking.registry import ModelArtifactError
from ranking.selectors import (
    Agreement,
    EventDecisions,
    ModelDashboard,
    TrainingRunData,
    event_label_decisions,
    events_likely_mislabelled,
    events_most_informative,
    label_agreement,
    model_dashboard_get,
    model_version_get,
    promotion_warnings,
    training_run_data,
    training_run_get,
)
from ranking.training_runs import (
    PromotionError,
    TrainingRunBusyError,
    model_promote,
    model_rollback,
    training_run_start,
)

logger = logging.getLogger(__name__)


class TrainingRunDetail(TrainingRunData):
    candidate_metrics: dict[str, Any]  # stored JSON: nested metrics by name
    active_metrics: dict[str, Any] | None  # as above


class TrainingBusy(TypedDict):
    detail: str
    run: Annotated[TrainingRunData, "the run already queued or running"]


class PromoteResult(TypedDict):
    action: Annotated[str, "promote or rollback"]
    active: Annotated[str, "the version now active"]
    by: str


class EventRow(TypedDict):
    id: int
    public_id: str
    origin_time: dt.datetime | None
    magnitude: float | None
    event_type: str
    review_state: str
    importance: float | None


class InformativeRow(EventRow):
    entropy: float
    margin: float
    probabilities: dict[str, float]


class InformativeEvents(TypedDict):
    measure: Literal["entropy", "margin"]
    results: list[InformativeRow]


class MislabelledRow(EventRow):
    label: Annotated[str, "the decision class of the analysts' label"]
    model_class: Annotated[str, "the class the ranker prefers"]
    model_probability: float
    label_probability: float


class MislabelledEvents(TypedDict):
    confidence: float
    results: list[MislabelledRow]


class LabelAgreement(TypedDict):
    agreement: Agreement
    events: list[EventDecisions]


def _kind(kind: str) -> str:
    if kind not in ModelVersion.Kind.values:
        raise Http404(f"no model kind {kind!r}")
    return kind


_NO_KIND = not_found("no such model kind")


class ModelDashboardApi(RoleApi):
    @extend_schema(
        summary="A model kind's dashboard: versions, the latest comparison, runs, promotions, label counts",
        description=f"{ANY_ROLE} Errors: 403; 404 for an unknown kind.",
        parameters=[MODEL_KIND],
        responses={200: typed_response(ModelDashboard), 403: FORBIDDEN, 404: _NO_KIND},
    )
    def get(self, request: Request, kind: str) -> Response:
        dashboard: ModelDashboard = model_dashboard_get(kind=_kind(kind))
        return Response(dashboard)


class TrainingRunStartApi(SeniorApi):
    """POST: start a training run of this kind now (202); 409 with the open run when one is queued or running."""

    @extend_schema(
        summary="Start a training run of this model kind now",
        description=f"{SENIOR_ROLE} The run is queued for a training worker; one run per kind at a time. The "
        "trained candidate is compared with the active version and promoted only if the rules allow. Errors: "
        "403; 404 for an unknown kind; 409 when a run of this kind is already queued or running.",
        parameters=[MODEL_KIND],
        request=None,
        responses={
            202: OpenApiResponse(typed_response(TrainingRunData), description="the run, queued"),
            403: FORBIDDEN_SENIOR,
            404: _NO_KIND,
            409: OpenApiResponse(typed_response(TrainingBusy), description="a run of this kind is queued or running"),
        },
    )
    def post(self, request: Request, kind: str) -> Response:
        try:
            run = training_run_start(
                kind=_kind(kind), trigger=TrainingRun.Trigger.UI, requested_by=request.user.get_username()
            )
        except TrainingRunBusyError as error:
            busy: TrainingBusy = {"detail": str(error), "run": training_run_data(error.run)}
            return Response(busy, status=status.HTTP_409_CONFLICT)
        return Response(training_run_data(run), status=status.HTTP_202_ACCEPTED)


class TrainingRunApi(RoleApi):
    @extend_schema(
        summary="A training run: status, progress, log and metrics",
        description=f"{ANY_ROLE} Errors: 403; 404 for an unknown run.",
        parameters=[id_in_path("run_id", "the training run's id")],
        responses={
            200: typed_response(TrainingRunDetail),
            403: FORBIDDEN,
            404: not_found("no training run with this id"),
        },
    )
    def get(self, request: Request, run_id: int) -> Response:
        run = training_run_get(run_id=run_id)
        if run is None:
            raise NotFound(f"no training run {run_id}")
        detail: TrainingRunDetail = {
            **training_run_data(run),
            "candidate_metrics": run.candidate_metrics,
            "active_metrics": run.active_metrics,
        }
        return Response(detail)


class ModelPromoteApi(SeniorApi):
    """POST: make this version active (`rollback` for an earlier, retired one); unreviewed events are rescored."""

    rollback = False

    @extend_schema(
        summary="Make this model version the active one",
        description=f"{SENIOR_ROLE} Unreviewed events are rescored with it. A candidate worse than the active "
        "model on the verdict metric, or compared on under 200 held-out events, needs a `reason` (kept with the "
        "promotion). Errors: 400 naming `version` when it cannot be promoted (e.g. its artifact is missing or it "
        "is already active) or `reason` when one is needed, 403, 404 for an unknown kind or version.",
        parameters=[MODEL_KIND, MODEL_VERSION],
        request=PromoteInputSerializer,
        responses={
            200: typed_response(PromoteResult),
            400: bad_request(
                "the version cannot be promoted", example={"version": "ranker-v3 is already the active ranker"}
            ),
            403: FORBIDDEN_SENIOR,
            404: not_found("no such model kind or version"),
        },
    )
    def post(self, request: Request, kind: str, version: str) -> Response:
        # A NUL in the path is no version (PostgreSQL refuses it in a query: it was a 500)
        model_version = None if "\x00" in version else model_version_get(kind=_kind(kind), version=version)
        if model_version is None:
            raise NotFound(f"no {kind} version {version!r}")
        reason = str(request.data.get("reason", ""))[:2000].strip() if isinstance(request.data, dict) else ""
        warnings = [] if self.rollback else promotion_warnings(model_version=model_version)
        if warnings and not reason:
            raise ValidationError({"reason": f"promoting {version} needs a reason: {'; '.join(warnings)}"})
        by = request.user.get_username()
        try:
            if self.rollback:
                promotion = model_rollback(model_version=model_version, by=by, reason=reason)
            else:
                promotion = model_promote(model_version=model_version, by=by, reason=reason)
        except (PromotionError, ModelArtifactError) as error:
            raise ValidationError({"version": str(error)}) from None
        result: PromoteResult = {"action": promotion.action, "active": model_version.version, "by": promotion.by}
        return Response(result)


@extend_schema_view(
    post=extend_schema(
        summary="Roll back to an earlier, retired model version",
        description=f"{SENIOR_ROLE} The version becomes active again and unreviewed events are rescored. Errors: "
        "400 naming `version` when it cannot be rolled back to (it was never active, or is active now), 403, 404 "
        "for an unknown kind or version.",
    )
)
class ModelRollbackApi(ModelPromoteApi):
    rollback = True


def _event_row(event: Event) -> EventRow:
    return {
        "id": event.pk,
        "public_id": event.public_id,
        "origin_time": event.origin_time,
        "magnitude": event.magnitude,
        "event_type": event.event_type,
        "review_state": event.review_state,
        "importance": event.importance,
    }


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "100")
    try:
        return integer_parse(name="limit", raw=raw, minimum=1, maximum=1000)
    except ParameterError as error:
        raise ValidationError({"limit": str(error)}) from None


class InformativeEventsApi(RoleApi):
    """GET: unreviewed events, least certain first (`measure=entropy|margin`, `limit`)."""

    @extend_schema(
        summary="Active learning: unreviewed events the ranker is least certain about",
        description=f"{ANY_ROLE} Reviewing these teaches the model fastest. Errors: 400 naming `measure` or "
        "`limit`, 403.",
        parameters=[
            OpenApiParameter(
                "measure",
                OpenApiTypes.STR,
                enum=["entropy", "margin"],
                description="highest "
                "entropy of the class probabilities first, or smallest margin between the top two "
                "(default entropy)",
            ),
            LIMIT_1000,
        ],
        responses={200: typed_response(InformativeEvents), 400: bad_request("a bad measure or limit"), 403: FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        measure = request.query_params.get("measure", "entropy")
        if measure not in ("entropy", "margin"):
            raise ValidationError({"measure": f"entropy or margin, got {measure!r}"})
        rows = events_most_informative(measure=measure, limit=_limit(request))
        informative: InformativeEvents = {
            "measure": "margin" if measure == "margin" else "entropy",
            "results": [
                {
                    **_event_row(row["event"]),
                    "entropy": row["entropy"],
                    "margin": row["margin"],
                    "probabilities": row["probabilities"],
                }
                for row in rows
            ],
        }
        return Response(informative)


class MislabelledEventsApi(SeniorApi):
    @extend_schema(
        summary="Reviewed events whose label the ranker confidently contradicts",
        description=f"{SENIOR_ROLE} Most confident contradictions first. Errors: 400 naming `confidence` or "
        "`limit`, 403.",
        parameters=[
            OpenApiParameter(
                "confidence",
                OpenApiTypes.NUMBER,
                description="the ranker's top class must have at least this probability, in (0.25, 1] (default 0.8)",
            ),
            LIMIT_1000,
        ],
        responses={
            200: typed_response(MislabelledEvents),
            400: bad_request("a bad confidence or limit"),
            403: FORBIDDEN_SENIOR,
        },
    )
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("confidence", "0.8")
        try:
            confidence = float(raw)
        except ValueError:
            raise ValidationError({"confidence": f"a number in (0.25, 1], got {raw!r}"}) from None
        if not 0.25 < confidence <= 1:
            raise ValidationError({"confidence": f"a number in (0.25, 1], got {raw!r}"})
        rows = events_likely_mislabelled(confidence=confidence, limit=_limit(request))
        mislabelled: MislabelledEvents = {
            "confidence": confidence,
            "results": [
                {
                    **_event_row(row["event"]),
                    "label": row["label"],
                    "model_class": row["model_class"],
                    "model_probability": row["model_probability"],
                    "label_probability": row["label_probability"],
                }
                for row in rows
            ],
        }
        return Response(mislabelled)


class LabelAgreementApi(RoleApi):
    """GET: agreement figures and the events decided more than once (`disagreeing=true` for conflicts only)."""

    @extend_schema(
        summary="Label agreement: between analysts and with the catalogue, and events decided more than once",
        description=f"{ANY_ROLE} Errors: 400 naming `limit`, 403.",
        parameters=[
            OpenApiParameter(
                "disagreeing",
                OpenApiTypes.BOOL,
                description="true: only events whose decisions disagree (different decision classes)",
            ),
            LIMIT_1000,
        ],
        responses={200: typed_response(LabelAgreement), 400: bad_request("a bad limit"), 403: FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        disagreeing = request.query_params.get("disagreeing", "").lower() in ("1", "true", "yes")
        agreement: LabelAgreement = {
            "agreement": label_agreement(),
            "events": event_label_decisions(disagreeing_only=disagreeing, limit=_limit(request)),
        }
        return Response(agreement)
