"""The analyst decision classes the ranker predicts, and the QuakeML 1.2 event types behind each.

The ranker does not predict the 44 QuakeML types: analysts decide far fewer things in practice, and
most types have too few examples to learn. Four decision classes carry the importance:

- ``not_existing``: a false event (noise, a mis-association): reviewing it is wasted time;
- ``earthquake``: tectonic and induced earthquakes;
- ``explosion_like``: explosions of every kind (quarry and mine blasts, chemical, nuclear, road cuts);
- ``other_natural``: the other physical sources: slides, avalanches, ice quakes, volcanic eruptions,
  collapses and atmospheric sources (the QuakeML ``other event`` goes here too).

A type that says nothing about the source (``not reported``) has no class and is not a training label.

The waveform CNN sees windows, not events, and tells four signal classes apart (``CNN_CLASSES``): each stands for
one decision class (``DECISION_CLASS_OF_CNN_CLASS``), and it learns from the event types whose signals it can
recognise (``CNN_CLASS_BY_EVENT_TYPE``, a subset of each decision class's types: a meteorite or thunder is
"other natural" but not a surface-event signal).
"""

from collections.abc import Mapping
from typing import Final

NOT_EXISTING: Final = "not_existing"
EARTHQUAKE: Final = "earthquake"
EXPLOSION_LIKE: Final = "explosion_like"
OTHER_NATURAL: Final = "other_natural"

DECISION_CLASSES: Final[tuple[str, ...]] = (NOT_EXISTING, EARTHQUAKE, EXPLOSION_LIKE, OTHER_NATURAL)

_TYPES_BY_CLASS: Final[dict[str, tuple[str, ...]]] = {
    NOT_EXISTING: ("not existing",),
    EARTHQUAKE: (
        "earthquake",
        "induced or triggered event",
        "reservoir loading",
        "fluid injection",
        "fluid extraction",
    ),
    EXPLOSION_LIKE: (
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
    ),
    OTHER_NATURAL: (
        "landslide",
        "rockslide",
        "slide",
        "avalanche",
        "snow avalanche",
        "debris avalanche",
        "ice quake",
        "volcanic eruption",
        "collapse",
        "cavity collapse",
        "mine collapse",
        "building collapse",
        "rock burst",
        "anthropogenic event",
        "crash",
        "plane crash",
        "train crash",
        "boat crash",
        "atmospheric event",
        "sonic boom",
        "sonic blast",
        "acoustic noise",
        "thunder",
        "hydroacoustic event",
        "meteorite",
        "other event",
    ),
}

CLASS_BY_EVENT_TYPE: Final[dict[str, str]] = {
    event_type: decision_class for decision_class, types in _TYPES_BY_CLASS.items() for event_type in types
}

# A regional network cares most about earthquakes and surface events; false events weigh nothing.
DEFAULT_CLASS_WEIGHTS: Final[dict[str, float]] = {
    NOT_EXISTING: 0.0,
    EARTHQUAKE: 1.0,
    EXPLOSION_LIKE: 0.3,
    OTHER_NATURAL: 0.8,
}


# The waveform CNN's classes, in the order of its outputs, and the decision class each stands for.
CNN_EARTHQUAKE: Final = "earthquake"
CNN_EXPLOSION: Final = "explosion"
CNN_SURFACE_EVENT: Final = "surface_event"
CNN_NOISE: Final = "noise"
CNN_CLASSES: Final[tuple[str, ...]] = (CNN_EARTHQUAKE, CNN_EXPLOSION, CNN_SURFACE_EVENT, CNN_NOISE)
DECISION_CLASS_OF_CNN_CLASS: Final[dict[str, str]] = {
    CNN_EARTHQUAKE: EARTHQUAKE,
    CNN_EXPLOSION: EXPLOSION_LIKE,
    CNN_SURFACE_EVENT: OTHER_NATURAL,
    CNN_NOISE: NOT_EXISTING,
}
_CNN_TYPES: Final[dict[str, tuple[str, ...]]] = {
    CNN_EARTHQUAKE: ("earthquake",),
    CNN_EXPLOSION: (
        "explosion",
        "quarry blast",
        "mining explosion",
        "chemical explosion",
        "controlled explosion",
        "industrial explosion",
        "experimental explosion",
    ),
    CNN_SURFACE_EVENT: (
        "landslide",
        "rockslide",
        "slide",
        "avalanche",
        "snow avalanche",
        "debris avalanche",
        "collapse",
        "mine collapse",
    ),
    CNN_NOISE: ("not existing",),
}
# Event type -> the CNN class it trains; every type here belongs to the decision class of its CNN class.
CNN_CLASS_BY_EVENT_TYPE: Final[dict[str, str]] = {
    event_type: cnn_class for cnn_class, types in _CNN_TYPES.items() for event_type in types
}
assert all(
    CLASS_BY_EVENT_TYPE[event_type] == DECISION_CLASS_OF_CNN_CLASS[cnn_class]
    for event_type, cnn_class in CNN_CLASS_BY_EVENT_TYPE.items()
), "a CNN training type outside its CNN class's decision class"


def decision_class_for(event_type: str) -> str | None:
    """The decision class of a QuakeML 1.2 event type, or None when the type names no source."""
    return CLASS_BY_EVENT_TYPE.get(event_type.strip().lower())


def class_weights_parse(text: str, *, base: Mapping[str, float] = DEFAULT_CLASS_WEIGHTS) -> dict[str, float]:
    """Parse ``class=weight`` pairs separated by commas (the SEISTRIAGE_CLASS_WEIGHTS format).

    Classes left out keep their ``base`` weight (the profile's); an unknown class or a weight that is not a
    finite number >= 0 raises ValueError naming the pair.
    """
    weights = dict(base)
    for pair in (item.strip() for item in text.split(",")):
        if not pair:
            continue
        name, separator, value = pair.partition("=")
        name = name.strip()
        if not separator or name not in DECISION_CLASSES:
            raise ValueError(f"{pair!r}: expected <class>=<weight> with class one of {', '.join(DECISION_CLASSES)}")
        try:
            weight = float(value)
        except ValueError:
            raise ValueError(f"{pair!r}: weight {value.strip()!r} is not a number") from None
        if not (weight >= 0.0 and weight < float("inf")):
            raise ValueError(f"{pair!r}: weight must be a finite number >= 0")
        weights[name] = weight
    return weights
