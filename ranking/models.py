"""The model store: one ModelVersion row per trained model, its artifact under DATA_DIR/models."""

from django.db import models


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
