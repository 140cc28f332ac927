import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analyst.management.commands.train import utc_date
from analyst.training import TrainingDataError, ranker_evaluate
from ranking.models import ModelVersion
from ranking.registry import ModelArtifactError


class Command(BaseCommand):
    help = "Evaluate a ranker on held-out labelled events: P/R, AP, ROC AUC, ECE, review effort; plots as files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", choices=["ranker"], default="ranker")
        parser.add_argument("--model", help="model version (default: the active ranker)")
        parser.add_argument("--since", type=utc_date, help="evaluate on events from this UTC date")
        parser.add_argument("--until", type=utc_date, help="evaluate on events before this UTC date")
        parser.add_argument("--plots", type=Path, help="folder for the PNG plots")
        parser.add_argument("--compare", action="store_true", help="also fit and compare RF and LR on the same split")

    def handle(self, *args: Any, **options: Any) -> None:
        version = None
        if options["model"]:
            version = ModelVersion.objects.filter(kind=options["kind"], version=options["model"]).first()
            if version is None:
                raise CommandError(f"no {options['kind']} model version {options['model']!r}")
        try:
            result = ranker_evaluate(
                model_version=version, since=options["since"], until=options["until"], plots=options["plots"],
                compare=options["compare"],
            )  # fmt: skip
        except (TrainingDataError, ModelArtifactError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(json.dumps(result, indent=2))
