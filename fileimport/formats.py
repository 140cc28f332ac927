"""Naming a file's format with ObsPy's own format checkers, so that no reader ever runs on auto-detection.

`obspy.read` without a format tries every plugin, PICKLE included, and unpickling runs whatever code the
file holds. We detect the format here, over a list without the unsafe ones, and always pass its name.
"""

import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path

from obspy.core.util.base import ENTRY_POINTS
from obspy.core.util.misc import buffered_load_entry_point


@cache
def _format_checker(group: str, name: str) -> Callable[[str], bool]:
    """ObsPy's isFormat of one plugin, looked up once per process: naming its distribution (`dist.name`) parses the
    package's metadata every time, which made naming one small file's format cost 0.1 s (30 plugins)."""
    entry_point = ENTRY_POINTS[group][name]
    checker: Callable[[str], bool] = buffered_load_entry_point(
        entry_point.dist.name, f"obspy.plugin.{group}.{name}", "isFormat"
    )
    return checker


def format_detect(group: str, names: tuple[str, ...], path: Path) -> str | None:
    """The first of `names` (ObsPy plugin names of `group`: "waveform", "event", "inventory") whose checker
    accepts `path`, or None."""
    for name in names:
        try:
            is_format = _format_checker(group, name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if is_format(str(path)):
                    return name
        except Exception:  # noqa: S112 - a format checker choking on foreign bytes just means "not this format"
            continue
    return None
