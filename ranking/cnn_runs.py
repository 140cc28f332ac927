"""The waveform CNN in the product: windows of stored events, batched inference with saliency, stored
predictions, training and evaluation on the shared data plus the analysts' labelled events.

Numerical work lives in ranking.ml.cnn (no Django); this module reads the database and the waveform
sources, and writes CnnPrediction rows and saliency files under DATA_DIR/cnn_saliency.
"""

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from obspy import UTCDateTime

from events.labels import labels_in_force_order
from events.models import Event, EventLabel, Pick
from events.vocabulary import ReviewState
from ranking.ml.classes import CNN_CLASS_BY_EVENT_TYPE
from ranking.ml.cnn.datasets import (
    CLASSES,
    NOISE,
    LabelledWindows,
    WindowRecord,
    shared_windows,
    split_by_event,
    windows_drop_known_events,
    windows_empty,
    windows_from_records,
)
from ranking.ml.cnn.windows import (
    ONSET_SEARCH_S,
    SAMPLING_RATE,
    WindowError,
    onset_detect,
    trace_pick_component,
    window_prepare,
)
from ranking.models import CnnPrediction, ModelVersion
from ranking.pipeline import events_schedule_cnn
from ranking.registry import (
    cnn_active_load,
    model_artifact_load,
    model_version_active,
    model_version_promote,
    model_version_register,
)
from ranking.waveform_features import event_arrivals_predict
from waveforms import sources
from waveforms.selectors import epoch_microseconds, epoch_microseconds_sql, waveform_coverage, waveform_sds_roots

if TYPE_CHECKING:  # the network module imports Keras: loaded only where a model runs
    from ranking.ml.cnn.network import FirstLayerFilters

logger = logging.getLogger(__name__)

READ_BEFORE_ORIGIN_S = 40.0
READ_AFTER_ORIGIN_S = 160.0
LABEL_CLASSES: dict[str, int] = {
    event_type: CLASSES.index(name) for event_type, name in CNN_CLASS_BY_EVENT_TYPE.items()
}


class CnnTrainingError(Exception):
    """Not enough windows to train or evaluate the CNN, or no CNN to evaluate."""


@dataclass
class EventWindows:
    event_id: int
    records: list[WindowRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _aware(value: UTCDateTime) -> dt.datetime:
    moment: dt.datetime = value.datetime
    return moment.replace(tzinfo=dt.UTC)


def event_window_records(*, event: Event, label: int = NOISE) -> EventWindows:
    """One record per station with waveforms around ``event``: the vertical (else another component),
    onset = the station's first P pick, else the iasp91 P prediction (station coordinates known), else
    STA/LTA + AIC 0.5-45 s after the origin time (ONSET_SEARCH_S)."""
    found = EventWindows(event.pk)
    if event.origin_time is None:
        found.problems.append("no origin time")
        return found
    origin = UTCDateTime(event.origin_time)
    result = sources.stream_for_window(
        start=_aware(origin - READ_BEFORE_ORIGIN_S), end=_aware(origin + READ_AFTER_ORIGIN_S)
    )
    found.problems.extend(result.problems)
    picks: dict[tuple[str, str], UTCDateTime] = {}
    for pick in Pick.objects.filter(event=event).order_by("time"):
        if pick.phase_hint.upper().startswith("P"):
            picks.setdefault((pick.network, pick.station), UTCDateTime(pick.time))
    stream = result.stream
    for network, station in sorted({(t.stats.network, t.stats.station) for t in stream}):
        trace = trace_pick_component(stream.select(network=network, station=station).merge(method=1))
        if trace is None:
            continue
        onset = picks.get((network, station))
        if onset is None and (predicted := event_arrivals_predict(event=event, network=network, station=station)):
            onset = predicted.p_time
        if onset is None:
            onset = onset_detect(trace, search_start=origin + ONSET_SEARCH_S[0], search_end=origin + ONSET_SEARCH_S[1])
        if onset is None:
            found.problems.append(f"{trace.id}: no onset found")
            continue
        found.records.append(WindowRecord(trace, onset, None, label, f"db:{event.pk}", origin.timestamp, "db"))
    return found


@dataclass
class CnnOutcome:
    classified: int = 0
    without_windows: int = 0
    no_model: bool = False
    device: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "classified": self.classified,
            "without_windows": self.without_windows,
            "no_model": self.no_model,
            "device": self.device,
            "seconds": round(self.seconds, 3),
        }


def saliency_dir() -> Path:
    return Path(settings.DATA_DIR) / "cnn_saliency"


def events_classify_cnn(*, event_ids: Sequence[int]) -> CnnOutcome:
    """Run the active CNN over every station window of the events, in batches across events, and store
    one CnnPrediction per event with its per-station details and float16 saliency curves. The event
    probabilities are the SNR-weighted mean log-probability of the stations, combined (geometric mean)
    with the event-level spectral regression stored with the model where it has one. Without an active
    CNN nothing is written."""
    from ranking.ml.cnn.event_model import event_decide
    from ranking.ml.cnn.network import CnnPredictor, station_weights

    started = time.perf_counter()
    loaded = cnn_active_load()
    if loaded is None:
        return CnnOutcome(no_model=True)
    predictor = _predictor(loaded.version.version, loaded.model, CnnPredictor)
    event_model = cnn_event_model(model_version=loaded.version)
    events = list(Event.objects.filter(pk__in=list(event_ids)).order_by("pk"))
    per_event: list[tuple[Event, list[Any], list[str]]] = []
    windows: list[np.ndarray] = []
    for event in events:
        found = event_window_records(event=event)
        prepared = []
        for record in found.records:
            try:
                prepared.append(window_prepare(record.trace, onset=record.onset))
            except WindowError as error:
                found.problems.append(str(error))
        windows.extend(w.data for w in prepared)
        per_event.append((event, prepared, found.problems))
    stack = np.stack(windows) if windows else np.zeros((0, 1), np.float32)
    curves, probabilities = predictor.saliency(stack) if windows else (np.zeros((0, 0)), np.zeros((0, 4)))
    outcome = CnnOutcome(device=predictor.device)
    offset = 0
    version = loaded.version.version
    for event, prepared, problems in per_event:
        count = len(prepared)
        probs, cams = probabilities[offset : offset + count], curves[offset : offset + count]
        offset += count
        snr = np.array([w.snr for w in prepared], dtype=np.float64)
        weights = station_weights(snr) if count else snr
        stations = [
            {
                "seed_id": w.seed_id,
                "probabilities": _named(p),
                "snr": round(float(w.snr), 3),
                "window_start": str(w.start),
                "sampling_rate": SAMPLING_RATE,
                "weight": round(float(wt), 4),
            }
            for w, p, wt in zip(prepared, probs, weights, strict=True)
        ]
        event_probabilities = {}
        if count:
            event_windows = np.stack([w.data for w in prepared])
            event_probabilities = _named(event_decide(probs, snr, event_windows, event_model))
        relative = ""
        if count:
            relative = f"cnn_saliency/{version}/{event.pk}.npz"
            path = Path(settings.DATA_DIR) / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{event.pk}.partial.npz")
            np.savez_compressed(
                partial, saliency=cams.astype(np.float16), seed_ids=np.array([w.seed_id for w in prepared])
            )
            partial.replace(path)
        CnnPrediction.objects.update_or_create(
            event=event,
            model_version=version,
            defaults={
                "predicted_class": max(event_probabilities, key=event_probabilities.__getitem__) if count else "",
                "class_probabilities": event_probabilities,
                "stations": stations,
                "saliency_path": relative,
                "problems": problems[:50],
            },
        )
        if count:
            outcome.classified += 1
        else:
            outcome.without_windows += 1
    outcome.seconds = time.perf_counter() - started
    logger.info("CNN %s on %s: %s", version, outcome.device, outcome.as_dict())
    return outcome


def cnn_event_model(*, model_version: ModelVersion) -> Any:
    """The event-level spectral regression stored with a CNN version (an EventSpectralModel), or None for a
    version trained without one or with other features (logged: the CNN aggregate alone is used then)."""
    from ranking.ml.cnn.event_model import EventSpectralModel

    stored = model_version.training_summary.get("event_model")
    if not stored:
        return None
    try:
        return EventSpectralModel.from_dict(stored)
    except (KeyError, ValueError) as error:
        logger.warning("CNN %s: event model not used (%s)", model_version.version, error)
        return None


_predictors: dict[str, Any] = {}


def _predictor(version: str, model: Any, factory: Callable[..., Any]) -> Any:
    """One compiled predictor per CNN version per process (tracing the tf.functions costs ~1 s)."""
    if version not in _predictors:
        _predictors.clear()
        _predictors[version] = factory(model)
    return _predictors[version]


def _named(row: Iterable[float]) -> dict[str, float]:
    return {name: round(float(p), 5) for name, p in zip(CLASSES, row, strict=True)}


def cnn_prediction_latest(*, event_id: int) -> CnnPrediction | None:
    """The prediction of the active CNN for the event, else the newest of any version."""
    rows = CnnPrediction.objects.filter(event_id=event_id)
    active = model_version_active(kind=ModelVersion.Kind.CNN)
    if active is not None:
        found = rows.filter(model_version=active.version).first()
        if found is not None:
            return found
    return rows.order_by("-created_at", "-pk").first()


def cnn_features_for_events(event_ids: Sequence[int]) -> dict[int, dict[str, float]]:
    """Ranker (stacking) features from the stored CNN predictions: for each event with a prediction of
    the active CNN (else of the newest CNN), ``cnn_p_<class>`` for the four classes, ``cnn_stations``
    (windows used) and ``cnn_max_snr``. Events without a prediction are absent (the ranker reads NaN)."""
    active = model_version_active(kind=ModelVersion.Kind.CNN)
    rows = CnnPrediction.objects.filter(event_id__in=list(event_ids)).exclude(class_probabilities={})
    chosen: dict[int, CnnPrediction] = {}
    for row in rows.order_by("event_id", "-created_at", "-pk"):
        current = chosen.get(row.event_id)
        if current is None or (active is not None and row.model_version == active.version != current.model_version):
            chosen[row.event_id] = row
    features: dict[int, dict[str, float]] = {}
    for event_id, row in chosen.items():
        values = {f"cnn_p_{name}": float(row.class_probabilities.get(name, np.nan)) for name in CLASSES}
        values["cnn_stations"] = float(len(row.stations))
        values["cnn_max_snr"] = float(max((s.get("snr", 0.0) for s in row.stations), default=np.nan))
        features[event_id] = values
    return features


def cnn_trained_on_events(*, versions: Iterable[str]) -> dict[str, set[int]]:
    """For each CNN version, the database events whose windows it was trained on (its
    ``training_summary["trained_on_events"]``): its probabilities for them are in-sample."""
    rows = ModelVersion.objects.filter(kind=ModelVersion.Kind.CNN, version__in=list(versions))
    return {
        row.version: {int(i) for i in (row.training_summary or {}).get("trained_on_events", [])}
        for row in rows.only("version", "training_summary")
    }


class CnnSaliency(TypedDict):
    model_version: str
    window_start: Annotated[str, "UTC, ISO 8601: where the curve starts"]
    sampling_rate: Annotated[float, "Hz"]
    window_s: Annotated[float, "the curve's length, s"]
    probabilities: Annotated[dict[str, float], "the CNN's class probabilities for this channel's window"]
    values: Annotated[list[float], "saliency, 0-1, one value per sample"]


def cnn_saliency_for(*, event_id: int, seed_id: str) -> CnnSaliency | None:
    """The saliency curve of one channel's window (values 0-1 at the stored sampling rate, 40 Hz since
    cnn1d-spectral-v2, from window_start), or None."""
    prediction = cnn_prediction_latest(event_id=event_id)
    if prediction is None or not prediction.saliency_path:
        return None
    index = next((i for i, s in enumerate(prediction.stations) if s["seed_id"] == seed_id), None)
    path = Path(settings.DATA_DIR) / prediction.saliency_path
    if index is None or not path.is_file():
        return None
    with np.load(path) as stored:
        curve = stored["saliency"][index].astype(np.float32)
    station = prediction.stations[index]
    rate = float(station.get("sampling_rate", SAMPLING_RATE))
    return {
        "model_version": prediction.model_version,
        "window_start": station["window_start"],
        "sampling_rate": rate,
        "window_s": round(curve.size / rate, 3),
        "probabilities": station["probabilities"],
        "values": [round(float(v), 3) for v in curve],
    }


def events_covered_by_waveforms(events: QuerySet[Event]) -> list[int]:
    """The ids of the events of ``events`` that a registered waveform file covers around their origin time (the
    span the CNN reads), newest origin first; all of them when an SDS archive is registered, whose coverage is not
    indexed. An interval search: the traces' union as sorted spans (one query), then a binary search per event,
    instead of a correlated EXISTS over the trace table for every event (bench/bench_coverage.py)."""
    events = events.filter(origin_time__isnull=False).order_by("-origin_time", "-pk")
    if waveform_sds_roots():
        return list(events.values_list("pk", flat=True))
    coverage = waveform_coverage()
    if not len(coverage.starts):
        return []
    quote = connection.ops.quote_name
    epoch = epoch_microseconds_sql(f"{quote(Event._meta.db_table)}.{quote('origin_time')}")
    if epoch is not None:  # PostgreSQL: the driver parses integers, not 100,000 timestamps
        rows = list(events.annotate(origin_us=RawSQL(epoch, ())).values_list("pk", "origin_us"))  # noqa: S611 (fixed SQL)
    else:
        rows = [
            (pk, epoch_microseconds(origin))
            for pk, origin in events.values_list("pk", "origin_time")
            if origin is not None  # filtered out above; the type does not know
        ]
    if not rows:
        return []
    pairs = np.array(rows, dtype=np.int64)
    covered = coverage.covers(pairs[:, 1], before=READ_BEFORE_ORIGIN_S, after=READ_AFTER_ORIGIN_S)
    return [int(pk) for pk in pairs[covered, 0]]


def cnn_promoted(*, slice_size: int = 10_000) -> int:
    """After a CNN promotion, once it commits: send the events with waveforms that are unreviewed (their scores
    stack the new CNN) or labelled (the next ranker training learns the CNN's weight from them; imported
    reviewed catalogues are never measured, so nothing else would classify them) and that the new CNN has not
    classified yet to it on the gpu queue. The ids go in slices, so no query carries a million-id IN list.
    Returns how many events were sent."""
    active = model_version_active(kind=ModelVersion.Kind.CNN)
    if active is None:
        return 0
    labelled = EventLabel.objects.values("event_id")
    classified = CnnPrediction.objects.filter(event=OuterRef("pk"), model_version=active.version)
    events = (
        Event.objects.filter(origin_time__isnull=False)
        .filter(Q(review_state__in=(ReviewState.NEW, ReviewState.SCORED)) | Q(pk__in=labelled))
        .exclude(Exists(classified))
    )
    ids = events_covered_by_waveforms(events)
    for start in range(0, len(ids), slice_size):
        events_schedule_cnn(event_ids=ids[start : start + slice_size])
    return len(ids)


def db_labelled_windows(*, limit: int = 300) -> LabelledWindows:
    """Windows of the newest ``limit`` events that carry an analyst label mapping to a CNN class and whose
    waveforms are registered (each event's label in force counts)."""
    latest: dict[int, str] = {}
    for event_id, event_type in EventLabel.objects.order_by("event_id", *labels_in_force_order()).values_list(
        "event_id", "event_type"
    ):
        latest.setdefault(event_id, event_type)
    wanted = {event_id: LABEL_CLASSES[t] for event_id, t in latest.items() if t in LABEL_CLASSES}
    # the newest `limit` labelled events WITH waveforms, not the newest of a catalogue that mostly has none
    newest = events_covered_by_waveforms(Event.objects.filter(pk__in=list(wanted)))[:limit]
    events = Event.objects.filter(pk__in=newest).order_by("-origin_time", "-pk")
    records: list[WindowRecord] = []
    for event in events:
        records.extend(event_window_records(event=event, label=wanted[event.pk]).records)
    return windows_from_records(records)


def cnn_training_windows(
    *, data_dir: Path | None, limit: int | None = None, progress: Callable[[str], None] | None = None
) -> tuple[LabelledWindows, LabelledWindows]:
    """The CNN's labelled windows: the shared data folder's (cached; none when ``data_dir`` is None), then the
    database's analyst-labelled events with waveforms, less those that are shared-data events imported into the
    database (same time); and apart, the windows of those skipped database events (a CNN trained on their shared
    copies has seen them)."""
    cache = Path(settings.DATA_DIR) / "cache" / "cnn"
    shared = (
        windows_empty()
        if data_dir is None
        else shared_windows(data_dir, limit=limit, cache_dir=cache, progress=progress)
    )
    stored, duplicates = windows_drop_known_events(db_labelled_windows(), shared)
    if progress is not None and (len(stored) or len(duplicates)):
        progress(
            f"database: {len(stored)} windows {stored.counts()}; {len(set(duplicates.groups.tolist()))} "
            "labelled events skipped as the same events as the shared data's"
        )
    return LabelledWindows.concatenate([shared, stored]), duplicates


def cnn_train(
    *,
    created_by: str,
    data_dir: Path | None = None,
    database_only: bool = False,
    epochs: int = 80,
    promote: bool = False,
    limit: int | None = None,
    steps: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> ModelVersion:
    """Train the CNN on the training side of the event split of the shared data and the labelled events
    (best epoch chosen on a validation split of the training events, then refitted on all of them; the same
    validation split decides whether the event-level spectral regression joins the event decision),
    evaluate it (and the spectral-feature baseline) on the held-out side, register it with those
    metrics, and promote it when asked. ``database_only`` leaves the shared data folder out: the labelled events
    with waveforms in the database alone (the demo's CNN, a deployment without the shared folder)."""
    from ranking.ml.cnn.evaluation import (
        baseline_fit,
        baseline_probabilities,
        event_model_fit,
        event_model_select,
        split_metrics,
    )
    from ranking.ml.cnn.network import ARCHITECTURE_VERSION, CnnPredictor, fit_with_validation, model_flops

    folder = None if database_only else data_dir or Path(settings.SHARED_DATA_DIR)
    data, duplicates = cnn_training_windows(data_dir=folder, limit=limit, progress=progress)
    train_mask, test_mask = split_by_event(data)
    train, test = data.subset(train_mask), data.subset(test_mask)
    if len(train) < 8 or len(set(train.labels.tolist())) < 2:
        raise CnnTrainingError(f"{len(train)} training windows in {len(set(train.labels.tolist()))} classes: too few")
    result = fit_with_validation(train, epochs=epochs, steps=steps, progress=progress)
    event_model, event_choice = event_model_select(train, result)
    metrics: dict[str, Any] = {
        "device": result.device,
        "flops_per_window": model_flops(result.model),
        "event_decision": event_choice,
    }
    if len(test):
        # the spectral regression is always fitted on the training events for the report; the product uses it
        # only when the validation split chose it (event_model)
        probabilities = CnnPredictor(result.model).predict(test.windows)
        metrics["held_out"] = split_metrics(test, probabilities, event_model or event_model_fit(train))
        metrics["baseline"] = split_metrics(test, baseline_probabilities(baseline_fit(train), test))
    version = model_version_register(
        kind=ModelVersion.Kind.CNN,
        model=result.model,
        created_by=created_by,
        feature_names=list(CLASSES),
        feature_version=ARCHITECTURE_VERSION,
        estimator="keras-conv1d",
        training_summary={
            "windows": len(train),
            "held_out_windows": len(test),
            "labels": train.counts(),
            "held_out_labels": test.counts(),
            "events": len(set(train.groups.tolist())),
            "held_out_events": len(set(test.groups.tolist())),
            "epochs": epochs,
            "best_epoch": result.best_epoch,
            # database events whose windows it learned from, directly or as the shared data's copy of the event
            "trained_on_events": sorted(
                {int(g[3:]) for g in train.groups.tolist() if g.startswith("db:")}
                | {int(g[3:]) for g in windows_drop_known_events(duplicates, train)[1].groups.tolist()}
            ),
            "fit_seconds": round(result.seconds, 1),
            "history": result.history[-1:] if result.history else [],
            "data_dir": str(folder) if folder is not None else "",  # "": the database's labelled events only
            "event_model": event_model.as_dict() if event_model is not None else None,
        },
        metrics=metrics,
    )
    if promote:
        with transaction.atomic():
            model_version_promote(model_version=version)
            cnn_promoted()
    return version


def learning_curve_point(cv: dict[str, Any]) -> dict[str, Any]:
    """The figures of one cross-validation run that the learning curve plots against the explosion share."""
    event = cv["cnn"]["event"]
    return {
        "explosion_fraction": cv.get("explosion_fraction", 1.0),
        "event_macro_f1": event["macro_f1"],
        "explosion_f1": event["per_class"]["explosion"]["f1"],
        "earthquake_vs_explosion_auc": event["earthquake_vs_explosion_auc"],
        "pnw_earthquake_vs_explosion_auc": cv["pnw_event"]["earthquake_vs_explosion_auc"],
    }


def cnn_evaluate(
    *,
    model_version: ModelVersion | None = None,
    data_dir: Path | None = None,
    limit: int | None = None,
    folds: int = 0,
    epochs: int = 80,
    peer: bool = True,
    learning_curve: Sequence[float] = (),
    refit: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Trace- and event-level metrics of a stored CNN (default: the active one) on the held-out split,
    beside the logistic-regression baseline on spectral features trained on the training split. With
    ``folds`` >= 2, also a grouped k-fold cross-validation over time blocks of the same architecture
    (fresh networks, ``epochs`` at most each) under "cross_validation". With ``peer``, the seisclass peer on the
    same event windows and its frozen-feature transfer (same time-block folds) under "peer"; each fraction of
    ``learning_curve`` reruns the cross-validation with that share of the explosion events in the training
    folds (under "learning_curve", with the full run as 1.0). ``refit`` False keeps each fold's early-stopping
    network instead of refitting on all its training events (half the cost: for quick learning curves)."""
    from ranking.ml.cnn.evaluation import baseline_fit, baseline_probabilities, cross_validate, split_metrics
    from ranking.ml.cnn.network import CnnPredictor

    version = model_version or model_version_active(kind=ModelVersion.Kind.CNN)
    if version is None:
        raise CnnTrainingError("no CNN to evaluate: train one (train --kind cnn --promote), or name it with --model")
    model = model_artifact_load(model_version=version)
    event_model = cnn_event_model(model_version=version)
    data, _ = cnn_training_windows(data_dir=data_dir or Path(settings.SHARED_DATA_DIR), limit=limit)
    train_mask, test_mask = split_by_event(data)
    train, test = data.subset(train_mask), data.subset(test_mask)
    if not len(test):
        raise CnnTrainingError("no held-out windows to evaluate on")
    result: dict[str, Any] = {
        "model": version.version,
        "held_out_windows": len(test),
        "held_out_labels": test.counts(),
        "cnn": split_metrics(test, CnnPredictor(model).predict(test.windows), event_model),
        "baseline": split_metrics(test, baseline_probabilities(baseline_fit(train), test)),
    }
    extra: dict[str, Any] = {}
    if peer:
        from ranking.ml.cnn.peer_evaluation import peer_evaluate

        result["peer"] = peer_evaluate(data, folds=max(folds, 2) if folds else 5)
    if folds >= 2:
        cv = cross_validate(data, folds=folds, epochs=epochs, refit=refit, progress=progress)
        result["cross_validation"] = cv
        curve = [learning_curve_point(cv)]
        for fraction in learning_curve:
            part = cross_validate(
                data, folds=folds, epochs=epochs, explosion_fraction=fraction, refit=refit, progress=progress
            )
            curve.append(learning_curve_point(part))
        result["learning_curve"] = sorted(curve, key=lambda row: float(row["explosion_fraction"]))
        extra["latest_cross_validation"] = {
            "folds": cv["folds"],
            "fold_event_macro_f1": cv["fold_event_macro_f1"],
            "per_fold": cv["per_fold"],
            "event": cv["cnn"]["event"],
            "event_combined": cv["cnn"].get("event_combined"),
            "event_selected": cv["cnn"].get("event_selected"),
            "baseline_event": cv["baseline"]["event"],
            "by_source": cv["by_source"],
            "pnw_event": cv["pnw_event"],
            # every event's out-of-fold probabilities: what evaluate --kind ranker --cnn-value stacks
            "events": cv["events"],
        }
        finetuned = result.get("peer", {}).get("transfer_finetuned")
        if finetuned is not None:
            from ranking.ml.cnn.peer_evaluation import peer_versus_cnn

            result["peer_versus_cnn"] = peer_versus_cnn(cv["events"], finetuned["event_probabilities"])
        if "peer" in result:
            extra["latest_peer"] = result["peer"]
            if "peer_versus_cnn" in result:
                extra["latest_peer_versus_cnn"] = result["peer_versus_cnn"]
    with transaction.atomic():
        version.refresh_from_db(fields=["metrics"])  # a long run must not drop what was stored meanwhile
        stored = {**version.metrics, "latest_evaluation": result["cnn"], "latest_baseline": result["baseline"]}
        if "learning_curve" in result:
            stored["latest_learning_curve"] = {"epochs": epochs, "refit": refit, "points": result["learning_curve"]}
        if refit:  # a quick (no-refit) cross-validation does not replace the stored one
            stored.update(extra)
        version.metrics = stored
        version.save(update_fields=["metrics"])
    return result


class CnnModelPage(TypedDict):
    version: str
    filters: "FirstLayerFilters"
    metrics: dict[str, Any]  # stored JSON: the version's metrics by name


def cnn_model_page_data(*, model_version: ModelVersion) -> CnnModelPage:
    """Data for the model page: first-layer filters (waveforms and frequency responses) and metrics."""
    from ranking.ml.cnn.network import first_layer_filters

    model = model_artifact_load(model_version=model_version)
    return {"version": model_version.version, "filters": first_layer_filters(model), "metrics": model_version.metrics}
