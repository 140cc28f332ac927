"""The workbench's own records: the audit trail, claims, saved filters, queue columns, watched-folder files,
bulletins and upstream FDSN sources. The events themselves live in the `events` app."""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from events.models import Event

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
    PICK = "pick", "picked a phase"
    UNDO = "undo", "undid a decision"
    AUTO_DECISION = "auto_decision", "decided automatically (conformal triage)"


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


class ImportJob(models.Model):
    """One upload from the import page: its files (paths relative to DATA_DIR/uploads) and each one's outcome.

    Kept in the database, not the cache or the broker, so a broker restart without persistence or a worker
    killed mid-import loses no job: the import sweep re-queues a job with no progress whose files are still there.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    id = models.CharField(primary_key=True, max_length=32)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    username = models.CharField(max_length=150)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    reviewed = models.BooleanField(default=False)
    files = models.JSONField(default=list, help_text="one entry per file, in upload order, with its outcome")
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, help_text="the last progress: the sweep's clock")
    seconds = models.FloatField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True, help_text="the Celery task that holds the job")
    attempts = models.PositiveIntegerField(default=0, help_text="times a task started the job")
    last_error = models.TextField(blank=True, help_text="the last transient error (database, broker), retried")

    class Meta:
        indexes = [models.Index(fields=["state", "updated_at"], name="importjob_state_updated_idx")]

    def __str__(self) -> str:
        return f"import {self.id} ({self.state}, {self.done}/{self.total})"


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


class BulletinJob(models.Model):
    """One bulletin asked for on the page or the API: a worker writes it (a draft for its user, or a published
    bulletin) while the request answers at once. Kept in the database, so the page can show its state and the
    bulletin sweep can re-queue a job whose message a broker restart lost."""

    class State(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    id = models.CharField(primary_key=True, max_length=32)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Bulletin.Kind.choices)
    format = models.CharField(max_length=16)
    selection = models.JSONField(default=dict, help_text="status, time window and filters, by the form's names")
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    error = models.TextField(blank=True, help_text="why the bulletin could not be written (shown to the user)")
    bulletin = models.OneToOneField(Bulletin, on_delete=models.SET_NULL, null=True, blank=True, related_name="job")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, help_text="the last change of state: the sweep's clock")
    seconds = models.FloatField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["state", "updated_at"], name="bulletinjob_state_updated_idx"),
            models.Index(fields=["user", "-created_at"], name="bulletinjob_user_created_idx"),
        ]

    def __str__(self) -> str:
        return f"bulletin job {self.id} ({self.kind} {self.format}, {self.state})"


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
