import argparse
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ranking.cnn_report import cnn_comparison_lines
from ranking.management.commands.train import utc_date
from ranking.models import ModelVersion
from ranking.ranking_evidence import ranking_evidence_summary
from ranking.registry import ModelArtifactError
from ranking.training import TrainingDataError, ranker_evaluate

LEVEL_TITLES = {
    "event": "event level (stations aggregated, SNR-weighted)",
    "event_spectral": "event level (event spectral regression alone)",
    "event_combined": "event level (CNN aggregate x event spectral regression)",
    "event_selected": "event level (per fold, the decision its validation split chose, as training does)",
}


def _fractions(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give fractions like 0.25,0.5,0.75") from None
    if not values or any(not 0 < v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: every fraction must lie between 0 and 1 (exclusive)")
    return values


class Command(BaseCommand):
    help = "Evaluate a ranker on held-out labelled events: P/R, AP, ROC AUC, ECE, review effort; plots as files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", choices=["ranker", "cnn"], default="ranker")
        parser.add_argument("--model", help="model version (default: the active ranker)")
        parser.add_argument("--since", type=utc_date, help="evaluate on events from this UTC date")
        parser.add_argument("--until", type=utc_date, help="evaluate on events before this UTC date")
        parser.add_argument("--plots", type=Path, help="folder for the PNG plots")
        parser.add_argument("--compare", action="store_true", help="also fit and compare RF and LR on the same split")
        parser.add_argument(
            "--no-gate",
            action="store_true",
            help="ranker: skip the baseline gate, feature-group ablation and cold-start fits (run with --since)",
        )
        parser.add_argument("--data", type=Path, help="cnn: the shared data folder (default SEISTRIAGE_SHARED_DATA)")
        parser.add_argument("--limit", type=int, help="cnn: at most this many events/records per data source")
        parser.add_argument("--json", action="store_true", help="cnn: print the metrics as JSON")
        parser.add_argument(
            "--folds", type=int, default=0, help="cnn: also cross-validate fresh networks over this many time blocks"
        )
        parser.add_argument("--epochs", type=int, default=80, help="cnn: at most this many epochs per fold")
        parser.add_argument(
            "--cnn-value",
            action="store_true",
            help="ranker: instead of the held-out evaluation, the CNN's proof of value (ΔAP/Δaccuracy with and "
            "without its features, bootstrap intervals) and the blast-site time split, on the shared PNSN data",
        )
        parser.add_argument(
            "--no-refit",
            action="store_true",
            help="cnn: keep each fold's early-stopping network (no refit on all its training events): half the cost",
        )
        parser.add_argument("--no-peer", action="store_true", help="cnn: leave out the seisclass peer")
        parser.add_argument(
            "--learning-curve",
            type=_fractions,
            default=(),
            help="cnn, with --folds: explosion shares to rerun the cross-validation with, e.g. 0.25,0.5,0.75",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        version = None
        if options["model"]:
            version = ModelVersion.objects.filter(kind=options["kind"], version=options["model"]).first()
            if version is None:
                raise CommandError(f"no {options['kind']} model version {options['model']!r}")
        if options["kind"] == "cnn":
            self._evaluate_cnn(version, options)
            return
        if options["cnn_value"]:
            from ranking.cnn_value_report import cnn_value_lines

            for line in cnn_value_lines(data_dir=options["data"]):
                self.stdout.write(line)
            return
        try:
            result = ranker_evaluate(
                model_version=version,
                since=options["since"],
                until=options["until"],
                plots=options["plots"],
                compare=options["compare"],
                gate=not options["no_gate"],
                progress=self.stderr.write,
            )
        except (TrainingDataError, ModelArtifactError) as error:
            raise CommandError(str(error)) from None
        false_events = self._false_events(version, options)
        if false_events is not None:
            result["false_events"] = false_events
        # stdout carries the JSON alone (`evaluate > metrics.json`); the readable summaries go to stderr
        self.stdout.write(json.dumps(result, indent=2))
        self.stderr.write(ranking_evidence_summary(result["metrics"]["ranking_evidence"]))
        if false_events is not None:
            from ranking.false_event_evaluation import false_event_lines

            self.stderr.write("\n".join(false_event_lines(false_events)))

    def _false_events(self, version: ModelVersion | None, options: dict[str, Any]) -> dict[str, Any] | None:
        """The false-event section: precision/recall on real false labels, the prior beside the ranker."""
        from ranking.false_event_evaluation import false_event_evaluation
        from ranking.registry import model_version_active

        chosen = version or model_version_active(kind=ModelVersion.Kind.RANKER)
        if chosen is None:
            return None
        return false_event_evaluation(model_version=chosen, since=options["since"], until=options["until"])

    def _evaluate_cnn(self, version: ModelVersion | None, options: dict[str, Any]) -> None:
        from ranking.cnn_runs import CnnTrainingError, cnn_evaluate
        from ranking.ml.cnn.datasets import DatasetError

        try:
            if options["folds"] == 1 or options["folds"] < 0:
                raise CommandError("--folds must be 0 (no cross-validation) or at least 2")
            result = cnn_evaluate(
                model_version=version,
                data_dir=options["data"],
                limit=options["limit"],
                folds=options["folds"],
                epochs=options["epochs"],
                peer=not options["no_peer"],
                learning_curve=options["learning_curve"],
                refit=not options["no_refit"],
                progress=None if options["json"] else self.stdout.write,
            )
        except (CnnTrainingError, DatasetError, ModelArtifactError) as error:
            raise CommandError(str(error)) from None
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        self.stdout.write(
            f"CNN {result['model']} on {result['held_out_windows']} held-out windows {result['held_out_labels']}"
        )
        self._write_metrics(result, "held-out split")
        if "cross_validation" in result:
            cv = result["cross_validation"]
            self.stdout.write(
                f"\n#### grouped {cv['folds']}-fold cross-validation over time blocks (every event tested once); "
                f"per-fold event macro F1 {cv['fold_event_macro_f1']}"
            )
            self._write_metrics(cv, f"{cv['folds']}-fold cross-validation")
            self.stdout.write(f"\n== CNN event level by data source, {cv['folds']}-fold cross-validation ==")
            for source, metrics in cv["by_source"].items():
                self.stdout.write(
                    f"  {source:<10} events {metrics['n']:>4}  accuracy {metrics['accuracy']}  "
                    f"earthquake-vs-explosion accuracy {metrics['earthquake_vs_explosion_accuracy']} "
                    f"(n={metrics['earthquake_vs_explosion_n']}, AUC {metrics['earthquake_vs_explosion_auc']})"
                )
        for line in cnn_comparison_lines(result):
            self.stdout.write(line)

    def _write_metrics(self, result: dict[str, Any], where: str) -> None:
        from ranking.ml.cnn.evaluation import confusion_text

        for name in ("cnn", "baseline"):
            title = "CNN" if name == "cnn" else "baseline: logistic regression on high/low ratio, P/S ratio, dominant f"
            for level in ("trace", *LEVEL_TITLES):
                if level not in result[name]:
                    continue
                metrics = result[name][level]
                shown = LEVEL_TITLES.get(level, f"{level} level")
                self.stdout.write(f"\n== {title}, {shown}, {where} (n={metrics['n']}) ==")
                self.stdout.write(confusion_text(metrics["confusion"]))
                for cls, row in metrics["per_class"].items():
                    self.stdout.write(
                        f"  {cls:<14} P {row['precision']:.3f}  R {row['recall']:.3f}  F1 {row['f1']:.3f}  "
                        f"n {row['support']}"
                    )
                self.stdout.write(
                    f"  macro F1 {metrics['macro_f1']}  accuracy {metrics['accuracy']}  earthquake-vs-explosion "
                    f"accuracy {metrics['earthquake_vs_explosion_accuracy']} "
                    f"(n={metrics['earthquake_vs_explosion_n']}, AUC {metrics['earthquake_vs_explosion_auc']})"
                )
