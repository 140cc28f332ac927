"""Every environment variable the settings read is documented in the README's table and in .env.example,
and a bad value stops the start with a message naming the variable."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READ = re.compile(r'env_(?:str|bool|int|float|list|path)\(\s*"([A-Z0-9_]+)"')


def _variables() -> list[str]:
    return sorted(set(READ.findall((ROOT / "config/settings.py").read_text())))


def test_the_settings_read_the_environment_variables_we_expect() -> None:
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "SEISTRIAGE_DATA_DIR", "SECRET_KEY"} <= set(_variables())


@pytest.mark.parametrize("variable", _variables())
def test_each_variable_is_in_the_readme_and_the_env_example(variable: str) -> None:
    assert f"`{variable}`" in (ROOT / "README.md").read_text(), f"{variable} is not in README's settings table"
    example = (ROOT / ".env.example").read_text()
    assert re.search(rf"^{variable}=", example, re.MULTILINE), f"{variable} is not in .env.example"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("SEISTRIAGE_IMPORT_BATCH_SIZE", "many"),
        ("DATABASE_URL", "mysql://x/y"),
        ("SEISTRIAGE_CLASS_WEIGHTS", "quakes=1"),
        ("SEISTRIAGE_PROFILE", "coastal"),
        ("SEISTRIAGE_TRIAGE_ALPHA", "2"),
    ],
)
def test_a_bad_value_stops_the_start_naming_the_variable(variable: str, value: str) -> None:
    env = {**os.environ, "DEBUG": "true", variable: value}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert variable in result.stderr
