"""A real `celery worker` process started for tests and benchmarks, and stopped again."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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
        self.queues = queues.split(",")
        self.name = f"{name}-{os.getpid()}@{socket.gethostname()}"
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
                self.name,
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

    def drain(self, app: Any, *, timeout: float = 120.0, purge: bool = True) -> bool:
        """Purge the broker and wait until this worker runs and holds no task (twice in a row, since a task may
        queue another as it ends); False if it is still busy after `timeout` seconds. Without `purge`, the queued
        tasks are left to run: the worker has finished everything sent to it so far (it is the only consumer)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline and self.process.poll() is None:
            if purge:
                app.control.purge()
            elif self._queued(app):
                quiet = 0
                time.sleep(0.5)
                continue
            inspect = app.control.inspect(destination=[self.name], timeout=5.0)
            active, reserved = inspect.active() or {}, inspect.reserved() or {}
            busy = any(active.get(self.name, [])) or any(reserved.get(self.name, []))
            if not purge:  # tasks sent with a countdown wait in the worker until their time
                busy = busy or any((inspect.scheduled() or {}).get(self.name, []))
            quiet = 0 if busy or self.name not in active else quiet + 1
            if quiet >= 2:
                return True
            time.sleep(0.1 if quiet else 0.5)
        return self.process.poll() is not None

    def _queued(self, app: Any) -> int:
        """Messages waiting in the broker on this worker's queues."""
        with app.connection_for_read() as connection, connection.channel() as channel:
            return sum(channel.queue_declare(queue=name).message_count for name in self.queues)

    def stop(self, timeout: float = 60) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.handle.close()
