"""An existing database upgrades in place across the move of the event store to `events` and of the scores to
`ranking`: a database created and filled by the code as it was before the move (commit 3cff70f, taken from this
repository's history) migrates to today's head without losing a row, and today's code reads every row."""

import json
import os
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

import obspy
import pytest

ROOT = Path(__file__).resolve().parents[2]
BEFORE_THE_MOVE = "3cff70f"  # the last commit with the event store in the analyst app
REAL_FILES = [
    ("io/nordic/tests/data/select.out", True),  # reviewed: analyst decisions (labels) come along
    ("io/iaspei/tests/data/ipe202409sel_ims.txt", False),
    ("io/seiscomp/tests/data/quakeml_1.2_quarryblast.xml", False),
]
COUNT_SCRIPT = """
import json
from django.apps import apps
names = {names!r}
print("COUNTS " + json.dumps({{name: apps.get_model(name).objects.count() for name in names}}))
"""


def _checkout(commit: str, target: Path) -> Path:
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def _manage(code: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=code, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}"
    return result.stdout


def _counts(code: Path, env: dict[str, str], names: list[str]) -> dict[str, int]:
    out = _manage(code, env, "shell", "-c", COUNT_SCRIPT.format(names=names))
    line = next(line for line in out.splitlines() if line.startswith("COUNTS "))
    counts: dict[str, int] = json.loads(line.removeprefix("COUNTS "))
    return counts


@pytest.fixture
def old_code(tmp_path: Path) -> Path:
    try:
        return _checkout(BEFORE_THE_MOVE, tmp_path / "before")
    except subprocess.CalledProcessError:
        pytest.fail(f"commit {BEFORE_THE_MOVE} is not in this clone's history (a shallow clone?)")


def test_a_database_filled_before_the_move_migrates_in_place_and_keeps_every_row(old_code: Path, tmp_path: Path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'seistriage.sqlite3'}",
        "SEISTRIAGE_DATA_DIR": str(tmp_path / "data"),
        "CELERY_BROKER_URL": "filesystem://",
        "CACHE_URL": "locmem://",
        "DEBUG": "true",
    }
    obspy_data = Path(obspy.__path__[0])
    _manage(old_code, env, "migrate", "--no-input")
    for relative, reviewed in REAL_FILES:
        _manage(old_code, env, "import_events", str(obspy_data / relative), *(["--reviewed"] if reviewed else []))
    moved = ["Event", "Origin", "Magnitude", "Pick", "Arrival", "Amplitude", "EventLabel"]
    before = _counts(old_code, env, [f"analyst.{name}" for name in moved])
    assert before["analyst.Event"] > 50 and before["analyst.Pick"] > 100 and before["analyst.EventLabel"] > 0

    _manage(ROOT, env, "migrate", "--no-input")
    after = _counts(ROOT, env, [f"events.{name}" for name in moved])

    assert {name.split(".")[1]: n for name, n in after.items()} == {name.split(".")[1]: n for name, n in before.items()}
    # Today's code reads the old rows through the new models and their relations, and nothing is left to migrate.
    check = _manage(
        ROOT,
        env,
        "shell",
        "-c",
        "from events.models import Event; e = Event.objects.filter(labels__isnull=False).first();"
        " print('READ', e.preferred_origin.latitude is not None, e.picks.count() > 0, e.labels.count() > 0,"
        " e.scores.count() == 0)",
    )
    assert "READ True True True True" in check
    _manage(ROOT, env, "makemigrations", "--check", "--dry-run")
    plan = _manage(ROOT, env, "migrate", "--plan")
    assert "No planned migration operations" in plan
