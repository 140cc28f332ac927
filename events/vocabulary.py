"""QuakeML 1.2 vocabulary and Seistriage's own review states (no Django imports beyond choices)."""

from django.db import models

QUAKEML_EVENT_TYPES: tuple[str, ...] = (
    "not existing",
    "not reported",
    "earthquake",
    "anthropogenic event",
    "collapse",
    "cavity collapse",
    "mine collapse",
    "building collapse",
    "explosion",
    "accidental explosion",
    "chemical explosion",
    "controlled explosion",
    "experimental explosion",
    "industrial explosion",
    "mining explosion",
    "quarry blast",
    "road cut",
    "blasting levee",
    "nuclear explosion",
    "induced or triggered event",
    "rock burst",
    "reservoir loading",
    "fluid injection",
    "fluid extraction",
    "crash",
    "plane crash",
    "train crash",
    "boat crash",
    "other event",
    "atmospheric event",
    "sonic boom",
    "sonic blast",
    "acoustic noise",
    "thunder",
    "avalanche",
    "snow avalanche",
    "debris avalanche",
    "hydroacoustic event",
    "ice quake",
    "slide",
    "landslide",
    "rockslide",
    "meteorite",
    "volcanic eruption",
)

EVENT_TYPE_CHOICES: list[tuple[str, str]] = [(event_type, event_type) for event_type in QUAKEML_EVENT_TYPES]


class TypeCertainty(models.TextChoices):
    KNOWN = "known", "known"
    SUSPECTED = "suspected", "suspected"


class EvaluationMode(models.TextChoices):
    MANUAL = "manual", "manual"
    AUTOMATIC = "automatic", "automatic"


class EvaluationStatus(models.TextChoices):
    PRELIMINARY = "preliminary", "preliminary"
    CONFIRMED = "confirmed", "confirmed"
    REVIEWED = "reviewed", "reviewed"
    FINAL = "final", "final"
    REJECTED = "rejected", "rejected"


class ReviewState(models.TextChoices):
    """Seistriage's event-level review state; QuakeML has none, so it is mapped on export."""

    NEW = "new", "new"
    SCORED = "scored", "scored"
    IN_REVIEW = "in_review", "in review"
    ACCEPTED = "accepted", "accepted"
    REJECTED = "rejected", "rejected"


class PickOnset(models.TextChoices):
    EMERGENT = "emergent", "emergent"
    IMPULSIVE = "impulsive", "impulsive"
    QUESTIONABLE = "questionable", "questionable"


class PickPolarity(models.TextChoices):
    POSITIVE = "positive", "positive"
    NEGATIVE = "negative", "negative"
    UNDECIDABLE = "undecidable", "undecidable"


REVIEWED_STATES = (ReviewState.ACCEPTED, ReviewState.REJECTED)
UNREVIEWED_STATES = (ReviewState.NEW, ReviewState.SCORED)


class ScoringState(models.TextChoices):
    """Where an event stands in the scoring pipeline (``Event.scoring_state``)."""

    PENDING = "pending", "waiting to be scored"
    QUEUED = "queued", "queued for scoring"
    SCORED = "scored", "scored"
    FAILED = "failed", "scoring failed"
    NO_MODEL = "no_model", "not scored: no active model"


class Triage(models.TextChoices):
    """Conformal triage of an event's latest score (``Event.triage``; docs/ranking.md)."""

    CONFIDENT = "confident", "confident"
    NEEDS_REVIEW = "needs_review", "needs review"
