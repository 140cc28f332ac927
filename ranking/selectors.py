"""Reads of the learning loop: label history and disagreement, active-learning views, the model page."""

import datetime as dt
from collections import Counter
from typing import Annotated, Any, TypedDict

import numpy as np
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from events.display import event_short_name
from events.models import Event, EventLabel
from events.vocabulary import REVIEWED_STATES, UNREVIEWED_STATES
from ranking.inputs import class_of_review
from ranking.ml.classes import DECISION_CLASSES
from ranking.ml.learning import RaterAgreement, class_uncertainty, metric_lookup, rater_agreement
from ranking.ml.verdict import metric_better, verdict_words
from ranking.models import EventScore, ModelPromotion, ModelVersion, TrainingRun


class Decision(TypedDict):
    analyst: Annotated[str, "username; empty for an imported decision"]
    source: str
    at: Annotated[str, "date-time"]
    event_type: str
    certainty: str
    review_state: str
    decision_class: str | None
    predicted: Any  # stored JSON: what the model predicted when the decision was made


class EventDecisions(TypedDict):
    event_id: int
    public_id: str
    name: Annotated[str, "a short readable name: origin time, magnitude, region"]
    decisions: list[Decision]
    label: Annotated[Decision, "the latest decision"]
    disagree: Annotated[bool, "the decisions stand for different decision classes"]


class Agreement(TypedDict):
    events_decided_more_than_once: int
    events_with_disagreement: int
    between_analysts: RaterAgreement
    analyst_vs_catalogue: RaterAgreement


class InformativeEvent(TypedDict):
    event: Event
    entropy: float
    margin: float
    probabilities: dict[str, float]


class MislabelledEvent(TypedDict):
    event: Event
    label: Annotated[str, "the decision class of the analysts' label"]
    model_class: Annotated[str, "the class the ranker prefers"]
    model_probability: float
    label_probability: float


class LabelsPerDay(TypedDict):
    per_day: Annotated[dict[str, dict[str, int]], "day (ISO date) -> label source -> labels"]
    per_class: Annotated[dict[str, int], "decision class -> labels"]
    days: int


class TrainingRunData(TypedDict):
    id: int
    kind: str
    status: Annotated[str, "queued, running, succeeded or failed"]
    trigger: str
    requested_by: str
    progress: Annotated[float, "0-1"]
    created_at: Annotated[str, "date-time"]
    started_at: Annotated[str | None, "date-time"]
    finished_at: Annotated[str | None, "date-time"]
    duration_s: float | None
    error: str
    log: Annotated[str, "the last 4000 characters"]
    candidate: Annotated[str | None, "the version it trained"]
    compared_with: Annotated[str | None, "the active version it was compared with"]
    data_summary: dict[str, Any]  # stored JSON: counts and spans of the training data
    promotion_decision: dict[str, Any]  # stored JSON: the promotion verdict


class ModelVersionData(TypedDict):
    version: str
    status: Annotated[str, "candidate, active or retired"]
    created_at: Annotated[str, "date-time"]
    created_by: str
    estimator: str
    promoted_at: Annotated[str | None, "date-time"]
    training_summary: dict[str, Any]  # stored JSON: what training recorded
    trained_on: Annotated[int | None, "events (ranker) or windows (CNN)"]
    cold_start: Annotated[str, "' (cold start: generic model only, N local labels)' for a cold-start ranker, else ''"]


class PromotionData(TypedDict):
    action: str
    version: str
    previous: str | None
    by: str
    reason: str
    at: Annotated[str, "date-time"]


class MetricRow(TypedDict):
    metric: str
    candidate: float | None
    active: float | None
    difference: float | None
    better: Annotated[str | None, "candidate, active, same, or null (a count, or a value missing)"]


# Promoting a candidate with fewer held-out events than this, or one worse on the verdict, needs a reason.
PROMOTION_MIN_HELD_OUT = 200


class ComparisonVerdict(TypedDict):
    words: Annotated[str, "the verdict in one sentence"]
    metric: Annotated[str, "what the verdict compares"]
    candidate_better: Annotated[bool | None, "null when it cannot be told (no active model, or no measure)"]
    held_out_events: int | None
    interval: Annotated[list[float] | None, "95% interval of the difference (active - candidate), shares"]
    warnings: Annotated[list[str], "why promoting this candidate asks for confirmation and a reason"]
    metrics_better: Annotated[int, "metric rows where the candidate is better"]
    metrics_worse: Annotated[int, "metric rows where the active model is better"]


class ModelComparison(TypedDict):
    run: int
    candidate: ModelVersionData
    compared_with: ModelVersionData | None
    candidate_metrics: dict[str, Any]  # stored JSON: nested metrics by name
    active_metrics: dict[str, Any] | None  # as above
    side_by_side: list[MetricRow]
    curves: dict[str, Any]  # stored JSON: plot data by curve name
    data_summary: dict[str, Any]  # stored JSON
    verdict: ComparisonVerdict


class ModelDashboard(TypedDict):
    kind: str
    active: ModelVersionData | None
    versions: list[ModelVersionData]
    runs: list[TrainingRunData]
    comparison: Annotated[ModelComparison | None, "the latest successful run against the active"]
    promotions: list[PromotionData]
    labels: Annotated[LabelsPerDay, "labels per day (by source) and per decision class"]


def _decision(row: Any) -> Decision:
    return {
        "analyst": row["analyst__username"] or "",
        "source": row["source"],
        "at": row["created_at"].isoformat(),
        "event_type": row["event_type"],
        "certainty": row["event_type_certainty"],
        "review_state": row["review_state"],
        "decision_class": class_of_review(review_state=row["review_state"], event_type=row["event_type"]),
        "predicted": row["predicted"],
    }


def event_label_decisions(
    *, event_ids: list[int] | None = None, disagreeing_only: bool = False, limit: int = 200
) -> list[EventDecisions]:
    """Per event, every decision in time order, the label (the latest analyst decision, else the latest) and
    whether they disagree.

    Two decisions disagree when they stand for different decision classes (a type change within one class,
    e.g. explosion -> quarry blast, is a refinement, not a disagreement).
    """
    labels = EventLabel.objects.all()
    if event_ids is not None:
        labels = labels.filter(event_id__in=event_ids)
    else:
        repeated = EventLabel.objects.values("event_id").annotate(n=Count("id")).filter(n__gt=1).values_list("event_id")
        labels = labels.filter(event_id__in=repeated)
    rows = labels.order_by("event_id", "created_at", "id").values(
        "event_id",
        "event__public_id",
        "event__origin_time",
        "event__magnitude",
        "event__magnitude_type",
        "event__region",
        "event__latitude",
        "event__longitude",
        "analyst__username",
        "source",
        "created_at",
        "event_type",
        "event_type_certainty",
        "review_state",
        "predicted",
    )
    by_event: dict[int, tuple[str, str, list[Decision]]] = {}
    for row in rows:
        name = event_short_name(
            origin_time=row["event__origin_time"],
            magnitude=row["event__magnitude"],
            magnitude_type=row["event__magnitude_type"],
            region=row["event__region"],
            latitude=row["event__latitude"],
            longitude=row["event__longitude"],
        )
        by_event.setdefault(row["event_id"], (row["event__public_id"], name, []))[2].append(_decision(row))
    result: list[EventDecisions] = []
    for event_id, (public_id, name, decisions) in by_event.items():
        classes = {d["decision_class"] for d in decisions if d["decision_class"] is not None}
        # The label in force: an analyst's decision stands over a catalogue imported later.
        analysts = [d for d in decisions if d["source"] == EventLabel.Source.ANALYST]
        entry: EventDecisions = {
            "event_id": event_id,
            "public_id": public_id,
            "name": name,
            "decisions": decisions,
            "label": (analysts or decisions)[-1],
            "disagree": len(classes) > 1,
        }
        if entry["disagree"] or not disagreeing_only:
            result.append(entry)
    result.sort(key=lambda entry: entry["label"]["at"], reverse=True)
    return result[:limit]


def label_agreement() -> Agreement:
    """Agreement between analysts on events decided more than once, and between analysts and the imported
    catalogue; plus how many events were decided more than once and how many of those disagree."""
    rows = EventLabel.objects.filter(
        event_id__in=EventLabel.objects.values("event_id").annotate(n=Count("id")).filter(n__gt=1).values("event_id")
    ).order_by("event_id", "created_at", "id")
    history: dict[int, list[tuple[str, int | None, str | None]]] = {}
    for event_id, source, analyst_id, review_state, event_type in rows.values_list(
        "event_id", "source", "analyst_id", "review_state", "event_type"
    ):
        history.setdefault(event_id, []).append(
            (source, analyst_id, class_of_review(review_state=review_state, event_type=event_type))
        )
    analyst_pairs: tuple[list[str], list[str]] = ([], [])
    catalogue_pairs: tuple[list[str], list[str]] = ([], [])
    disagreeing: int = 0
    for decisions in history.values():
        known = [d for d in decisions if d[2] is not None]
        disagreeing += 1 if len({d[2] for d in known}) > 1 else 0
        people = [d for d in known if d[0] == EventLabel.Source.ANALYST]
        # The first decision of each of the first two analysts who decided the event.
        firsts: dict[int | None, str] = {}
        for _, person, decision_class in people:
            firsts.setdefault(person, str(decision_class))
        if len(firsts) >= 2:
            first, second = list(firsts.values())[:2]
            analyst_pairs[0].append(first)
            analyst_pairs[1].append(second)
        imported = [d for d in known if d[0] == EventLabel.Source.IMPORTED_REVIEW]
        if imported and people:
            catalogue_pairs[0].append(str(imported[-1][2]))
            catalogue_pairs[1].append(str(people[-1][2]))
    return {
        "events_decided_more_than_once": len(history),
        "events_with_disagreement": disagreeing,
        "between_analysts": rater_agreement(*analyst_pairs),
        "analyst_vs_catalogue": rater_agreement(*catalogue_pairs),
    }


def _latest_probabilities(scores: Any) -> dict[int, dict[str, float]]:
    latest: dict[int, dict[str, float]] = {}
    for event_id, probabilities in scores.order_by("event_id", "-scored_at", "-id").values_list(
        "event_id", "class_probabilities"
    ):
        latest.setdefault(event_id, probabilities)
    return latest


def _matrix(probabilities: list[dict[str, float]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.array([[row.get(name, 0.0) for name in DECISION_CLASSES] for row in probabilities], dtype=np.float64)


def events_most_informative(*, limit: int = 100, measure: str = "entropy") -> list[InformativeEvent]:
    """Unreviewed scored events where the ranker is least certain: highest entropy (or smallest margin)
    of their latest class probabilities first. Reviewing these teaches the model fastest."""
    if measure not in ("entropy", "margin"):
        raise ValueError(f"measure must be entropy or margin, got {measure!r}")
    latest = _latest_probabilities(EventScore.objects.filter(event__review_state__in=UNREVIEWED_STATES))
    if not latest:
        return []
    ids = list(latest)
    entropy, margin = class_uncertainty(_matrix([latest[i] for i in ids]))
    order = np.argsort(-entropy if measure == "entropy" else margin, kind="stable")[:limit]
    chosen = [ids[i] for i in order]
    events = Event.objects.in_bulk(chosen)
    return [
        {
            "event": events[ids[i]],
            "entropy": round(float(entropy[i]), 4),
            "margin": round(float(margin[i]), 4),
            "probabilities": latest[ids[i]],
        }
        for i in order
        if ids[i] in events
    ]


def events_likely_mislabelled(*, confidence: float = 0.8, limit: int = 100) -> list[MislabelledEvent]:
    """Reviewed events whose label the ranker confidently contradicts: its top class (probability >=
    ``confidence``) differs from the label's class. Most confident contradictions first."""
    latest = _latest_probabilities(EventScore.objects.filter(event__review_state__in=REVIEWED_STATES))
    if not latest:
        return []
    events = Event.objects.in_bulk(list(latest))
    found: list[MislabelledEvent] = []
    for event_id, probabilities in latest.items():
        event = events.get(event_id)
        if event is None:
            continue
        label = class_of_review(review_state=event.review_state, event_type=event.event_type)
        if label is None:
            continue
        top = max(DECISION_CLASSES, key=lambda name: probabilities.get(name, 0.0))
        p_top = float(probabilities.get(top, 0.0))
        if top != label and p_top >= confidence:
            found.append(
                {
                    "event": event,
                    "label": label,
                    "model_class": top,
                    "model_probability": round(p_top, 4),
                    "label_probability": round(float(probabilities.get(label, 0.0)), 4),
                }
            )
    found.sort(key=lambda row: (row["label_probability"], -row["model_probability"]))
    return found[:limit]


def labels_per_day(*, days: int = 90) -> LabelsPerDay:
    """Labels recorded per day (by source) and per decision class over the last ``days`` days."""
    since = timezone.now() - dt.timedelta(days=days)
    recent = EventLabel.objects.filter(created_at__gte=since)
    per_day: dict[str, dict[str, int]] = {}
    for day, source, n in (
        recent.annotate(day=TruncDate("created_at"))
        .values_list("day", "source")
        .annotate(n=Count("id"))
        .order_by("day", "source")
    ):
        per_day.setdefault(day.isoformat(), {})[source] = n
    per_class: Counter[str] = Counter()
    for review_state, event_type in recent.values_list("review_state", "event_type"):
        per_class[class_of_review(review_state=review_state, event_type=event_type) or "no class"] += 1
    return {"per_day": per_day, "per_class": dict(per_class), "days": days}


def training_run_get(*, run_id: int) -> TrainingRun | None:
    return TrainingRun.objects.select_related("candidate", "compared_with").filter(pk=run_id).first()


def model_version_get(*, kind: str, version: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(kind=kind, version=version).first()


def training_run_data(run: TrainingRun) -> TrainingRunData:
    return {
        "id": run.pk,
        "kind": run.kind,
        "status": run.status,
        "trigger": run.trigger,
        "requested_by": run.requested_by,
        "progress": round(run.progress, 3),
        "created_at": run.created_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_s": run.duration_s,
        "error": run.error,
        "log": run.log[-4000:],
        "candidate": run.candidate.version if run.candidate else None,
        "compared_with": run.compared_with.version if run.compared_with else None,
        "data_summary": run.data_summary,
        "promotion_decision": run.promotion_decision,
    }


def _version_data(version: ModelVersion) -> ModelVersionData:
    return {
        "version": version.version,
        "status": version.status,
        "created_at": version.created_at.isoformat(),
        "created_by": version.created_by,
        "estimator": version.estimator,
        "promoted_at": version.promoted_at.isoformat() if version.promoted_at else None,
        "training_summary": version.training_summary,
        # A cold-start ranker trained on 0 local labels says 0, not nothing.
        "trained_on": version.training_summary.get("events", version.training_summary.get("windows")),
        "cold_start": f" ({cold_start})" if (cold_start := version.training_summary.get("cold_start")) else "",
    }


def _promotion_data(promotion: ModelPromotion) -> PromotionData:
    return {
        "action": promotion.action,
        "version": promotion.model_version.version,
        "previous": promotion.previous.version if promotion.previous else None,
        "by": promotion.by,
        "reason": promotion.reason,
        "at": promotion.created_at.isoformat(),
    }


def model_dashboard_get(*, kind: str) -> ModelDashboard:
    """Everything the model page shows for one kind: versions, the latest comparison with its plot data,
    the runs, the promotions, label counts and (for the CNN) the first-layer filters."""
    versions = list(ModelVersion.objects.filter(kind=kind).order_by("-created_at")[:50])
    active = next((v for v in versions if v.status == ModelVersion.Status.ACTIVE), None)
    runs = list(TrainingRun.objects.filter(kind=kind).select_related("candidate", "compared_with")[:20])
    runs.sort(key=lambda run: run.created_at, reverse=True)
    compared = next((r for r in runs if r.status == TrainingRun.Status.SUCCEEDED and r.candidate is not None), None)
    promotions = ModelPromotion.objects.filter(kind=kind).select_related("model_version", "previous")
    data: ModelDashboard = {
        "kind": kind,
        "active": _version_data(active) if active else None,
        "versions": [_version_data(v) for v in versions],
        "runs": [training_run_data(r) for r in runs],
        "comparison": None,
        "promotions": [_promotion_data(p) for p in promotions.order_by("-created_at")[:20]],
        "labels": labels_per_day(),
    }
    if compared is not None and compared.candidate is not None:
        data["comparison"] = {
            "run": compared.pk,
            "candidate": _version_data(compared.candidate),
            "compared_with": _version_data(compared.compared_with) if compared.compared_with else None,
            "candidate_metrics": compared.candidate_metrics,
            "active_metrics": compared.active_metrics,
            "side_by_side": metrics_side_by_side(compared.candidate_metrics, compared.active_metrics),
            "curves": compared.curves,
            "data_summary": compared.data_summary,
            "verdict": comparison_verdict(compared),
        }
    return data


def _stored_effort_verdict(run: TrainingRun) -> dict[str, Any] | None:
    """The run's effort verdict: stored with its bootstrap interval by newer runs; read off the effort curves
    (no interval) for older ones; None when the run has neither (the CNN's runs)."""
    curves = run.curves or {}
    if isinstance(curves.get("verdict"), dict):
        return dict(curves["verdict"])
    candidate = ((curves.get("candidate") or {}).get("effort") or {}).get("importance")
    if not candidate:
        return None
    active = ((curves.get("active") or {}).get("effort") or {}).get("importance") or {}
    ours, theirs = candidate.get("at_95"), active.get("at_95")
    return {
        "level": 0.95,
        "events": run.data_summary.get("held_out_events", 0),
        "candidate": ours,
        "active": theirs,
        "difference": None if ours is None or theirs is None else round(theirs - ours, 4),
        "interval": None,
    }


def comparison_verdict(run: TrainingRun) -> ComparisonVerdict:
    """The one-line verdict on a run's candidate against the active model, and why promoting it needs a reason."""
    effort = _stored_effort_verdict(run)
    held_out = run.data_summary.get("held_out_events") or run.data_summary.get("held_out_windows")
    better: bool | None = None
    if effort is not None:
        metric = "share of the queue read to find 95% of the events of interest (lower is better)"
        words = verdict_words(effort)
        held_out = held_out or effort.get("events")
        if effort.get("difference") is not None:
            better = effort["difference"] > 0 if effort["difference"] != 0 else None
        interval = effort.get("interval")
    else:
        metric = "accuracy on the held-out set (higher is better)"
        ours = metric_lookup(run.candidate_metrics, "accuracy")
        theirs = metric_lookup(run.active_metrics or {}, "accuracy")
        interval = None
        if ours is None:
            words = "The candidate has no accuracy to compare."
        elif theirs is None:
            words = f"Candidate accuracy {100 * ours:.0f}% (no active model to compare with)."
        else:
            words = f"Candidate accuracy {100 * ours:.0f}% vs {100 * theirs:.0f}% for the active model."
            better = ours > theirs if ours != theirs else None
    warnings: list[str] = []
    if better is False:
        warnings.append("the candidate is worse than the active model on the verdict metric")
    if held_out is not None and int(held_out) < PROMOTION_MIN_HELD_OUT:
        warnings.append(
            f"only {int(held_out)} held-out events (under {PROMOTION_MIN_HELD_OUT}): the comparison is weak"
        )
    rows = metrics_side_by_side(run.candidate_metrics, run.active_metrics)
    return {
        "metrics_better": sum(1 for row in rows if row["better"] == "candidate"),
        "metrics_worse": sum(1 for row in rows if row["better"] == "active"),
        "words": words,
        "metric": metric,
        "candidate_better": better,
        "held_out_events": None if held_out is None else int(held_out),
        "interval": interval,
        "warnings": warnings,
    }


def promotion_warnings(*, model_version: ModelVersion) -> list[str]:
    """Why promoting this version asks for a reason: from the newest finished run that trained it (none when no
    run compared it, e.g. a version trained from the command line)."""
    run = (
        TrainingRun.objects.filter(candidate=model_version, status=TrainingRun.Status.SUCCEEDED)
        .order_by("-created_at")
        .first()
    )
    return [] if run is None else comparison_verdict(run)["warnings"]


def _flatten(metrics: Any, prefix: str = "") -> dict[str, float]:
    flat: dict[str, float] = {}
    if isinstance(metrics, dict):
        for key, value in metrics.items():
            if key in ("review_effort", "confusion", "confusion_matrix"):
                continue  # shown as plots
            flat.update(_flatten(value, f"{prefix}{key}."))
    elif isinstance(metrics, int | float) and not isinstance(metrics, bool):
        flat[prefix.rstrip(".")] = float(metrics)
    return flat


def metrics_side_by_side(candidate: dict[str, Any], active: dict[str, Any] | None) -> list[MetricRow]:
    """Rows (metric, candidate value, active value, difference) of every number both metric sets hold."""
    ours, theirs = _flatten(candidate), _flatten(active or {})
    rows: list[MetricRow] = []
    for name in ours.keys() | theirs.keys():
        a, b = ours.get(name), theirs.get(name)
        rows.append(
            {
                "metric": name,
                "candidate": a,
                "active": b,
                "difference": None if a is None or b is None else round(a - b, 4),
                "better": metric_better(name, a, b),
            }
        )
    return sorted(rows, key=lambda row: (row["metric"].count("."), row["metric"]))
