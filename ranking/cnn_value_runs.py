"""``evaluate --kind ranker --cnn-value``: the CNN's proof of value in the ranker (ranking.ml.cnn_value) on the
shared PNSN data, stored on the CNN version it judged (``metrics["cnn_value"]``), which the model page shows."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from ranking.ml.cnn_value import cnn_value, pnsn_catalogue_inputs
from ranking.models import ModelVersion
from ranking.registry import model_version_active

CATALOGUE = Path("catalogs") / "pnsn_comcat_2018-2022.csv"


class CnnValueError(Exception):
    """The proof of value cannot run (no CNN, or no out-of-fold CNN probabilities stored)."""


def cnn_value_evaluate(*, model_version: ModelVersion | None = None, data_dir: Path | None = None) -> dict[str, Any]:
    """ΔAP/Δaccuracy with and without the CNN features on the PNSN catalogue events that have waveforms and an
    out-of-fold probability in the CNN's latest cross-validation (``evaluate --kind cnn --folds 5``)."""
    version = model_version or model_version_active(kind=ModelVersion.Kind.CNN)
    if version is None:
        raise CnnValueError("no CNN: train one (train --kind cnn --promote) and cross-validate it first")
    events = (version.metrics.get("latest_cross_validation") or {}).get("events")
    if not events:
        raise CnnValueError(
            f"CNN {version.version} has no stored out-of-fold probabilities: run evaluate --kind cnn --folds 5 first"
        )
    folder = data_dir or Path(settings.SHARED_DATA_DIR)
    ids, features, labels, times = pnsn_catalogue_inputs(folder / CATALOGUE)
    index = {f"pnw:{source_id}": row for row, source_id in enumerate(ids)}
    rows = {index[e["name"]]: e["probabilities"] for e in events if e["name"] in index}
    result = {"cnn_model": version.version, **cnn_value(features, labels, times, rows)}
    with transaction.atomic():
        version.refresh_from_db()
        version.metrics = {**version.metrics, "cnn_value": result}
        version.save(update_fields=["metrics"])
    return result
