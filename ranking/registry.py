"""The model store: register, verify, load and promote model versions.

Ranker artifacts are joblib files and CNN artifacts Keras files (.keras, loaded with Keras' safe mode,
so no Python code from the file runs) that this module itself wrote under DATA_DIR/models. Unpickling runs
code, so an artifact is loaded only from inside that folder and only after its SHA-256 matches the
record: a tampered or missing file is refused with ModelArtifactError, and the model that was
serving before keeps serving. Nothing a user uploads is ever passed to joblib.
"""

import datetime as dt
import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
from django.conf import settings
from django.db import transaction

from ranking.ml.ranker import RankerModel
from ranking.models import ModelVersion

logger = logging.getLogger(__name__)


class ModelArtifactError(Exception):
    """A model artifact that must not be loaded: missing, outside the store, or failing its checksum."""


@dataclass(frozen=True)
class LoadedRanker:
    version: ModelVersion
    model: RankerModel


_cache_lock = threading.Lock()
_cache: dict[str, tuple[ModelVersion, Any]] = {}  # kind -> (version, loaded artifact)


def models_dir() -> Path:
    return Path(settings.DATA_DIR) / "models"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_version_register(
    *,
    kind: str,
    model: Any,
    created_by: str,
    feature_names: list[str],
    feature_version: str,
    estimator: str = "",
    training_summary: dict[str, Any],
    metrics: dict[str, Any] | None = None,
) -> ModelVersion:
    """Write the artifact into the store and record it as a candidate."""
    now = dt.datetime.now(dt.UTC)
    version = f"{kind}-{now:%Y%m%dT%H%M%S%f}Z"
    suffix = ".keras" if kind == ModelVersion.Kind.CNN else ".joblib"
    relative = Path(kind) / f"{version}{suffix}"
    path = models_dir() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{version}.partial{suffix}")
    try:
        if kind == ModelVersion.Kind.CNN:
            model.save(partial)  # the Keras format: config JSON + weights, no pickled code
        else:
            joblib.dump(model, partial)
    except BaseException:  # a full disk, a killed save: leave nothing half-written in the store
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    return ModelVersion.objects.create(
        kind=kind,
        version=version,
        created_by=created_by[:150],
        estimator=estimator,
        training_summary=training_summary,
        feature_names=feature_names,
        feature_version=feature_version,
        metrics=metrics or {},
        artifact_path=str(relative),
        artifact_sha256=file_sha256(path),
    )


def model_artifact_load(*, model_version: ModelVersion) -> Any:
    """Load a stored artifact after checking it lies in the store and matches its recorded SHA-256."""
    root = models_dir().resolve()
    path = (root / model_version.artifact_path).resolve()
    if not path.is_relative_to(root):
        raise ModelArtifactError(f"model {model_version.version}: artifact path {path} lies outside the store {root}")
    if not path.is_file():
        raise ModelArtifactError(f"model {model_version.version}: artifact {path} is missing")
    actual = file_sha256(path)
    if actual != model_version.artifact_sha256:
        raise ModelArtifactError(
            f"model {model_version.version}: artifact {path} has SHA-256 {actual[:12]}..., the record says "
            f"{model_version.artifact_sha256[:12]}...: refused (tampered or corrupted)"
        )
    if model_version.kind == ModelVersion.Kind.CNN:
        return _keras_load(path, model_version)
    try:
        model = joblib.load(path)  # our own file, its checksum verified above
    except (AttributeError, ModuleNotFoundError, TypeError) as error:
        # A ranker pickled by older code (its calibration class is gone): it cannot score with this code.
        raise ModelArtifactError(
            f"model {model_version.version}: artifact was written by an older version of the code ({error}); "
            "train and promote a new ranker"
        ) from None
    if model_version.kind == ModelVersion.Kind.RANKER and not isinstance(model, RankerModel):
        raise ModelArtifactError(f"model {model_version.version}: artifact is not a ranker")
    return model


def _keras_load(path: Path, model_version: ModelVersion) -> Any:
    import keras  # imported here: ranker-only processes never load TensorFlow

    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises ValueError/OSError/zipfile errors for bad archives
        raise ModelArtifactError(
            f"model {model_version.version}: {path} is not a loadable Keras model ({error})"
        ) from None


def model_versions_lock(*, kind: str) -> None:
    """Inside a transaction: lock every version of a kind, so two promotions at once run one after the other
    (the second sees the first's result) instead of both retiring the same predecessor."""
    list(ModelVersion.objects.select_for_update().filter(kind=kind).values_list("pk", flat=True))


def model_version_promote(*, model_version: ModelVersion) -> ModelVersion:
    """Make a verified model the active one of its kind and retire the previous active one."""
    model_artifact_load(model_version=model_version)  # refuse before anything changes
    with transaction.atomic():
        model_versions_lock(kind=model_version.kind)
        ModelVersion.objects.select_for_update().filter(
            kind=model_version.kind, status=ModelVersion.Status.ACTIVE
        ).exclude(pk=model_version.pk).update(status=ModelVersion.Status.RETIRED)
        model_version.status = ModelVersion.Status.ACTIVE
        model_version.promoted_at = dt.datetime.now(dt.UTC)
        model_version.save(update_fields=["status", "promoted_at"])
    return model_version


def model_version_active(*, kind: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(kind=kind, status=ModelVersion.Status.ACTIVE).first()


def _active_load(kind: str) -> tuple[ModelVersion, Any] | None:
    """The active model of ``kind`` and its loaded artifact, loaded once per process; None when none is active.

    When the active artifact is refused, the model this process served before keeps serving (and the refusal
    is logged); with nothing served before, ModelArtifactError propagates.
    """
    active = model_version_active(kind=kind)
    if active is None:
        return None
    with _cache_lock:
        cached = _cache.get(kind)
        if cached is not None and cached[0].pk == active.pk and cached[0].artifact_sha256 == active.artifact_sha256:
            return cached
        try:
            loaded = (active, model_artifact_load(model_version=active))
        except ModelArtifactError:
            if cached is None:
                raise
            logger.exception("keeping %s %s: the active %s cannot be loaded", kind, cached[0].version, kind)
            return cached
        _cache[kind] = loaded
        return loaded


def ranker_active_load() -> LoadedRanker | None:
    """The active ranker, loaded once per process (``_active_load``); None when no ranker is active."""
    loaded = _active_load(ModelVersion.Kind.RANKER)
    return None if loaded is None else LoadedRanker(*loaded)


@dataclass(frozen=True)
class LoadedCnn:
    version: ModelVersion
    model: Any  # keras.Model


def cnn_active_load() -> LoadedCnn | None:
    """The active CNN (safe mode, checksum verified), loaded once per process (``_active_load``); None when none."""
    loaded = _active_load(ModelVersion.Kind.CNN)
    return None if loaded is None else LoadedCnn(*loaded)


def models_cache_clear() -> None:
    """Forget the loaded models of this process (the next load reads the active artifacts again)."""
    with _cache_lock:
        _cache.clear()
