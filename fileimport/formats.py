"""Naming a file's format with ObsPy's own format checkers, so that no reader ever runs on auto-detection.

`obspy.read` without a format tries every plugin, PICKLE included, and unpickling runs whatever code the
file holds. We detect the format here, over a list without the unsafe ones, and always pass its name.
"""

import warnings
from pathlib import Path

from obspy.core.util.base import ENTRY_POINTS
from obspy.core.util.misc import buffered_load_entry_point


def format_detect(group: str, names: tuple[str, ...], path: Path) -> str | None:
    """The first of `names` (ObsPy plugin names of `group`: "waveform", "event", "inventory") whose checker
    accepts `path`, or None."""
    for name in names:
        try:
            entry_point = ENTRY_POINTS[group][name]
            is_format = buffered_load_entry_point(entry_point.dist.name, f"obspy.plugin.{group}.{name}", "isFormat")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if is_format(str(path)):
                    return name
        except Exception:  # noqa: S112 - a format checker choking on foreign bytes just means "not this format"
            continue
    return None
