import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ranking.ml.ranker import ESTIMATORS
from ranking.training import TrainingDataError, ranker_train


def utc_date(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    except ValueError:
        raise CommandError(f"{text!r} is not an ISO date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = "Train a ranker from the labelled events (time-ordered split) and register it; --promote activates it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", choices=["ranker", "cnn"], default="ranker")
        parser.add_argument("--until", type=utc_date, help="only events before this UTC date (e.g. 2021-01-01)")
        parser.add_argument("--estimator", choices=ESTIMATORS, default="hist_gradient_boosting")
        parser.add_argument("--promote", action="store_true", help="make it the active ranker and rescore the queue")
        parser.add_argument("--created-by", default="manage.py train")
        parser.add_argument("--data", type=Path, help="cnn: the shared data folder (default SEISTRIAGE_SHARED_DATA)")
        parser.add_argument(
            "--database-only",
            action="store_true",
            help="cnn: only the labelled events with waveforms in the database (load_demo's, the analysts'), no shared "
            "data folder",
        )
        parser.add_argument("--epochs", type=int, default=80, help="cnn: at most this many epochs (early stopping)")
        parser.add_argument("--limit", type=int, help="cnn: at most this many events/records per data source")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["kind"] == "cnn":
            self._train_cnn(options)
            return
        try:
            version = ranker_train(
                created_by=options["created_by"],
                until=options["until"],
                estimator=options["estimator"],
                promote=options["promote"],
            )
        except TrainingDataError as error:
            raise CommandError(str(error)) from None
        summary = version.training_summary
        if summary.get("cold_start"):
            self.stdout.write(
                f"registered {version.version} ({version.status}): {summary['cold_start']} "
                f"{summary['labels']}; generic model from the {summary['generic_model']['source']}"
            )
            return
        self.stdout.write(
            f"registered {version.version} ({version.status}): {summary['events']} events {summary['labels']}, "
            f"{summary['first_origin_time']} .. {summary['last_origin_time']}, fit {summary['fit_seconds']} s"
        )

    def _train_cnn(self, options: dict[str, Any]) -> None:
        from ranking.cnn_runs import CnnTrainingError, cnn_train
        from ranking.ml.cnn.datasets import DatasetError

        if options["epochs"] < 1:
            raise CommandError("--epochs must be at least 1")
        if options["database_only"] and options["data"] is not None:
            raise CommandError("--data and --database-only exclude each other")
        try:
            version = cnn_train(
                created_by=options["created_by"],
                data_dir=options["data"],
                database_only=options["database_only"],
                epochs=options["epochs"],
                promote=options["promote"],
                limit=options["limit"],
                progress=self.stdout.write,
            )
        except (CnnTrainingError, DatasetError) as error:
            raise CommandError(str(error)) from None
        summary, metrics = version.training_summary, version.metrics
        self.stdout.write(
            f"registered {version.version} ({version.status}) on {metrics.get('device')}: {summary['windows']} "
            f"windows of {summary['events']} events {summary['labels']}, fit {summary['fit_seconds']} s"
        )
        held_out = metrics.get("held_out")
        if held_out:
            self.stdout.write(
                f"held out ({summary['held_out_events']} events): event macro F1 {held_out['event']['macro_f1']}, "
                f"earthquake-vs-explosion {held_out['event']['earthquake_vs_explosion_accuracy']}; with the event "
                f"spectral regression {held_out.get('event_combined', {}).get('macro_f1')} / "
                f"{held_out.get('event_combined', {}).get('earthquake_vs_explosion_accuracy')}; "
                f"baseline macro F1 {metrics['baseline']['event']['macro_f1']}"
            )
