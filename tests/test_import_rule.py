"""The import rule of ARCHITECTURE.md, checked on the source: `waveforms` imports no other app, `ranking`
never imports `analyst`, and the numerical core imports no Django."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("analyst", "ranking", "waveforms", "config")
NUMERICAL = [
    "waveforms/processing.py", "waveforms/measurements.py", "waveforms/decimation.py", "waveforms/windows.py",
    "waveforms/spectrogram.py", "waveforms/figures.py", "waveforms/summaries.py",
    "ranking/classes.py", "ranking/features.py", "ranking/ranker.py", "ranking/explain.py",
    "ranking/evaluation.py", "ranking/similarity.py", "ranking/learning.py", "ranking/gazetteer.py",
    *[str(p.relative_to(ROOT)) for p in sorted((ROOT / "ranking/cnn").glob("*.py"))],
]  # fmt: skip


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _sources(app: str) -> list[Path]:
    return [p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]


@pytest.mark.parametrize(("app", "forbidden"), [("waveforms", {"analyst", "ranking", "config"}),
                                                ("ranking", {"analyst", "config"})])  # fmt: skip
def test_an_app_imports_only_the_apps_below_it(app: str, forbidden: set[str]) -> None:
    offenders = {str(p.relative_to(ROOT)): sorted(_imported_top_levels(p) & forbidden) for p in _sources(app)}
    assert {path: names for path, names in offenders.items() if names} == {}


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("module", NUMERICAL)
def test_the_numerical_core_imports_no_django(module: str) -> None:
    """It may import other numerical-core modules of our apps, nothing that loads Django."""
    path = ROOT / module
    assert path.exists(), f"{module} is listed as numerical core but is missing"
    core = {name.removesuffix(".py").replace("/", ".") for name in NUMERICAL} | {"ranking.cnn"}
    imported = _imported_modules(path)
    assert not {m for m in imported if m.split(".")[0] in {"django", "rest_framework", "celery", "config", "analyst"}}
    assert {m for m in imported if m.split(".")[0] in {"ranking", "waveforms"}} <= core
