"""The model store under faults: a disk that fills while a model is saved, and two promotions at the same moment.

(A corrupt or missing artifact is covered by tests/ranking/test_model_store.py: refused, and the active model keeps
serving.)"""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from ranking.ml.features import FEATURE_NAMES, FEATURE_VERSION, ReviewedCatalogue, feature_matrix
from ranking.ml.ranker import RankerModel, ranker_fit
from ranking.models import ModelPromotion, ModelVersion
from ranking.registry import (
    model_artifact_load,
    model_version_promote,
    model_version_register,
    models_cache_clear,
    models_dir,
)
from ranking.training_runs import model_promote
from tests.support.ranking_data import pnsn_inputs, pnsn_rows

ROOT = Path(__file__).resolve().parents[2]

# Run in a child process: a file-size limit (RLIMIT_FSIZE, as a full disk would) below the artifact's size, then
# register the real ranker read from the artifact the parent stored. SIGXFSZ is ignored so the write fails with
# EFBIG instead of killing the process.
DISK_FULL_SCRIPT = """
import json, os, resource, signal, sys
import django
django.setup()
import joblib
from ranking.ml.features import FEATURE_NAMES, FEATURE_VERSION
from ranking.registry import model_version_register
model = joblib.load(sys.argv[1])
limit = int(sys.argv[2])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
try:
    model_version_register(kind="ranker", model=model, created_by="disk-full", feature_names=list(FEATURE_NAMES),
                           feature_version=FEATURE_VERSION, training_summary={})
except OSError as error:
    print(json.dumps({"error": type(error).__name__, "errno": error.errno}))
else:
    print(json.dumps({"error": None}))
"""


@pytest.fixture(scope="module")
def small_ranker(shared_data: Path) -> RankerModel:
    inputs, labels, times = pnsn_inputs(pnsn_rows(shared_data, years=(2018,))[:1500])
    features = feature_matrix(inputs, gazetteer=None, reviewed=ReviewedCatalogue.empty())
    return ranker_fit(features, labels, times, feature_names=FEATURE_NAMES, feature_version=FEATURE_VERSION)


def _register(model: RankerModel, by: str = "test") -> ModelVersion:
    return model_version_register(
        kind="ranker",
        model=model,
        created_by=by,
        feature_names=list(FEATURE_NAMES),
        feature_version=FEATURE_VERSION,
        training_summary={"events": 1500},
    )


@pytest.mark.django_db
def test_a_disk_filling_up_while_a_model_is_saved_leaves_no_record_no_partial_file_and_the_active_model(
    small_ranker: RankerModel,
) -> None:
    models_cache_clear()
    active = model_version_promote(model_version=_register(small_ranker, "active"))
    store = models_dir()
    artifact = store / active.artifact_path
    files_before = sorted(p.name for p in (store / "ranker").iterdir())
    records_before = ModelVersion.objects.count()
    env = {**os.environ, "SEISTRIAGE_DATA_DIR": str(settings.DATA_DIR)}
    child = subprocess.run(
        [sys.executable, "-c", DISK_FULL_SCRIPT, str(artifact), str(artifact.stat().st_size // 3)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    outcome = json.loads(child.stdout.strip().splitlines()[-1])
    assert outcome["error"] is not None and outcome["errno"] == 27, outcome  # EFBIG: the file could not grow
    assert ModelVersion.objects.count() == records_before
    assert sorted(p.name for p in (store / "ranker").iterdir()) == files_before, "a partial artifact was left behind"
    assert ModelVersion.objects.get(status="active") == active
    assert isinstance(model_artifact_load(model_version=active), RankerModel)


@pytest.mark.django_db(transaction=True)
def test_two_promotions_at_the_same_moment_leave_exactly_one_active_model(small_ranker: RankerModel) -> None:
    models_cache_clear()
    first = model_version_promote(model_version=_register(small_ranker, "first"))
    candidates = [_register(small_ranker, f"candidate-{n}") for n in (1, 2)]
    barrier = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def promote(candidate: ModelVersion) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[candidate.version] = model_promote(model_version=candidate, by=candidate.created_by)
        except Exception as error:
            outcomes[candidate.version] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=promote, args=(c,)) for c in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(o, ModelPromotion) for o in outcomes.values()), outcomes
    active = list(ModelVersion.objects.filter(kind="ranker", status="active"))
    assert len(active) == 1 and active[0].pk in {c.pk for c in candidates}
    promotions = list(ModelPromotion.objects.filter(kind="ranker").order_by("created_at", "id"))
    # Served one after the other: the second promotion retired the first one's model, and each names the model it
    # replaced, so the history reads as a chain first -> one candidate -> the other.
    assert [p.previous_id for p in promotions] == [first.pk, promotions[0].model_version_id]
    assert promotions[1].model_version_id == active[0].pk
    assert ModelVersion.objects.get(pk=first.pk).status == "retired"
