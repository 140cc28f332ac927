"""The embedded start: migrate, load the demo when the database is empty, then run the web server and a
real Celery worker (with an embedded beat scheduler) together until interrupted."""

import os
import signal
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from events.models import Event


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


class Command(BaseCommand):
    help = "Run Seistriage: web server + Celery worker (embedded default: SQLite and a filesystem broker)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--no-demo", action="store_true", help="do not load the demo into an empty database")

    def handle(self, *args: Any, **options: Any) -> None:
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        if not options["no_demo"] and not Event.objects.exists():
            self.stdout.write("Empty database: loading the demo data (demo/ and ObsPy's bundled files)...")
            data = os.environ.get("SEISTRIAGE_DEMO_DATA")
            call_command("load_demo", *(["--data", data] if data else []), stdout=self.stdout)
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-B",
                "-Q",
                "cpu,gpu,training",
                "--concurrency=1",
                "--loglevel=INFO",
                "--schedule",
                str(settings.DATA_DIR / "celerybeat-schedule"),
            ],
        )
        self.stdout.write(self.style.SUCCESS(f"Seistriage at http://{options['addr']}/  (Ctrl-C stops it)"))
        # SIGTERM (from a process manager) must also stop the worker, so turn it into a normal exit.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        try:
            call_command("runserver", options["addr"], use_reloader=False)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
