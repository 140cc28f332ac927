"""The QuakeML-aligned event store: Event, Origin, Magnitude, Pick, Arrival, Amplitude, labels.

Units follow seismological practice rather than QuakeML's SI: depths and their uncertainties in km,
latitude/longitude uncertainties in km, distances in degrees, times in UTC.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from analyst.vocabulary import (
    EVENT_TYPE_CHOICES,
    EvaluationMode,
    EvaluationStatus,
    PickOnset,
    PickPolarity,
    ReviewState,
    ScoringState,
    TypeCertainty,
)


class Event(models.Model):
    public_id = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=32, choices=EVENT_TYPE_CHOICES, blank=True)
    event_type_certainty = models.CharField(max_length=16, choices=TypeCertainty.choices, blank=True)
    review_state = models.CharField(max_length=16, choices=ReviewState.choices, default=ReviewState.NEW)
    preferred_origin = models.ForeignKey("Origin", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    preferred_magnitude = models.ForeignKey(
        "Magnitude", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    region = models.CharField(max_length=128, blank=True, help_text="Flinn-Engdahl region name")
    description = models.TextField(blank=True)
    agency_id = models.CharField(max_length=64, blank=True)
    author = models.CharField(max_length=128, blank=True)
    source_file = models.CharField(max_length=1024, blank=True)
    source_format = models.CharField(max_length=32, blank=True)

    # Queue columns copied from the preferred origin and magnitude so the review queue sorts and
    # filters on one indexed table instead of joining per row.
    origin_time = models.DateTimeField(null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    depth = models.FloatField(null=True, blank=True, help_text="km below sea level")
    magnitude = models.FloatField(null=True, blank=True)
    magnitude_type = models.CharField(max_length=16, blank=True)
    phase_count = models.IntegerField(null=True, blank=True)
    azimuthal_gap = models.FloatField(null=True, blank=True)
    rms = models.FloatField(null=True, blank=True, help_text="origin time residual RMS, s")

    importance = models.FloatField(null=True, blank=True, help_text="null until scored")
    predicted_class = models.CharField(max_length=32, blank=True)
    predicted_probability = models.FloatField(null=True, blank=True)
    # Where the event is in the scoring pipeline; the sweep requeues failed and stalled ones.
    scoring_state = models.CharField(max_length=16, choices=ScoringState.choices, default=ScoringState.PENDING)
    scoring_error = models.TextField(blank=True)
    scoring_requested_at = models.DateTimeField(null=True, blank=True)

    # Optimistic concurrency: every change increments it; an edit made on an older version is refused.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["origin_time", "id"], name="event_origin_time_idx"),
            models.Index(fields=["magnitude", "id"], name="event_magnitude_idx"),
            models.Index(fields=["importance", "id"], name="event_importance_idx"),
            models.Index(fields=["review_state", "importance", "id"], name="event_state_importance_idx"),
            models.Index(fields=["event_type"], name="event_type_idx"),
            models.Index(fields=["updated_at"], name="event_updated_idx"),
            models.Index(fields=["scoring_state", "scoring_requested_at"], name="event_scoring_state_idx"),
            # (column, id) for the queue's other sortable columns: keyset pages seek on them (workbench).
            models.Index(fields=["depth", "id"], name="event_depth_idx"),
            models.Index(fields=["region", "id"], name="event_region_idx"),
            models.Index(fields=["latitude", "id"], name="event_latitude_idx"),
            models.Index(fields=["longitude", "id"], name="event_longitude_idx"),
            models.Index(fields=["phase_count", "id"], name="event_phase_count_idx"),
            models.Index(fields=["azimuthal_gap", "id"], name="event_gap_idx"),
            models.Index(fields=["rms", "id"], name="event_rms_idx"),
            models.Index(fields=["predicted_probability", "id"], name="event_probability_idx"),
        ]

    def __str__(self) -> str:
        return self.public_id


class Origin(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="origins")
    public_id = models.CharField(max_length=255)
    time = models.DateTimeField()
    time_uncertainty = models.FloatField(null=True, blank=True, help_text="s")
    latitude = models.FloatField()
    latitude_uncertainty = models.FloatField(null=True, blank=True, help_text="km")
    longitude = models.FloatField()
    longitude_uncertainty = models.FloatField(null=True, blank=True, help_text="km")
    depth = models.FloatField(null=True, blank=True, help_text="km below sea level")
    depth_uncertainty = models.FloatField(null=True, blank=True, help_text="km")
    used_phase_count = models.IntegerField(null=True, blank=True)
    used_station_count = models.IntegerField(null=True, blank=True)
    azimuthal_gap = models.FloatField(null=True, blank=True, help_text="degrees")
    minimum_distance = models.FloatField(null=True, blank=True, help_text="degrees")
    standard_error = models.FloatField(null=True, blank=True, help_text="RMS of residuals, s")
    evaluation_mode = models.CharField(max_length=16, choices=EvaluationMode.choices, blank=True)
    evaluation_status = models.CharField(max_length=16, choices=EvaluationStatus.choices, blank=True)
    method_id = models.CharField(max_length=255, blank=True)
    earth_model_id = models.CharField(max_length=255, blank=True)
    agency_id = models.CharField(max_length=64, blank=True)
    author = models.CharField(max_length=128, blank=True)

    class Meta:
        indexes = [models.Index(fields=["time"])]

    def __str__(self) -> str:
        return self.public_id


class Magnitude(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="magnitudes")
    origin = models.ForeignKey(Origin, on_delete=models.SET_NULL, null=True, blank=True)
    public_id = models.CharField(max_length=255)
    value = models.FloatField()
    magnitude_type = models.CharField(max_length=16, blank=True)
    uncertainty = models.FloatField(null=True, blank=True)
    station_count = models.IntegerField(null=True, blank=True)
    evaluation_mode = models.CharField(max_length=16, choices=EvaluationMode.choices, blank=True)
    evaluation_status = models.CharField(max_length=16, choices=EvaluationStatus.choices, blank=True)
    method_id = models.CharField(max_length=255, blank=True)
    agency_id = models.CharField(max_length=64, blank=True)
    author = models.CharField(max_length=128, blank=True)

    def __str__(self) -> str:
        return f"{self.magnitude_type} {self.value}"


class Pick(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="picks")
    public_id = models.CharField(max_length=255)
    network = models.CharField(max_length=8, blank=True)
    station = models.CharField(max_length=8)
    location = models.CharField(max_length=8, blank=True)
    channel = models.CharField(max_length=8, blank=True)
    time = models.DateTimeField()
    time_uncertainty = models.FloatField(null=True, blank=True, help_text="s")
    phase_hint = models.CharField(max_length=16, blank=True)
    onset = models.CharField(max_length=16, choices=PickOnset.choices, blank=True)
    polarity = models.CharField(max_length=16, choices=PickPolarity.choices, blank=True)
    backazimuth = models.FloatField(null=True, blank=True, help_text="degrees")
    evaluation_mode = models.CharField(max_length=16, choices=EvaluationMode.choices, blank=True)
    evaluation_status = models.CharField(max_length=16, choices=EvaluationStatus.choices, blank=True)
    method_id = models.CharField(max_length=255, blank=True)
    agency_id = models.CharField(max_length=64, blank=True)
    author = models.CharField(max_length=128, blank=True)

    def __str__(self) -> str:
        return f"{self.phase_hint} {self.seed_id} {self.time}"

    @property
    def seed_id(self) -> str:
        return f"{self.network}.{self.station}.{self.location}.{self.channel}"


class Arrival(models.Model):
    origin = models.ForeignKey(Origin, on_delete=models.CASCADE, related_name="arrivals")
    pick = models.ForeignKey(Pick, on_delete=models.SET_NULL, null=True, blank=True, related_name="arrivals")
    public_id = models.CharField(max_length=255, blank=True)
    phase = models.CharField(max_length=16)
    distance = models.FloatField(null=True, blank=True, help_text="degrees")
    azimuth = models.FloatField(null=True, blank=True, help_text="degrees")
    takeoff_angle = models.FloatField(null=True, blank=True, help_text="degrees")
    time_residual = models.FloatField(null=True, blank=True, help_text="s")
    time_weight = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.phase} {self.distance}"


class Amplitude(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="amplitudes")
    pick = models.ForeignKey(Pick, on_delete=models.SET_NULL, null=True, blank=True, related_name="amplitudes")
    public_id = models.CharField(max_length=255)
    generic_amplitude = models.FloatField()
    amplitude_type = models.CharField(max_length=32, blank=True)
    unit = models.CharField(max_length=16, blank=True)
    period = models.FloatField(null=True, blank=True, help_text="s")
    snr = models.FloatField(null=True, blank=True)
    network = models.CharField(max_length=8, blank=True)
    station = models.CharField(max_length=8, blank=True)
    location = models.CharField(max_length=8, blank=True)
    channel = models.CharField(max_length=8, blank=True)
    magnitude_hint = models.CharField(max_length=16, blank=True)
    evaluation_mode = models.CharField(max_length=16, choices=EvaluationMode.choices, blank=True)

    def __str__(self) -> str:
        return f"{self.amplitude_type} {self.generic_amplitude}"


class EventLabel(models.Model):
    """An analyst decision about an event, kept as a training label with its provenance."""

    class Source(models.TextChoices):
        IMPORTED_REVIEW = "imported_review", "imported reviewed catalogue"
        ANALYST = "analyst", "analyst decision"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="labels")
    event_type = models.CharField(max_length=32, choices=EVENT_TYPE_CHOICES)
    event_type_certainty = models.CharField(max_length=16, choices=TypeCertainty.choices, blank=True)
    review_state = models.CharField(max_length=16, choices=ReviewState.choices)
    source = models.CharField(max_length=24, choices=Source.choices)
    source_file = models.CharField(max_length=1024, blank=True)
    analyst = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    predicted = models.JSONField(default=dict, blank=True, help_text="what the active models said then")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["event", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.event_type} ({self.source})"


class EventScore(models.Model):
    """One scoring of an event: what the models said, why, and with which versions and features."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="scores")
    ranker_version = models.CharField(max_length=64)
    model_versions = models.JSONField(default=dict, help_text="kind -> version of every model that contributed")
    importance = models.FloatField()
    predicted_class = models.CharField(max_length=32)
    class_probabilities = models.JSONField(default=dict)
    class_weights = models.JSONField(default=dict)
    explanation = models.JSONField(default=list, help_text="features that moved the importance most")
    features = models.JSONField(default=dict, help_text="feature name -> value (null when missing)")
    feature_version = models.CharField(max_length=64)
    scored_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["event", "-scored_at"], name="event_score_latest_idx")]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.importance:.3f} ({self.ranker_version})"


# ------------------------------------------------------------------------------------------------
# Review workflow (the analyst's workbench): audit trail, claims, saved filters, queue columns.
# ------------------------------------------------------------------------------------------------


class AuditEntryImmutableError(Exception):
    """The audit trail is append-only: entries are never changed or deleted."""


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise AuditEntryImmutableError("audit entries are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditEntryImmutableError("audit entries are append-only")


class AuditAction(models.TextChoices):
    ACCEPT = "accept", "accepted"
    REJECT = "reject", "rejected as false"
    SET_TYPE = "set_type", "set type"
    COMMENT = "comment", "commented"
    CLAIM_BREAK = "claim_break", "broke a claim"
    REVIEW_REFUSED = "review_refused", "decision refused (conflict)"


class AuditEntry(models.Model):
    """One change an analyst made, with the event's score and model versions at that moment."""

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="audit_entries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    comment = models.TextField(blank=True)
    event_version = models.PositiveIntegerField(help_text="the event's version after the change")
    importance = models.FloatField(null=True, blank=True)
    predicted_class = models.CharField(max_length=32, blank=True)
    model_versions = models.JSONField(default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["event", "created_at"], name="audit_event_time_idx")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.action} v{self.event_version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditEntryImmutableError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditEntryImmutableError("audit entries are append-only")


class EventClaim(models.Model):
    """An analyst's hold on an event while reviewing it; it lapses unless a heartbeat renews it."""

    event = models.OneToOneField(Event, on_delete=models.CASCADE, related_name="claim")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="event_claims")
    claimed_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.event_id} held by {self.user_id} until {self.expires_at}"


class SavedFilter(models.Model):
    """A named queue view: the query string of the queue page (filters and ordering)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters")
    name = models.CharField(max_length=80)
    query = models.TextField(blank=True, help_text="URL query string of the queue")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="saved_filter_user_name_unique")]

    def __str__(self) -> str:
        return self.name


class QueuePreference(models.Model):
    """The queue columns a user chose to see, in order."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="queue_preference")
    columns = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {', '.join(self.columns)}"


# ------------------------------------------------------------------------------------------------
# Ranking inputs and continuous intake (scoring pipeline): cached waveform features, watched-folder files.
# ------------------------------------------------------------------------------------------------


class EventWaveformFeatures(models.Model):
    """The per-station waveform measurements of an event, kept so training and rescoring need not re-read.

    ``fingerprint`` hashes the waveform files, SDS roots and picks the measurements came from; a
    different fingerprint means the event's waveforms changed and the row is measured again. The
    similarity to reviewed neighbours is kept with the fingerprint of the neighbours it was computed on.
    """

    event = models.OneToOneField(Event, on_delete=models.CASCADE, related_name="waveform_features")
    fingerprint = models.CharField(max_length=64)
    channels = models.JSONField(default=list, help_text="per station: seed_id, p_time, window source, measurements")
    problems = models.JSONField(default=list, blank=True)
    measured_at = models.DateTimeField()
    similarity_basis = models.CharField(max_length=64, blank=True, help_text="hash of the neighbours compared")
    similarity_correlation = models.FloatField(null=True, blank=True)
    similarity_class = models.CharField(max_length=32, blank=True)
    similarity_event = models.ForeignKey(Event, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    similarity_channels = models.IntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.event_id}: {len(self.channels)} stations"


class IntakeFile(models.Model):
    """A file seen in the watched folder: what it was, whether it imported, and why not."""

    class Kind(models.TextChoices):
        EVENTS = "events", "events"
        STATIONS = "stations", "station metadata"
        WAVEFORMS = "waveforms", "waveforms"
        UNKNOWN = "unknown", "not recognised"

    class Status(models.TextChoices):
        IMPORTED = "imported", "imported"
        FAILED = "failed", "failed"

    path = models.CharField(max_length=1024, unique=True)
    size_bytes = models.BigIntegerField()
    modified_ns = models.BigIntegerField(help_text="the file's mtime in nanoseconds when it was read")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    error = models.TextField(blank=True)
    imported_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.path} ({self.status})"


# ------------------------------------------------------------------------------------------------
# Publishing (bulletins, FDSN upstream sources): owned by analyst/bulletins and analyst/upstream.py.
# ------------------------------------------------------------------------------------------------


class Bulletin(models.Model):
    """One exported bulletin file, kept so it downloads again byte for byte."""

    class Kind(models.TextChoices):
        PUBLISHED = "published", "published (senior analyst)"
        DRAFT = "draft", "draft export"

    public_id = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.DRAFT)
    format = models.CharField(max_length=16)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    filters = models.JSONField(default=dict, help_text="the selection: time window, status and filters")
    event_count = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField(default=0)
    file_path = models.CharField(max_length=1024, help_text="relative to DATA_DIR/bulletins")

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="bulletin_created_idx")]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.format}, {self.event_count} events)"


class FdsnSource(models.Model):
    """An upstream FDSN event service polled for new and updated automatic events."""

    name = models.CharField(max_length=80, unique=True)
    base_url = models.URLField(max_length=500, help_text="service root, e.g. https://host/fdsnws/event/1/")
    poll_interval_seconds = models.PositiveIntegerField(default=300)
    query = models.JSONField(default=dict, blank=True, help_text="extra query parameters (box, minmag, ...)")
    use_updated_after = models.BooleanField(default=True, help_text="off when the upstream lacks updatedafter")
    window_seconds = models.PositiveIntegerField(default=86400, help_text="time window asked for without updatedafter")
    enabled = models.BooleanField(default=True)
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_event_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.name


# ------------------------------------------------------------------------------------------------
# Waveform CNN (helper "cnn"): one prediction per event and CNN version.
# ------------------------------------------------------------------------------------------------


class CnnPrediction(models.Model):
    """What the waveform CNN said about an event: event-level probabilities and per-station details.

    ``stations`` holds one entry per station window: seed_id, probabilities (class -> p), snr, window_start
    (ISO UTC), sampling_rate and weight. The saliency curves (float16, one per station, in ``stations``
    order) live in an .npz under DATA_DIR (``saliency_path``, relative to DATA_DIR).
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="cnn_predictions")
    model_version = models.CharField(max_length=64)
    predicted_class = models.CharField(max_length=32, blank=True)
    class_probabilities = models.JSONField(default=dict, help_text="class -> probability; empty without windows")
    stations = models.JSONField(default=list)
    saliency_path = models.CharField(max_length=1024, blank=True)
    problems = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "model_version"], name="cnn_prediction_event_model_unique")
        ]
        indexes = [models.Index(fields=["event", "-created_at"], name="cnn_prediction_latest_idx")]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.predicted_class} ({self.model_version})"
