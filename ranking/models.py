"""The model store (one ModelVersion row per trained model, its artifact under DATA_DIR/models), training runs
and promotions, and what the models said about each event: scores, waveform features, CNN predictions."""

from django.db import models

from events.models import Event


class ModelVersion(models.Model):
    class Kind(models.TextChoices):
        RANKER = "ranker", "tabular ranker"
        CNN = "cnn", "waveform CNN"

    class Status(models.TextChoices):
        CANDIDATE = "candidate", "candidate"
        ACTIVE = "active", "active"
        RETIRED = "retired", "retired"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    version = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, help_text="user name, or the command/job that trained it")
    estimator = models.CharField(max_length=64, blank=True)
    training_summary = models.JSONField(default=dict, help_text="label counts per class, time span, rows")
    feature_names = models.JSONField(default=list)
    feature_version = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict, blank=True)
    artifact_path = models.CharField(max_length=1024, help_text="relative to DATA_DIR/models")
    artifact_sha256 = models.CharField(max_length=64)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="model_version_unique"),
            # At most one active model per kind: promotion retires the previous one in the same transaction.
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(status="active"), name="model_version_one_active_per_kind"
            ),
        ]
        indexes = [models.Index(fields=["kind", "status"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.version} ({self.status})"


class TrainingRun(models.Model):
    """One retraining job: who or what asked for it, how far it got, what it produced and how it compared.

    The candidate and the model active when the run started are evaluated on the same time-ordered
    held-out labels; both metric sets are kept here, so the comparison a promotion rests on stays readable.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"

    class Trigger(models.TextChoices):
        UI = "ui", "asked for in the UI or API"
        LABEL_COUNT = "label_count", "after enough new labels"
        NIGHTLY = "nightly", "nightly schedule"
        COMMAND = "command", "management command"

    kind = models.CharField(max_length=16, choices=ModelVersion.Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    requested_by = models.CharField(max_length=150, help_text="user name, or the schedule that started it")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    progress = models.FloatField(default=0.0, help_text="0..1")
    log = models.TextField(blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="last sign of life: the start, then every progress or log line"
    )
    error = models.TextField(blank=True)
    data_summary = models.JSONField(default=dict, blank=True, help_text="labels per class, split, time spans")
    candidate = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="training_runs"
    )
    compared_with = models.ForeignKey(
        ModelVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="the model active when the run evaluated",
    )
    candidate_metrics = models.JSONField(default=dict, blank=True)
    active_metrics = models.JSONField(default=dict, blank=True)
    curves = models.JSONField(default=dict, blank=True, help_text="plot data: PR, calibration, confusion, effort")
    promotion_decision = models.JSONField(default=dict, blank=True, help_text="the auto-promotion rule's verdict")

    class Meta:
        indexes = [models.Index(fields=["kind", "-created_at"], name="training_run_kind_created_idx")]

    def __str__(self) -> str:
        return f"{self.kind} run {self.pk} ({self.status})"


class ModelPromotion(models.Model):
    """Every change of the active model: a promotion, an automatic promotion or a rollback, by whom and why."""

    class Action(models.TextChoices):
        PROMOTE = "promote", "promoted"
        AUTO_PROMOTE = "auto_promote", "promoted automatically"
        ROLLBACK = "rollback", "rolled back"

    kind = models.CharField(max_length=16, choices=ModelVersion.Kind.choices)
    action = models.CharField(max_length=16, choices=Action.choices)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="promotions")
    previous = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    training_run = models.ForeignKey(TrainingRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    by = models.CharField(max_length=150)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "-created_at"], name="model_promotion_kind_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.action} {self.model_version_id}"


# What the models said about each event (the tables keep the names the analyst app gave them).


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
        db_table = "analyst_eventscore"  # created by the analyst app; kept so no row moves
        indexes = [models.Index(fields=["event", "-scored_at"], name="event_score_latest_idx")]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.importance:.3f} ({self.ranker_version})"


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

    class Meta:
        db_table = "analyst_eventwaveformfeatures"  # created by the analyst app; kept so no row moves

    def __str__(self) -> str:
        return f"{self.event_id}: {len(self.channels)} stations"


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
        db_table = "analyst_cnnprediction"  # created by the analyst app; kept so no row moves
        constraints = [
            models.UniqueConstraint(fields=["event", "model_version"], name="cnn_prediction_event_model_unique")
        ]
        indexes = [models.Index(fields=["event", "-created_at"], name="cnn_prediction_latest_idx")]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.predicted_class} ({self.model_version})"


class BlastSite(models.Model):
    """A blast site learned from reviewed explosion epicentres (ranking.ml.sites; relearned by
    ``learn_blast_sites`` and at every ranker training). ``hour_counts`` holds 24 blast counts by UTC hour."""

    number = models.PositiveIntegerField(unique=True, help_text="1 = the site with the most blasts")
    latitude = models.FloatField()
    longitude = models.FloatField()
    spread_km = models.FloatField(help_text="RMS distance of its blasts from the centroid")
    radius_km = models.FloatField(help_text="an epicentre this close (plus its uncertainty) lies inside")
    blast_count = models.PositiveIntegerField()
    hour_counts = models.JSONField(default=list)
    first_blast = models.DateTimeField()
    last_blast = models.DateTimeField()
    name = models.CharField(max_length=200, blank=True, help_text="the nearest gazetteer entry within the radius")
    learned_at = models.DateTimeField()

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"site {self.number}: {self.blast_count} blasts"
