import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analyst.training import TrainingDataError, ranker_train
from ranking.ranker import ESTIMATORS


def utc_date(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    except ValueError:
        raise CommandError(f"{text!r} is not an ISO date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = "Train a ranker from the labelled events (time-ordered split) and register it; --promote activates it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", choices=["ranker"], default="ranker")
        parser.add_argument("--until", type=utc_date, help="only events before this UTC date (e.g. 2021-01-01)")
        parser.add_argument("--estimator", choices=ESTIMATORS, default="hist_gradient_boosting")
        parser.add_argument("--promote", action="store_true", help="make it the active ranker and rescore the queue")
        parser.add_argument("--created-by", default="manage.py train")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            version = ranker_train(
                created_by=options["created_by"], until=options["until"], estimator=options["estimator"],
                promote=options["promote"],
            )  # fmt: skip
        except TrainingDataError as error:
            raise CommandError(str(error)) from None
        summary = version.training_summary
        self.stdout.write(
            f"registered {version.version} ({version.status}): {summary['events']} events {summary['labels']}, "
            f"{summary['first_origin_time']} .. {summary['last_origin_time']}, fit {summary['fit_seconds']} s"
        )
