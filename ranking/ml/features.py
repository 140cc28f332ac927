"""One feature vector per event for the ranker (pure NumPy/scikit-learn, no Django).

Every feature is a float64; a value the event does not have (no picks, no waveforms, no gazetteer)
stays NaN, and the histogram gradient boosting ranker routes missing values itself. The table
FEATURES documents each one: name, unit and how it is computed. Changing the list or a computation
changes FEATURE_VERSION, and a model is only used with the feature version it was trained on.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
from obspy.geodetics import degrees2kilometers
from sklearn.neighbors import BallTree

from ranking.ml.classes import CNN_CLASSES, DECISION_CLASSES, EXPLOSION_LIKE, NOT_EXISTING, OTHER_NATURAL
from ranking.ml.false_evidence import FALSE_EVIDENCE_DESCRIPTIONS, FALSE_EVIDENCE_NAMES
from ranking.ml.gazetteer import EARTH_RADIUS_KM, Gazetteer, nearest_site_km

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

FEATURE_VERSION = "origin-time-place-waveform-similarity-cnn-3+blast-site+fe-1+ll"
NEIGHBOUR_RADIUS_KM = 10.0

# Magnitude types as codes a tree can split on; similar scales share a code. Unknown types get 0.
MAGNITUDE_TYPE_CODES: dict[str, float] = {
    "ml": 1.0,
    "mlv": 1.0,
    "mlr": 1.0,
    "mlg": 1.0,
    "mlh": 1.0,
    "md": 2.0,
    "mc": 2.0,
    "mdl": 2.0,
    "mw": 3.0,
    "mww": 3.0,
    "mwr": 3.0,
    "mwc": 3.0,
    "mwb": 3.0,
    "mwp": 3.0,
    "mh": 3.0,
    "mb": 4.0,
    "mb_lg": 5.0,
    "mblg": 5.0,
    "mn": 5.0,
    "ms": 6.0,
    "ms_20": 6.0,
    "ms(bb)": 6.0,
    "mb(bb)": 4.0,
    "me": 7.0,
    "m": 8.0,
}

# Waveform measurements aggregated over stations (attribute name of TraceMeasurements, unit).
WAVEFORM_MEASURES: tuple[tuple[str, str], ...] = (
    ("snr", "ratio"),
    ("dominant_frequency_hz", "Hz"),
    ("signal_duration_s", "s"),
    ("high_low_ratio", "log10 ratio"),
    ("ps_amplitude_ratio", "ratio"),
    ("sta_lta_max", "ratio"),
    ("kurtosis", "dimensionless"),
)


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    unit: str
    computation: str


FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("used_phase_count", "count", "phases used by the preferred origin"),
    FeatureSpec("used_station_count", "count", "stations used by the preferred origin"),
    FeatureSpec("azimuthal_gap_deg", "degree", "largest azimuthal gap between stations"),
    FeatureSpec("minimum_distance_km", "km", "epicentral distance of the nearest station"),
    FeatureSpec("rms_s", "s", "RMS of the origin's travel-time residuals"),
    FeatureSpec("horizontal_uncertainty_km", "km", "larger of the latitude and longitude uncertainties"),
    FeatureSpec("depth_uncertainty_km", "km", "depth uncertainty"),
    FeatureSpec("depth_km", "km", "depth below sea level (negative above)"),
    FeatureSpec("magnitude", "magnitude units", "preferred magnitude"),
    FeatureSpec("magnitude_type_code", "code", "magnitude type as a code (MAGNITUDE_TYPE_CODES, 0 unknown)"),
    FeatureSpec("local_solar_hour", "hour", "(UTC hour + longitude / 15) mod 24: blasts happen in working hours"),
    FeatureSpec("local_day_of_week", "day", "day of week of the local solar time, 0 Monday .. 6 Sunday"),
    FeatureSpec("latitude", "degree", "epicentre latitude: where blasts happen is local knowledge"),
    FeatureSpec("longitude", "degree", "epicentre longitude"),
    FeatureSpec("nearest_mine_km", "km", "great-circle distance to the nearest gazetteer mine/quarry"),
    FeatureSpec("reviewed_neighbour_count", "count", f"earlier reviewed events within {NEIGHBOUR_RADIUS_KM:g} km"),
    FeatureSpec("reviewed_explosion_share", "fraction", "share of those neighbours decided explosion-like"),
    FeatureSpec("reviewed_other_natural_share", "fraction", "share of those neighbours decided other natural"),
    FeatureSpec("reviewed_false_share", "fraction", "share of those neighbours rejected as not existing"),
    FeatureSpec("waveform_station_count", "count", "stations with waveform measurements"),
    *(
        FeatureSpec(f"waveform_{measure}_{statistic}", unit, f"{statistic} over stations of the trace {measure}")
        for measure, unit in WAVEFORM_MEASURES
        for statistic in ("median", "max")
    ),
    FeatureSpec(
        "similarity_max_correlation",
        "correlation",
        "highest mean normalised cross-correlation around P with a reviewed event nearby (ranking.ml.similarity)",
    ),
    FeatureSpec("similarity_best_class", "code", "decision class index (DECISION_CLASSES) of that best match"),
    FeatureSpec("similarity_channel_count", "count", "shared channels the best match was correlated on"),
    # Stacking: the waveform CNN's event-level output (ranking.cnn_runs.cnn_features_for_events; the active CNN's
    # prediction, else the newest CNN's); all NaN for an event the CNN has not classified or had no window of.
    *(
        FeatureSpec(
            f"cnn_p_{name}",
            "probability",
            f"waveform CNN's event-level P({name.replace('_', ' ')}) over its station windows (docs/cnn.md)",
        )
        for name in CNN_CLASSES
    ),
    FeatureSpec("cnn_stations", "count", "station windows the CNN classified for the event"),
    FeatureSpec("cnn_max_snr", "ratio", "highest CNN window SNR: RMS(onset .. +10 s) / RMS(pre-onset), 1-15 Hz"),
    # --- blast sites ---
    # group "blast_site": the event's likely learned blast site (ranking.ml.sites; ranking.blast_sites); NaN where
    # no site has been learned
    FeatureSpec("blast_site_distance_km", "km", "distance to the centroid of the likely blast site"),
    FeatureSpec("blast_site_distance_sigma", "uncertainties", "that distance over the location uncertainty"),
    FeatureSpec("blast_site_hour_share", "fraction", "share of the site's blasts within 1 h of the event's UTC hour"),
    FeatureSpec("blast_site_inside", "flag", "1 when the event lies inside the site (radius, hours), else 0"),
    # --- false-event evidence ---
    # Onsets at the stations' arrivals, who should have recorded it, the picks alone, and the label-free prior
    # (ranking.ml.false_evidence, docs/false_events.md); NaN where the event has no waveforms / no arrivals.
    *(FeatureSpec(name, *FALSE_EVIDENCE_DESCRIPTIONS[name]) for name in FALSE_EVIDENCE_NAMES),
    # --- end false-event evidence ---
)
BLAST_SITE_FEATURE_NAMES: tuple[str, ...] = (
    "blast_site_distance_km",
    "blast_site_distance_sigma",
    "blast_site_hour_share",
    "blast_site_inside",
)
FEATURE_NAMES: tuple[str, ...] = tuple(spec.name for spec in FEATURES)
CNN_FEATURE_NAMES: tuple[str, ...] = tuple(name for name in FEATURE_NAMES if name.startswith("cnn_"))
_COLUMN = {name: index for index, name in enumerate(FEATURE_NAMES)}

# Feature groups, for the ablation of `evaluate --kind ranker` (each group left out in turn) and for the generic
# model. Every feature belongs to exactly one group.
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "origin_quality": (
        "used_phase_count",
        "used_station_count",
        "azimuthal_gap_deg",
        "minimum_distance_km",
        "rms_s",
        "horizontal_uncertainty_km",
        "depth_uncertainty_km",
        "magnitude_type_code",
    ),
    "size_depth": ("depth_km", "magnitude"),
    "time": ("local_solar_hour", "local_day_of_week"),
    "place": ("latitude", "longitude", "nearest_mine_km"),
    "reviewed_neighbours": (
        "reviewed_neighbour_count",
        "reviewed_explosion_share",
        "reviewed_other_natural_share",
        "reviewed_false_share",
    ),
    "waveform": tuple(name for name in FEATURE_NAMES if name.startswith("waveform_")),
    "similarity": tuple(name for name in FEATURE_NAMES if name.startswith("similarity_")),
    "cnn": CNN_FEATURE_NAMES,
    "blast_site": BLAST_SITE_FEATURE_NAMES,
    "false_evidence": FALSE_EVIDENCE_NAMES,
}
# Groups the default ranker leaves out because the baseline gate measured no gain from them (docs/ranking.md):
# they are still computed (the importance's novelty term reads the neighbours) and ablated by `evaluate`.
DEFAULT_EXCLUDED_GROUPS: tuple[str, ...] = ("reviewed_neighbours",)
# The generic (cold-start) model sees nothing tied to one network's geography (docs/ranking.md).
LOCATION_GROUPS: tuple[str, ...] = ("place", "reviewed_neighbours", "similarity", "blast_site")


def features_of_groups(groups: Sequence[str]) -> tuple[str, ...]:
    """The feature names of the named FEATURE_GROUPS (KeyError naming an unknown group)."""
    return tuple(name for group in groups for name in FEATURE_GROUPS[group])


class TraceMeasurementsLike(Protocol):
    """The per-trace measurements the waveform features read (waveforms.measurements.TraceMeasurements)."""

    @property
    def snr(self) -> float | None: ...
    @property
    def dominant_frequency_hz(self) -> float | None: ...
    @property
    def signal_duration_s(self) -> float | None: ...
    @property
    def high_low_ratio(self) -> float | None: ...
    @property
    def ps_amplitude_ratio(self) -> float | None: ...
    @property
    def sta_lta_max(self) -> float | None: ...
    @property
    def kurtosis(self) -> float | None: ...


@dataclass(frozen=True)
class EventInputs:
    """What the features of one event are computed from: its preferred origin, magnitude, measurements.

    Times are POSIX seconds (UTC); coordinates in degrees; None where the event does not have a value.
    ``cnn_features`` maps CNN_FEATURE_NAMES to values (the CNN's stored prediction); absent names stay NaN.
    """

    origin_time: float
    latitude: float
    longitude: float
    depth_km: float | None = None
    magnitude: float | None = None
    magnitude_type: str = ""
    used_phase_count: int | None = None
    used_station_count: int | None = None
    azimuthal_gap_deg: float | None = None
    minimum_distance_deg: float | None = None
    rms_s: float | None = None
    horizontal_uncertainty_km: float | None = None
    depth_uncertainty_km: float | None = None
    measurements: Sequence[TraceMeasurementsLike] = field(default_factory=tuple)
    similarity_correlation: float | None = None
    similarity_class: int | None = None
    similarity_channels: int | None = None
    cnn_features: Mapping[str, float] = field(default_factory=dict)
    blast_site: Sequence[float] = ()  # BLAST_SITE_FEATURE_NAMES values (ranking.ml.sites.site_feature_rows row)
    false_evidence: Mapping[str, float] = field(default_factory=dict)  # FALSE_EVIDENCE_NAMES -> value


@dataclass(frozen=True)
class ReviewedCatalogue:
    """Already reviewed events: POSIX times, coordinates in degrees, decision class index (DECISION_CLASSES)."""

    times: FloatArray
    latitudes: FloatArray
    longitudes: FloatArray
    class_indices: IntArray

    @classmethod
    def empty(cls) -> "ReviewedCatalogue":
        return cls(np.empty(0), np.empty(0), np.empty(0), np.empty(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.times)


def _value(value: float | None) -> float:
    return np.nan if value is None else float(value)


def _origin_row(event: EventInputs) -> list[float]:
    minimum_distance = degrees2kilometers(_value(event.minimum_distance_deg))
    magnitude_type = event.magnitude_type.strip().lower()
    code = MAGNITUDE_TYPE_CODES.get(magnitude_type, 0.0) if magnitude_type else np.nan
    return [
        _value(event.used_phase_count),
        _value(event.used_station_count),
        _value(event.azimuthal_gap_deg),
        minimum_distance,
        _value(event.rms_s),
        _value(event.horizontal_uncertainty_km),
        _value(event.depth_uncertainty_km),
        _value(event.depth_km),
        _value(event.magnitude),
        code,
    ]


def local_solar_time(origin_times: FloatArray, longitudes: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Local solar hour (0-24) and day of week (0 Monday) from POSIX seconds and longitudes in degrees."""
    local_seconds = origin_times + longitudes * 240.0  # 360 degrees = 86400 s
    days = np.floor(local_seconds / 86400.0)
    hours = (local_seconds - days * 86400.0) / 3600.0
    day_of_week = np.mod(days + 3.0, 7.0)  # 1970-01-01 was a Thursday
    return hours, day_of_week


def reviewed_neighbours(
    reviewed: ReviewedCatalogue, times: FloatArray, latitudes: FloatArray, longitudes: FloatArray
) -> FloatArray:
    """Per event, (count, explosion share, other natural share, false share) of earlier reviewed neighbours.

    Neighbours lie within NEIGHBOUR_RADIUS_KM of the epicentre and are strictly earlier than the
    event, so an event never sees itself or its future (training and scoring see the same thing).
    Shares are NaN when there is no neighbour. Shape (n, 4).
    """
    result = np.full((len(times), 4), np.nan)
    result[:, 0] = 0.0
    if len(reviewed) == 0 or len(times) == 0:
        return result
    tree = BallTree(np.radians(np.column_stack([reviewed.latitudes, reviewed.longitudes])), metric="haversine")
    query = np.radians(np.column_stack([latitudes, longitudes]))
    neighbours = tree.query_radius(query, r=NEIGHBOUR_RADIUS_KM / EARTH_RADIUS_KM)
    tracked = [DECISION_CLASSES.index(name) for name in (EXPLOSION_LIKE, OTHER_NATURAL, NOT_EXISTING)]
    for row, indices in enumerate(neighbours):
        earlier = indices[reviewed.times[indices] < times[row]]
        if earlier.size == 0:
            continue
        counts = np.bincount(reviewed.class_indices[earlier], minlength=len(DECISION_CLASSES))
        result[row, 0] = earlier.size
        result[row, 1:] = counts[tracked] / earlier.size
    return result


def waveform_aggregates(measurements: Sequence[TraceMeasurementsLike]) -> list[float]:
    """Station count, then median and max over stations of each WAVEFORM_MEASURES entry (NaN when none)."""
    row = [float(len(measurements))]
    for measure, _unit in WAVEFORM_MEASURES:
        values = np.array([v for m in measurements if (v := getattr(m, measure)) is not None], dtype=np.float64)
        values = values[np.isfinite(values)]
        row.extend([float(np.median(values)), float(values.max())] if values.size else [np.nan, np.nan])
    return row


def feature_matrix(
    events: Sequence[EventInputs], *, gazetteer: Gazetteer | None, reviewed: ReviewedCatalogue
) -> FloatArray:
    """The feature matrix, shape (len(events), len(FEATURE_NAMES)), columns in FEATURE_NAMES order."""
    matrix = np.full((len(events), len(FEATURE_NAMES)), np.nan)
    if not events:
        return matrix
    times = np.array([event.origin_time for event in events], dtype=np.float64)
    latitudes = np.array([event.latitude for event in events], dtype=np.float64)
    longitudes = np.array([event.longitude for event in events], dtype=np.float64)
    matrix[:, : _COLUMN["magnitude_type_code"] + 1] = np.array([_origin_row(event) for event in events])
    hours, day_of_week = local_solar_time(times, longitudes)
    matrix[:, _COLUMN["local_solar_hour"]] = hours
    matrix[:, _COLUMN["local_day_of_week"]] = day_of_week
    matrix[:, _COLUMN["latitude"]] = latitudes
    matrix[:, _COLUMN["longitude"]] = longitudes
    matrix[:, _COLUMN["nearest_mine_km"]] = nearest_site_km(gazetteer, latitudes, longitudes)
    first = _COLUMN["reviewed_neighbour_count"]
    matrix[:, first : first + 4] = reviewed_neighbours(reviewed, times, latitudes, longitudes)
    first, last = _COLUMN["waveform_station_count"], _COLUMN["similarity_max_correlation"]
    matrix[:, first:last] = np.array([waveform_aggregates(event.measurements) for event in events])
    matrix[:, last : last + 3] = np.array(
        [[_value(e.similarity_correlation), _value(e.similarity_class), _value(e.similarity_channels)] for e in events]
    )
    first = _COLUMN[CNN_FEATURE_NAMES[0]]
    matrix[:, first : first + len(CNN_FEATURE_NAMES)] = np.array(
        [[_value(e.cnn_features.get(name)) for name in CNN_FEATURE_NAMES] for e in events]
    )
    first = _COLUMN[BLAST_SITE_FEATURE_NAMES[0]]
    for row, event in enumerate(events):
        if len(event.blast_site) == len(BLAST_SITE_FEATURE_NAMES):
            matrix[row, first : first + len(BLAST_SITE_FEATURE_NAMES)] = event.blast_site
    first = _COLUMN[FALSE_EVIDENCE_NAMES[0]]  # false-event evidence
    matrix[:, first : first + len(FALSE_EVIDENCE_NAMES)] = np.array(
        [[_value(e.false_evidence.get(name)) for name in FALSE_EVIDENCE_NAMES] for e in events]
    )
    return matrix


def posix_seconds(moment: dt.datetime) -> float:
    """POSIX seconds of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} is a naive datetime; origin times must be UTC-aware")
    return moment.timestamp()
