"""An event's inputs, read from the database: its feature vector (origin, picks, waveform measurements,
reviewed neighbours, gazetteer, CNN features) and the class weights of importance. Scoring and training both
read through here, so the ranker sees the same features at training and at scoring time."""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings
from obspy.geodetics import kilometers2degrees

from events.filters import event_filter_around, events_filter
from events.models import Event
from events.vocabulary import ReviewState
from ranking.cnn_runs import cnn_features_for_events
from ranking.false_evidence_inputs import SYNTHETIC_FALSE_FORMAT, events_false_evidence
from ranking.ml.classes import DECISION_CLASSES, NOT_EXISTING, class_weights_parse, decision_class_for
from ranking.ml.features import (
    NEIGHBOUR_RADIUS_KM,
    EventInputs,
    FloatArray,
    ReviewedCatalogue,
    feature_matrix,
    posix_seconds,
)
from ranking.ml.gazetteer import Gazetteer, GazetteerError, gazetteer_read
from ranking.ml.importance import PROFILES, Profile, profile_get
from ranking.models import CnnPrediction, EventWaveformFeatures, ModelVersion
from ranking.registry import model_version_active
from ranking.waveform_features import events_waveform_features, measurements_of

logger = logging.getLogger(__name__)


def class_weights() -> dict[str, float]:
    """Importance weight per decision class: SEISTRIAGE_CLASS_WEIGHTS over the profile's (ValueError if bad)."""
    return class_weights_parse(settings.SEISTRIAGE_CLASS_WEIGHTS, base=PROFILES[settings.SEISTRIAGE_PROFILE].weights)


def importance_profile() -> Profile:
    """The deployment profile of SEISTRIAGE_PROFILE with the class weights of class_weights()."""
    return profile_get(settings.SEISTRIAGE_PROFILE, class_weights())


def class_of_review(*, review_state: str, event_type: str) -> str | None:
    """The decision class an analyst decision stands for (a rejection is a false event, whatever the type)."""
    if review_state == ReviewState.REJECTED:
        return NOT_EXISTING
    return decision_class_for(event_type) if event_type else None


def _gazetteer_mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


@lru_cache(maxsize=4)
def _gazetteer_cached(path: str, mtime: float) -> Gazetteer:
    return gazetteer_read(Path(path))


def gazetteer_current() -> Gazetteer | None:
    """The configured gazetteer, re-read when the file changes; None when there is none (feature stays NaN)."""
    path = Path(settings.SEISTRIAGE_GAZETTEER)
    mtime = _gazetteer_mtime(path)
    if mtime is None:
        return None
    try:
        return _gazetteer_cached(str(path), mtime)
    except GazetteerError:
        logger.exception("ignoring the gazetteer")
        return None


def reviewed_catalogue(*, near: Sequence[Event] | None = None) -> ReviewedCatalogue:
    """Reviewed events (accepted or rejected, with a decision class), optionally only around ``near`` events."""
    rows = Event.objects.filter(
        review_state__in=(ReviewState.ACCEPTED, ReviewState.REJECTED),
        origin_time__isnull=False,
        latitude__isnull=False,
        longitude__isnull=False,
    ).exclude(source_format=SYNTHETIC_FALSE_FORMAT)  # training material, not a decision about a place
    if near is not None:
        coordinates = [(e.latitude, e.longitude) for e in near if e.latitude is not None and e.longitude is not None]
        if not coordinates:
            return ReviewedCatalogue.empty()
        box = event_filter_around(points=coordinates, radius=kilometers2degrees(NEIGHBOUR_RADIUS_KM))
        rows = events_filter(queryset=rows, where=box)
    times: list[float] = []
    latitudes: list[float] = []
    longitudes: list[float] = []
    classes: list[int] = []
    for origin_time, latitude, longitude, review_state, event_type in rows.values_list(
        "origin_time", "latitude", "longitude", "review_state", "event_type"
    ):
        decision_class = class_of_review(review_state=review_state, event_type=event_type)
        if decision_class is None or origin_time is None or latitude is None or longitude is None:
            continue
        times.append(origin_time.timestamp())
        latitudes.append(latitude)
        longitudes.append(longitude)
        classes.append(DECISION_CLASSES.index(decision_class))
    return ReviewedCatalogue(
        np.array(times, dtype=np.float64),
        np.array(latitudes, dtype=np.float64),
        np.array(longitudes, dtype=np.float64),
        np.array(classes, dtype=np.int64),
    )


@dataclass(frozen=True)
class CnnFeatures:
    """An event's stacking features (ranking.ml.features.CNN_FEATURE_NAMES -> value) and their CNN version."""

    version: str
    values: dict[str, float]


def events_cnn_features(*, event_ids: Sequence[int]) -> dict[int, CnnFeatures]:
    """The CNN features of the events that have a prediction with probabilities (the active CNN's, else the
    newest), with that prediction's CNN version; events without one are absent (their features stay NaN)."""
    values = cnn_features_for_events(list(event_ids))
    if not values:
        return {}
    active = model_version_active(kind=ModelVersion.Kind.CNN)
    versions: dict[int, str] = {}
    # The same choice as cnn_features_for_events: the active CNN's row, else the newest row.
    for event_id, version in (
        CnnPrediction.objects.filter(event_id__in=list(values))
        .exclude(class_probabilities={})
        .order_by("event_id", "-created_at", "-pk")
        .values_list("event_id", "model_version")
    ):
        if event_id not in versions or (active is not None and version == active.version):
            versions[event_id] = version
    return {event_id: CnnFeatures(versions[event_id], row) for event_id, row in values.items() if event_id in versions}


def event_inputs(
    *,
    event: Event,
    waveform_features: EventWaveformFeatures | None = None,
    cnn_features: Mapping[str, float] | None = None,
    false_evidence: Mapping[str, float] | None = None,
) -> EventInputs:
    """The ranker's inputs for one located event (its preferred origin must be loaded alongside)."""
    assert event.origin_time is not None and event.latitude is not None and event.longitude is not None
    origin = event.preferred_origin
    uncertainties = [] if origin is None else [origin.latitude_uncertainty, origin.longitude_uncertainty]
    known = [u for u in uncertainties if u is not None]
    return EventInputs(
        origin_time=posix_seconds(event.origin_time),
        latitude=event.latitude,
        longitude=event.longitude,
        depth_km=event.depth,
        magnitude=event.magnitude,
        magnitude_type=event.magnitude_type,
        used_phase_count=event.phase_count,
        used_station_count=None if origin is None else origin.used_station_count,
        azimuthal_gap_deg=event.azimuthal_gap,
        minimum_distance_deg=None if origin is None else origin.minimum_distance,
        rms_s=event.rms,
        horizontal_uncertainty_km=max(known) if known else None,
        depth_uncertainty_km=None if origin is None else origin.depth_uncertainty,
        measurements=measurements_of(waveform_features),
        similarity_correlation=None if waveform_features is None else waveform_features.similarity_correlation,
        similarity_class=(
            DECISION_CLASSES.index(waveform_features.similarity_class)
            if waveform_features is not None and waveform_features.similarity_class
            else None
        ),
        similarity_channels=None if waveform_features is None else waveform_features.similarity_channels,
        cnn_features=dict(cnn_features or {}),
        false_evidence=dict(false_evidence or {}),
    )


CNN_FEATURE_MODES = ("auto", "on", "off")


def ranker_uses_cnn_features() -> bool:
    """Whether the ranker's features carry the CNN's probabilities (SEISTRIAGE_RANKER_CNN_FEATURES): "on"/"off"
    force it; "auto" follows the proof of value stored on the active CNN (``metrics["cnn_value"]``, written by
    ``evaluate --kind ranker --cnn-value``), and keeps them while no such decision exists."""
    mode = str(settings.SEISTRIAGE_RANKER_CNN_FEATURES).strip().lower()
    if mode not in CNN_FEATURE_MODES:
        raise ValueError(f"SEISTRIAGE_RANKER_CNN_FEATURES must be one of {', '.join(CNN_FEATURE_MODES)}, not {mode!r}")
    if mode != "auto":
        return mode == "on"
    active = model_version_active(kind=ModelVersion.Kind.CNN)
    decision = (active.metrics.get("cnn_value") or {}) if active is not None else {}
    return bool(decision.get("cnn_features_in_default_ranker", True))


def events_feature_matrix(
    *,
    events: Sequence[Event],
    waveform: Mapping[int, EventWaveformFeatures] | None = None,
    cnn: Mapping[int, CnnFeatures] | None = None,
) -> FloatArray:
    """Features of located events, rows in ``events`` order (see ranking.ml.features.FEATURES).

    Waveform features come from the per-event cache, measured first where missing or stale; the CNN features
    from the stored CNN predictions. Either is read here unless given (``waveform``, ``cnn``).
    """
    if waveform is None:
        waveform = events_waveform_features(events=events)
    if cnn is None:
        cnn = events_cnn_features(event_ids=[event.pk for event in events])
    if not ranker_uses_cnn_features():
        cnn = {}
    from ranking.blast_sites import events_site_features  # blast_sites reads this module's helpers

    sites = events_site_features(events)
    evidence = events_false_evidence(events=events, waveform=waveform)
    return feature_matrix(
        [
            replace(
                event_inputs(
                    event=event,
                    waveform_features=waveform.get(event.pk),
                    cnn_features=found.values if (found := cnn.get(event.pk)) else None,
                    false_evidence=evidence.get(event.pk),
                ),
                blast_site=tuple(float(v) for v in sites[row]),
            )
            for row, event in enumerate(events)
        ],
        gazetteer=gazetteer_current(),
        reviewed=reviewed_catalogue(near=events),
    )
