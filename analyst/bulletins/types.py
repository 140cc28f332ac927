"""Event-type crosswalks from QuakeML 1.2 (what we store) to each export format's own vocabulary.

No export may contain a type outside its format's vocabulary, so every QuakeML type has an entry
in every crosswalk (checked by the tests for all 44 types).
"""

from events.vocabulary import QUAKEML_EVENT_TYPES

# ISF/IMS1.0 event-type codes as the IMS1.0 readers (ObsPy's among them) know them: the first letter
# is the certainty (k known, s suspected; d damaging and f felt are earthquakes), the second the kind.
IMS_CODES: tuple[str, ...] = (
    "uk",
    "de",
    "fe",
    "ke",
    "se",
    "kr",
    "sr",
    "ki",
    "si",
    "km",
    "sm",
    "kh",
    "sh",
    "kx",
    "sx",
    "kn",
    "sn",
    "ls",
)

# QuakeML type -> IMS kind letter (None: no IMS kind, written "uk"). Quarry blasts are mine explosions
# in ISF; "explosion" without more detail is a chemical (non-nuclear) one, as the ISC codes it.
_IMS_KIND: dict[str, str | None] = {
    "earthquake": "e",
    "rock burst": "r",
    "induced or triggered event": "i",
    "reservoir loading": "i",
    "fluid injection": "i",
    "fluid extraction": "i",
    "mining explosion": "m",
    "quarry blast": "m",
    "blasting levee": "m",
    "road cut": "m",
    "explosion": "h",
    "chemical explosion": "h",
    "industrial explosion": "h",
    "controlled explosion": "h",
    "accidental explosion": "h",
    "experimental explosion": "x",
    "nuclear explosion": "n",
    "landslide": "landslide",
    "rockslide": "landslide",
    "slide": "landslide",
    "debris avalanche": "landslide",
}

# SeisComP's EventType enumeration (SCML 0.12) is a superset of QuakeML's except for one name.
SEISCOMP_EVENT_TYPES: tuple[str, ...] = (
    "not existing",
    "not locatable",
    "outside of network interest",
    "earthquake",
    "induced earthquake",
    "quarry blast",
    "explosion",
    "chemical explosion",
    "nuclear explosion",
    "landslide",
    "rockslide",
    "snow avalanche",
    "debris avalanche",
    "mine collapse",
    "building collapse",
    "volcanic eruption",
    "meteor impact",
    "plane crash",
    "sonic boom",
    "duplicate",
    "other",
    "not reported",
    "anthropogenic event",
    "collapse",
    "cavity collapse",
    "accidental explosion",
    "controlled explosion",
    "experimental explosion",
    "industrial explosion",
    "mining explosion",
    "road cut",
    "blasting levee",
    "induced or triggered event",
    "rock burst",
    "reservoir loading",
    "fluid injection",
    "fluid extraction",
    "crash",
    "train crash",
    "boat crash",
    "atmospheric event",
    "sonic blast",
    "acoustic noise",
    "thunder",
    "avalanche",
    "hydroacoustic event",
    "ice quake",
    "slide",
    "meteorite",
    "calving",
    "frost quake",
    "tremor pulse",
    "submarine landslide",
    "rocket launch",
    "rocket",
    "rocket impact",
    "artillery strike",
    "bomb detonation",
    "moving aircraft",
    "atmospheric meteor explosion",
)
_SEISCOMP_RENAMED = {"other event": "other"}


def ims_event_code(event_type: str, certainty: str) -> str:
    """The two-letter IMS1.0 code for a QuakeML type and certainty ("known"/"suspected"/"")."""
    kind = _IMS_KIND.get(event_type)
    if kind is None:
        return "uk"
    if kind == "landslide":
        return "ls"
    return ("s" if certainty == "suspected" else "k") + kind


def seiscomp_event_type(event_type: str) -> str:
    """SeisComP's name for a QuakeML type (ObsPy's QuakeML->SCML transform applies the same renaming)."""
    return _SEISCOMP_RENAMED.get(event_type, event_type)


assert set(QUAKEML_EVENT_TYPES) >= set(_IMS_KIND)
