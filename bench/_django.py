"""Set up Django for a benchmark script run as `python bench/<name>.py` from the project root."""

import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()


def machine_line() -> str:
    import django
    import numpy
    import obspy

    cpus = os.cpu_count()
    return (
        f"machine: {platform.node()} {platform.machine()} {cpus} CPUs, Python {platform.python_version()}, "
        f"Django {django.get_version()}, ObsPy {obspy.__version__}, NumPy {numpy.__version__}"
    )
