from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ranking.scoring import events_rescore_unreviewed, events_scoring_sweep


class Command(BaseCommand):
    help = "Send events to the scoring workers: --pending (pending, failed, stalled) or --all unreviewed events."

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--pending", action="store_true")
        group.add_argument("--all", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if not (options["pending"] or options["all"]):
            raise CommandError("say --pending or --all")
        sent = events_rescore_unreviewed() if options["all"] else events_scoring_sweep(stalled_after_s=0)
        self.stdout.write(f"sent {sent} events to scoring")
