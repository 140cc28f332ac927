"""The scoring pipeline end to end: import -> scored through real Celery worker processes on Redis and PostgreSQL.

Setup (real data): the PNSN catalogue (10,620 reviewed rows) is imported with --reviewed, a ranker is
trained on it and promoted. Then the real ComCat week CSV (2,047 automatic events) is imported twice,
once per pipeline, with the events of the first run deleted in between:

- batched: the pipeline as shipped. The import's on-commit hook marks the events queued and sends one
  chain per SEISTRIAGE_SCORING_BATCH_SIZE (200) ids: measure_waveforms(ids) -> score_events(ids);
- per event: the alternative, one task per event id: the same hook with the batch size set to 1, so each
  event travels alone through the same chain, tasks and services (measure_waveforms([id]) -> score_events([id])).

Each pipeline gets a fresh `celery worker` subprocess with the same concurrency, warmed up on 50 real
events (ObsPy's Nordic catalogue, deleted afterwards) so both children have loaded the ranker.
Latency per event: from its import commit (scoring_requested_at, written by the on-commit hook right after
the import transaction commits) to its EventScore.scored_at. Throughput: events / (last scored_at - commit).

With ``--files N``: the first N rows of the same week CSV dropped in the watched folder as one file, then as N
single-event files (one scan each; the scan coalesces the events of every file into full scoring batches):
from the scan's start to the last event scored, through the same real worker.

Run (creates and migrates its own database, flushes it, purges Redis db 9):
  DEBUG=true SEISTRIAGE_DATA_DIR=$PWD/var/bench-pipeline .venv/bin/python bench/bench_pipeline.py [--concurrency 2]
  ... bench/bench_pipeline.py --files 762
"""

import argparse
import datetime as dt
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DATABASE_URL = os.environ.get(
    "BENCH_PIPELINE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/seistriage_bench_pipeline"
)
BROKER_URL = os.environ.get("BENCH_PIPELINE_BROKER_URL", "redis://127.0.0.1:6379/9")
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ["CELERY_BROKER_URL"] = BROKER_URL

from bench._django import machine_line, setup  # noqa: E402


def database_ensure(url: str) -> None:
    """Create the benchmark's PostgreSQL database when it does not exist yet."""
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


database_ensure(DATABASE_URL)
setup()

import numpy as np  # noqa: E402
import obspy  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402

from analyst.ingest.services import events_ingest_file  # noqa: E402
from config.celery_app import app  # noqa: E402
from events.models import Event  # noqa: E402
from events.vocabulary import (  # noqa: E402
    UNREVIEWED_STATES,
    ScoringState,
)
from ranking.models import EventScore  # noqa: E402
from ranking.training import ranker_train  # noqa: E402
from tests.support.worker import CeleryWorkerProcess  # noqa: E402

CATALOGS = Path(settings.SHARED_DATA_DIR) / "catalogs"
REVIEWED = CATALOGS / "pnsn_comcat_2018-2022.csv"
WEEK = CATALOGS / "comcat_all_week_2021-05.csv"
WARM_UP = Path(obspy.__path__[0]) / "io/nordic/tests/data/select.out"
TIMEOUT_S = 300.0


def wait_scored(ids: list[int], *, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while Event.objects.filter(pk__in=ids, scoring_state=ScoringState.SCORED).count() < len(ids):
        failed = Event.objects.filter(pk__in=ids, scoring_state__in=(ScoringState.FAILED, ScoringState.NO_MODEL))
        if failed.exists():
            example = failed.values_list("scoring_error", flat=True)[0]
            raise RuntimeError(f"{what}: {failed.count()} events not scored, e.g. {example!r}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not all {len(ids)} events scored after {TIMEOUT_S:.0f} s")
        time.sleep(0.1)


def events_delete(ids: list[int]) -> None:
    Event.objects.filter(pk__in=ids).delete()


def run_pipeline(*, mode: str, concurrency: int, folder: Path) -> dict[str, float]:
    batch_size = settings.SEISTRIAGE_SCORING_BATCH_SIZE if mode == "batched" else 1
    log = folder / f"worker-{mode}.log"
    env = {"DATABASE_URL": DATABASE_URL, "CELERY_BROKER_URL": BROKER_URL, "SEISTRIAGE_DATA_DIR": str(settings.DATA_DIR)}
    worker = CeleryWorkerProcess(log=log, env=env, queues="cpu", concurrency=concurrency, name=f"bench-{mode}")
    try:
        with override_settings(SEISTRIAGE_SCORING_BATCH_SIZE=1):  # warm-up: every child gets events
            warm = sorted(set(events_ingest_file(path=WARM_UP).event_ids))
        wait_scored(warm, what="warm-up")
        events_delete(warm)
        tasks_before = log.read_text().count("succeeded in")

        started = dt.datetime.now(dt.UTC)
        with override_settings(SEISTRIAGE_SCORING_BATCH_SIZE=batch_size):
            report = events_ingest_file(path=WEEK)
        imported = dt.datetime.now(dt.UTC)
        # Week rows that are PNSN events the reviewed catalogue already holds merge into them and stay reviewed.
        ids = list(
            Event.objects.filter(pk__in=report.event_ids, review_state__in=UNREVIEWED_STATES).values_list(
                "pk", flat=True
            )
        )
        merged = len(set(report.event_ids)) - len(ids)
        wait_scored(ids, what=mode)
        time.sleep(0.5)  # let the last task's "succeeded" line reach the log
        text = log.read_text()
        tasks = text.count("succeeded in") - tasks_before
        threads = sorted(set(re.findall(r"native threads per pool child: (\d+)", text)))
    finally:
        worker.stop()
    committed: dict[int, dt.datetime] = {
        pk: requested
        for pk, requested in Event.objects.filter(pk__in=ids).values_list("pk", "scoring_requested_at")
        if requested is not None
    }
    scored = dict(EventScore.objects.filter(event_id__in=ids).values_list("event_id", "scored_at"))
    assert len(scored) == len(ids) == len(committed), (len(scored), len(ids), len(committed))
    latencies = np.array([(scored[i] - committed[i]).total_seconds() for i in ids])
    first_commit = min(committed.values())
    last_scored = max(scored.values())
    events_delete(ids)
    return {
        "events": len(ids),
        "rows": len(report.event_ids),
        "merged": merged,
        "tasks": tasks,
        "threads": int(threads[0]) if len(threads) == 1 else -1,
        "import_s": (imported - started).total_seconds(),
        "scoring_s": (last_scored - first_commit).total_seconds(),
        "events_per_s": len(ids) / (last_scored - first_commit).total_seconds(),
        "events_per_s_with_import": len(ids) / (last_scored - started).total_seconds(),
        "p50_s": float(np.percentile(latencies, 50)),
        "p95_s": float(np.percentile(latencies, 95)),
        "max_s": float(latencies.max()),
    }


def run_files(*, mode: str, concurrency: int, folder: Path, rows: list[str], header: str) -> dict[str, float]:
    """The same real ComCat rows dropped in the watched folder as one file (``one_file``) or one file per event
    (``many_files``), one scan: from the scan's start to the last event scored, through a real worker."""
    from analyst.ingest.watch_folder import SETTLE_SECONDS, watch_folder_scan

    log = folder / f"worker-{mode}.log"
    env = {"DATABASE_URL": DATABASE_URL, "CELERY_BROKER_URL": BROKER_URL, "SEISTRIAGE_DATA_DIR": str(settings.DATA_DIR)}
    watched = folder / f"incoming-{mode}"
    watched.mkdir()
    texts = [f"{header}\n{row}\n" for row in rows] if mode == "many_files" else [header + "\n" + "\n".join(rows) + "\n"]
    past = time.time() - 10 * SETTLE_SECONDS
    for index, text in enumerate(texts):
        path = watched / f"comcat-{index:04d}.csv"
        path.write_text(text)
        os.utime(path, (past, past))
    worker = CeleryWorkerProcess(log=log, env=env, queues="cpu", concurrency=concurrency, name=f"bench-{mode}")
    try:
        warm = sorted(set(events_ingest_file(path=WARM_UP).event_ids))
        wait_scored(warm, what="warm-up")
        events_delete(warm)
        tasks_before = log.read_text().count("succeeded in")
        started = time.perf_counter()
        report = watch_folder_scan(folder=watched)
        scanned = time.perf_counter() - started
        assert len(report.imported) == len(texts) and not report.failed, report.failed[:3]
        ids = list(
            Event.objects.filter(source_file__startswith=str(watched), review_state__in=UNREVIEWED_STATES).values_list(
                "pk", flat=True
            )
        )
        wait_scored(ids, what=mode)
        total = time.perf_counter() - started
        time.sleep(0.5)
        tasks = log.read_text().count("succeeded in") - tasks_before
    finally:
        worker.stop()
    events_delete(ids)
    return {"files": len(texts), "events": len(ids), "tasks": tasks, "scan_s": scanned, "total_s": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes per celery worker (both runs)")
    parser.add_argument(
        "--files", type=int, default=0, help="instead: N real ComCat rows as one file vs N single-event files"
    )
    arguments = parser.parse_args()

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    purged = app.control.purge()
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        postgres = cursor.fetchone()[0].split(" on ")[0]
    import celery
    import redis
    import sklearn

    redis_version = redis.Redis.from_url(BROKER_URL).info()["redis_version"]
    print(machine_line())
    print(
        f"Celery {celery.__version__}, scikit-learn {sklearn.__version__}, {postgres}, Redis {redis_version} "
        f"({BROKER_URL}, {purged} stale messages purged), worker concurrency {arguments.concurrency} (prefork)"
    )

    started = time.perf_counter()
    reviewed = events_ingest_file(path=REVIEWED, reviewed=True)
    imported_s = time.perf_counter() - started
    started = time.perf_counter()
    version = ranker_train(created_by="bench_pipeline", promote=True)
    print(
        f"ranker {version.version}: {len(reviewed.event_ids)} reviewed PNSN events imported in {imported_s:.1f} s, "
        f"trained and promoted in {time.perf_counter() - started:.1f} s"
    )

    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if arguments.files:
        lines = WEEK.read_text().splitlines()
        rows = lines[1 : arguments.files + 1]
        runs: dict[str, dict[str, float]] = {}
        with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as folder:
            for mode in ("one_file", "many_files"):
                runs[mode] = run_files(
                    mode=mode, concurrency=arguments.concurrency, folder=Path(folder), rows=rows, header=lines[0]
                )
                r = runs[mode]
                print(
                    f"{mode:>10}: {r['files']:.0f} file(s), {r['events']:.0f} unreviewed events, {r['tasks']:.0f} "
                    f"tasks; scan {r['scan_s']:.1f} s, scan start -> all scored {r['total_s']:.1f} s; "
                    f"load {os.getloadavg()[0]:.2f}"
                )
        ratio = runs["many_files"]["total_s"] / runs["one_file"]["total_s"]
        print(f"many files / one file: x{ratio:.2f} the time (target <= 2)")
        return
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as folder:
        for mode in ("batched", "per_event"):
            results[mode] = run_pipeline(mode=mode, concurrency=arguments.concurrency, folder=Path(folder))
            r = results[mode]
            print(
                f"{mode:>9}: {r['events']:.0f} new events ({r['merged']:.0f} of the week's events merged into reviewed "
                f"PNSN ones), {r['tasks']:.0f} tasks ({r['threads']:.0f} native thread(s) per "
                f"child), import {r['import_s']:.1f} s; "
                f"commit -> all scored {r['scoring_s']:.1f} s = {r['events_per_s']:.0f} events/s "
                f"({r['events_per_s_with_import']:.0f}/s counting the import); latency p50 {r['p50_s']:.2f} s, "
                f"p95 {r['p95_s']:.2f} s, max {r['max_s']:.2f} s"
            )
    batched, single = results["batched"], results["per_event"]
    print(
        f"batched / per event: throughput x{batched['events_per_s'] / single['events_per_s']:.1f}, "
        f"p95 latency x{single['p95_s'] / batched['p95_s']:.1f} lower"
    )


if __name__ == "__main__":
    main()
