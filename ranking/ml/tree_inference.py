"""Bulk scoring of the ranker's trees at full speed, with threads that suit the batch and the process.

A fitted HistGradientBoostingClassifier is compiled once into native code (Treelite imports scikit-learn's
trees, TL2cgen writes them as C and builds a shared library with the system C compiler), kept on disk under
the hash of the trees, and loaded by every process that scores with that model. Its probabilities equal
scikit-learn's ``predict_proba`` to within 1e-12 (tests/ranking/test_tree_inference.py, on real PNSN rows).

Compiling takes a few seconds, so it happens only for a batch of at least ``COMPILE_MIN_ROWS`` rows (a bulk
rescoring, an evaluation); once the library exists any batch above the flat walk's size uses it. Without a C
compiler, or if building fails, scoring stays on scikit-learn's ``predict_proba`` and says so once in the log.

Threads: one below ``PARALLEL_MIN_ROWS`` rows (starting threads costs more than it saves), else the process's
budget: every core in a command or the web process, ``cores // concurrency`` in a Celery prefork child
(``threads_budget_set``, from the child's start), so children never oversubscribe the cores with OpenMP threads.
scikit-learn's OpenMP pool is held to the same number with threadpoolctl.
"""

import contextlib
import hashlib
import logging
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]

COMPILE_MIN_ROWS = 20_000
PARALLEL_MIN_ROWS = 20_000
COMPILER_OPTIONS = ["-O1"]  # -O1 builds in a third of -O2's time and ran as fast on the ranker's trees
# Thresholds become bin indices (exact: the same comparisons); 1.5x the rows/s of plain thresholds on one thread.
CODEGEN_PARAMS = {"quantize": 1}

_state: dict[str, Any] = {"budget": None, "folder": None}
_libraries: dict[str, Any] = {}  # trees hash -> (path, {threads: predictor}) or None when building failed
_lock = threading.Lock()


def threads_budget_set(threads: int | None) -> None:
    """The most native threads one scoring call of this process may use (None: every core)."""
    _state["budget"] = threads


def compiled_folder_set(folder: Path | None) -> None:
    """Where compiled trees are kept (the ranking app points it into the data folder's cache)."""
    _state["folder"] = folder


def scoring_threads(rows: int) -> int:
    """Threads for scoring ``rows`` rows in this process."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    budget = _state["budget"] or cores
    return 1 if rows < PARALLEL_MIN_ROWS else max(1, min(budget, cores))


def _folder() -> Path:
    folder = _state["folder"] or Path(tempfile.gettempdir()) / f"seistriage-trees-{os.getuid()}"
    return Path(folder)


def _trees_key(estimator: HistGradientBoostingClassifier) -> str:
    digest = hashlib.sha256()
    for iteration in estimator._predictors:
        for predictor in iteration:
            digest.update(predictor.nodes.tobytes())
    digest.update(np.asarray(estimator._baseline_prediction, dtype=np.float64).tobytes())
    digest.update(repr((COMPILER_OPTIONS, sorted(CODEGEN_PARAMS.items()))).encode())  # a new build for new options
    return digest.hexdigest()[:24]


def _build(estimator: HistGradientBoostingClassifier, path: Path) -> None:
    import tl2cgen
    import treelite

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    # Treelite and TL2cgen print their progress; stdout belongs to the commands (evaluate writes JSON there)
    with contextlib.redirect_stdout(sys.stderr):
        model = treelite.sklearn.import_model(estimator)
        tl2cgen.export_lib(
            model, toolchain="gcc", libpath=str(partial), params=CODEGEN_PARAMS, options=COMPILER_OPTIONS, nthread=2
        )
    partial.replace(path)  # atomic: another process never loads a half-written library


def _library(estimator: HistGradientBoostingClassifier, *, build: bool) -> dict[int, Any] | None:
    """The predictors (by thread count) of the compiled trees, built when ``build``; None when unavailable."""
    key = _trees_key(estimator)
    with _lock:
        if key in _libraries:
            entry = _libraries[key]
            return None if entry is None else entry[1]
        path = _folder() / f"hgb-{key}.so"
        if not path.exists():
            if not build:
                return None
            try:
                _build(estimator, path)
            except Exception as error:  # no compiler, no Treelite: scikit-learn scores instead
                logger.warning("compiled trees unavailable, scoring with scikit-learn: %s", error)
                _libraries[key] = None
                return None
        predictors: dict[int, Any] = {}
        _libraries[key] = (path, predictors)
        return predictors


def _predictor(predictors: dict[int, Any], path: Path, threads: int) -> Any:
    import tl2cgen

    if threads not in predictors:
        with contextlib.redirect_stdout(sys.stderr):
            predictors[threads] = tl2cgen.Predictor(str(path), nthread=threads)
    return predictors[threads]


def compiled_proba(
    estimator: HistGradientBoostingClassifier, features: FloatArray, *, threads: int
) -> FloatArray | None:
    """The compiled trees' class probabilities, shape (n, n_classes); None when no library is (or can be) built."""
    predictors = _library(estimator, build=len(features) >= COMPILE_MIN_ROWS)
    if predictors is None:
        return None
    import tl2cgen

    path = _folder() / f"hgb-{_trees_key(estimator)}.so"
    with _lock:
        predictor = _predictor(predictors, path, threads)
    out = predictor.predict(tl2cgen.DMatrix(np.ascontiguousarray(features, dtype=np.float64), dtype="float64"))
    out = np.asarray(out, dtype=np.float64).reshape(len(features), -1)
    if out.shape[1] == 1:  # binary: the library gives the positive class
        return np.column_stack([1.0 - out[:, 0], out[:, 0]])
    return out


def estimator_predict_proba(estimator: Any, features: FloatArray, *, compiled: bool = True) -> FloatArray:
    """``estimator.predict_proba(features)`` at full speed: compiled trees for a HistGradientBoostingClassifier
    where available, and never more native threads than ``scoring_threads`` allows."""
    threads = scoring_threads(len(features))
    if compiled and isinstance(estimator, HistGradientBoostingClassifier) and len(features):
        proba = compiled_proba(estimator, features, threads=threads)
        if proba is not None:
            return proba
    with threadpool_limits(limits=threads, user_api="openmp"):
        return np.asarray(estimator.predict_proba(features), dtype=np.float64)
