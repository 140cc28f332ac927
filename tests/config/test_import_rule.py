"""The import rule of ARCHITECTURE.md, checked on the source:

- `fileimport`, `waveforms` and `events` are leaves (no other app of ours);
- `ranking` may import `waveforms` and `events`, never `analyst`;
- `analyst` may import all three; nothing but `config` wires `config`;
- the numerical core (`ranking/ml/`, the waveform numerics) imports no Django and none of our Django modules.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"fileimport", "waveforms", "events", "ranking", "analyst", "config"}
ALLOWED = {
    "fileimport": set(),
    "waveforms": {"fileimport"},
    "events": {"fileimport"},
    "ranking": {"fileimport", "waveforms", "events"},
    "analyst": {"fileimport", "waveforms", "events", "ranking"},
}
# The numerical core: every module under ranking/ml/, the waveform numerics and fileimport.
WAVEFORM_NUMERICS = ("processing", "measurements", "decimation", "windows", "spectrogram", "figures", "summaries")
NUMERICAL = sorted(
    [str(path.relative_to(ROOT)) for path in (ROOT / "ranking/ml").rglob("*.py")]
    + [f"waveforms/{name}.py" for name in WAVEFORM_NUMERICS]
    + [str(path.relative_to(ROOT)) for path in (ROOT / "fileimport").rglob("*.py")]
)
FRAMEWORKS = {"django", "rest_framework", "celery", "drf_spectacular", "kombu"}


def _imports(path: Path) -> set[str]:
    """Absolute module names imported anywhere in the file (function-level imports too)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def _sources(app: str) -> list[Path]:
    return sorted(p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("app", sorted(ALLOWED))
def test_an_app_imports_only_the_apps_below_it(app: str) -> None:
    forbidden = OURS - ALLOWED[app] - {app}
    offenders = {
        str(path.relative_to(ROOT)): sorted({m.split(".")[0] for m in _imports(path)} & forbidden)
        for path in _sources(app)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_numerical_core_is_found_by_globbing_the_folders() -> None:
    assert "ranking/ml/ranker.py" in NUMERICAL and "ranking/ml/cnn/network.py" in NUMERICAL
    assert all((ROOT / module).exists() for module in NUMERICAL)


@pytest.mark.parametrize("module", NUMERICAL)
def test_the_numerical_core_imports_no_django(module: str) -> None:
    """It may import other numerical-core modules of ours, nothing that loads Django."""
    core = {name.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for name in NUMERICAL}
    imported = _imports(ROOT / module)
    assert not {m for m in imported if m.split(".")[0] in FRAMEWORKS}
    assert {m for m in imported if m.split(".")[0] in OURS} <= core


def test_the_settings_import_no_app() -> None:
    """Settings load before the apps: they read the environment only (ranking parses its own values)."""
    imported = {m.split(".")[0] for m in _imports(ROOT / "config/settings.py")}
    assert imported & (OURS - {"config"}) == set()
