"""One-key commit buttons: each sets event type, certainty and review state together, as SeisComP operators use.

Configured per deployment in SEISTRIAGE_COMMIT_BUTTONS: buttons separated by ";", each
``key|decision|event type|certainty|label`` where decision is accept, reject or set_type (set_type leaves
the event in review). Keys are single characters the review page does not already use (capitals are
free). An empty setting gives the defaults below.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import TypedDict

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from events.vocabulary import QUAKEML_EVENT_TYPES, TypeCertainty

DEFAULT_COMMIT_BUTTONS = (
    "E|accept|earthquake|known|Earthquake;"
    "Q|accept|quarry blast|known|Quarry blast;"
    "M|accept|mining explosion|suspected|Mining explosion?;"
    "X|accept|explosion|suspected|Explosion?;"
    "L|accept|landslide|known|Landslide;"
    "F|reject|not existing|known|False event"
)
# Keys the review page already uses (see _workbench_help.html).
RESERVED_KEYS = frozenset("arscmjkqgf?123456789pSltnvzu") | {"Enter", "Escape"}  # the review page's own keys
COMMIT_DECISIONS = ("accept", "reject", "set_type")


class CommitButtonData(TypedDict):
    """A button as the review page's script reads it (page_config.commitButtons)."""

    key: str
    decision: str
    event_type: str
    certainty: str
    label: str


@dataclass(frozen=True)
class CommitButton:
    key: str
    decision: str
    event_type: str
    certainty: str
    label: str

    def as_dict(self) -> CommitButtonData:
        return {
            "key": self.key,
            "decision": self.decision,
            "event_type": self.event_type,
            "certainty": self.certainty,
            "label": self.label,
        }


def commit_buttons_parse(text: str) -> list[CommitButton]:
    """Buttons from the setting's text; ValueError names the button and field that is wrong."""
    buttons: list[CommitButton] = []
    for number, part in enumerate((p.strip() for p in text.split(";") if p.strip()), start=1):
        fields = [f.strip() for f in part.split("|")]
        if len(fields) != 5:
            raise ValueError(f"button {number} ({part!r}): needs key|decision|event type|certainty|label")
        key, decision, event_type, certainty, label = fields
        if len(key) != 1 or key in RESERVED_KEYS:
            raise ValueError(f"button {number}: key {key!r} must be one character not already used by the page")
        if any(button.key == key for button in buttons):
            raise ValueError(f"button {number}: key {key!r} is used twice")
        if decision not in COMMIT_DECISIONS:
            raise ValueError(f"button {number}: decision {decision!r} is not one of {', '.join(COMMIT_DECISIONS)}")
        if event_type not in QUAKEML_EVENT_TYPES:
            raise ValueError(f"button {number}: event type {event_type!r} is not a QuakeML 1.2 event type")
        if (decision == "reject") != (event_type == "not existing"):
            raise ValueError(f"button {number}: only a reject sets 'not existing', and a reject always does")
        if certainty not in TypeCertainty.values:
            raise ValueError(f"button {number}: certainty {certainty!r} is not known or suspected")
        buttons.append(CommitButton(key, decision, event_type, certainty, label or event_type))
    return buttons


@lru_cache(maxsize=4)
def _configured(text: str) -> tuple[CommitButton, ...]:
    try:
        return tuple(commit_buttons_parse(text or DEFAULT_COMMIT_BUTTONS))
    except ValueError as error:
        raise ImproperlyConfigured(f"SEISTRIAGE_COMMIT_BUTTONS: {error}") from None


def commit_buttons_configured() -> tuple[CommitButton, ...]:
    """The deployment's buttons (SEISTRIAGE_COMMIT_BUTTONS, else the defaults)."""
    return _configured(getattr(settings, "SEISTRIAGE_COMMIT_BUTTONS", ""))
