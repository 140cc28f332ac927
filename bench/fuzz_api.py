"""The long schemathesis run: tests/analyst/test_api_schema_fuzz.py with many examples per operation (default 200).

    DEBUG=true SEISTRIAGE_DATA_DIR=var/fuzz .venv/bin/python bench/fuzz_api.py [EXAMPLES]

It prints the failing requests (method, path, the reproducing call) and exits non-zero when any request got a
server error. The CI runs the same test bounded to a few examples per operation.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    examples = sys.argv[1] if len(sys.argv) > 1 else "200"
    env = {**os.environ, "SEISTRIAGE_FUZZ_EXAMPLES": examples}
    started = time.perf_counter()
    code = subprocess.call(
        [sys.executable, "-m", "pytest", "tests/analyst/test_api_schema_fuzz.py", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
    )
    print(
        f"{examples} examples per operation: {'no server error' if code == 0 else 'FAILED'} "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
