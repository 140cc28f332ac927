"""The QuakeML-aligned event store: Event, Origin, Magnitude, Pick, Arrival, Amplitude, labels.

Units follow seismological practice rather than QuakeML's SI: depths and their uncertainties in km,
latitude/longitude uncertainties in km, distances in degrees, times in UTC.

The tables keep the names the analyst app gave them (``analyst_event``, ...): the models moved here without
moving a row (migration events 0001).
"""

from django.conf import settings
from django.db import models

from events.vocabulary import (
    EVENT_TYPE_CHOICES,
    EvaluationMode,
    EvaluationStatus,
    PickOnset,
    PickPolarity,
    ReviewState,
    ScoringState,
    Triage,
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
    # Conformal triage of the latest score (docs/ranking.md): "confident" with the one class of its prediction set,
    # or "needs_review"; empty until scored.
    triage = models.CharField(max_length=16, choices=Triage.choices, null=True, blank=True)  # noqa: DJ001
    triage_class = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001
    # Where the event is in the scoring pipeline; the sweep requeues failed and stalled ones.
    scoring_state = models.CharField(max_length=16, choices=ScoringState.choices, default=ScoringState.PENDING)
    scoring_error = models.TextField(blank=True)
    scoring_requested_at = models.DateTimeField(null=True, blank=True)

    # Optimistic concurrency: every change increments it; an edit made on an older version is refused.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "analyst_event"  # created by the analyst app; kept so no row moves
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
        db_table = "analyst_origin"  # created by the analyst app; kept so no row moves
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

    class Meta:
        db_table = "analyst_magnitude"  # created by the analyst app; kept so no row moves

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

    class Meta:
        db_table = "analyst_pick"  # created by the analyst app; kept so no row moves

    def __str__(self) -> str:
        return f"{self.phase_hint} {self.seed_id} {self.time}"

    @property
    def seed_id(self) -> str:
        return f"{self.network}.{self.station}.{self.location}.{self.channel}"

    @property
    def waveform_label(self) -> str:
        """For display: the SEED id when the network is known (NET.STA.LOC.CHA; an empty location stays empty,
        as SEED writes it), else the station and channel as given (an IMS1.0 pick names a station only:
        "MORC", "MORC BHZ"), never a row of bare dots."""
        if self.network:
            return self.seed_id
        return " ".join(part for part in (self.station, self.location, self.channel) if part)


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

    class Meta:
        db_table = "analyst_arrival"  # created by the analyst app; kept so no row moves

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

    class Meta:
        db_table = "analyst_amplitude"  # created by the analyst app; kept so no row moves

    def __str__(self) -> str:
        return f"{self.amplitude_type} {self.generic_amplitude}"


class EventLabel(models.Model):
    """An analyst decision about an event, kept as a training label with its provenance."""

    class Source(models.TextChoices):
        IMPORTED_REVIEW = "imported_review", "imported reviewed catalogue"
        ANALYST = "analyst", "analyst decision"
        # Training material for the false class built from real recordings (ranking.synthetic_false): never
        # an analyst's word, never used for evaluation; the event's description says what it was built from.
        SYNTHETIC_FALSE = "synthetic_false", "synthetic false event (training only)"

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
        db_table = "analyst_eventlabel"  # created by the analyst app; kept so no row moves
        indexes = [models.Index(fields=["event", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.event_type} ({self.source})"
