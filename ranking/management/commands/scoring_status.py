import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ranking.scoring_status import broker_queue_lengths, scoring_status_get


class Command(BaseCommand):
    help = (
        "Scoring lag for monitoring: unreviewed events per scoring state, how many wait and for how long, and the "
        "broker's queue lengths. Exits 1 when --max-age is given and the oldest waiting event is older."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object (for scripts and monitoring)")
        parser.add_argument("--no-broker", action="store_true", help="do not ask the broker for queue lengths")
        parser.add_argument("--max-age", type=float, default=None, help="seconds; exit 1 when the oldest waits longer")

    def handle(self, *args: Any, **options: Any) -> None:
        status = scoring_status_get()
        if not options["no_broker"]:
            status["queues"] = broker_queue_lengths()
        if options["json"]:
            self.stdout.write(json.dumps(status, sort_keys=True))
        else:
            age = status["oldest_waiting_age_s"]
            self.stdout.write(
                f"waiting for scoring: {status['waiting']} (oldest {'-' if age is None else f'{age:.0f} s'}), "
                f"stalled: {status['stalled']}, failed: {status['failed']}"
            )
            self.stdout.write("by state: " + ", ".join(f"{k}={v}" for k, v in status["by_state"].items()))
            if "queues" in status:
                queues = status["queues"]
                self.stdout.write("queues: " + ", ".join(f"{k}={'?' if v is None else v}" for k, v in queues.items()))
        limit = options["max_age"]
        age = status["oldest_waiting_age_s"]
        if limit is not None and age is not None and age > limit:
            raise CommandError(f"the oldest event waiting for scoring has waited {age:.0f} s (more than {limit:.0f} s)")
