"""A real `celery worker` process started for tests and benchmarks, and stopped again."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class CeleryWorkerProcess:
    """`celery -A config worker` in a subprocess, its output in `log`; waits until the worker says ready."""

    def __init__(
        self,
        *,
        log: Path,
        env: dict[str, str],
        queues: str = "cpu,gpu,training",
        concurrency: int = 1,
        name: str = "test",
    ) -> None:
        self.log = log
        self.handle = log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                queues,
                f"--concurrency={concurrency}",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"{name}-{os.getpid()}@%h",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self.handle,
            stderr=subprocess.STDOUT,
        )
        try:
            self.wait_for_text("ready.", timeout=120)
        except AssertionError:
            self.process.kill()
            raise

    def text(self, since: int = 0) -> str:
        """The worker's output, from character `since` on (see `mark`)."""
        return self.log.read_text(errors="replace")[since:]

    def mark(self) -> int:
        """The current end of the output, so a test can look only at what comes after it."""
        return len(self.text())

    def wait_for_text(self, text: str, *, timeout: float, since: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.text(since):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"celery worker never logged {text!r}:\n{self.text(since)[-3000:]}")
            time.sleep(0.1)

    def pool_children(self) -> list[int]:
        # A replacement pool process is forked by the pool's own thread, so read every thread's children.
        tasks = Path(f"/proc/{self.process.pid}/task").glob("*/children")
        return sorted({int(pid) for path in tasks for pid in path.read_text().split()})

    def stop(self, timeout: float = 60) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.handle.close()
