"""Load: N simulated analysts against gunicorn + PostgreSQL + Redis + real Celery workers while events arrive.

One command, loopback only, bounded by --duration (s) and --analysts. It builds its own world:

- PostgreSQL database seistriage_load (created, migrated, flushed) and Redis db 11 (broker and cache; flushed);
- a ranker trained and promoted on the first 5,000 real reviewed PNSN rows;
- the 68 real PNW events (imported as automatic, to be reviewed) with their real waveforms registered;
- N analyst users and one senior "ingester", each with an API token;
- gunicorn (--web-workers processes) on a free loopback port and one `celery worker -Q cpu` (one process per
  core), with DEBUG off.

Then, for --duration seconds, N analyst threads (requests.Session, `Authorization: Token`) loop: list the queue,
list it filtered, open an event (from the page, or one of the PNW events which have waveforms), fetch its
record-section figure when it has waveforms, claim it, decide (accept or reject) with the version seen, next;
--think-s seconds (mean, exponential) between actions. Meanwhile an ingester uploads real ComCat rows (the week
CSV, then the remaining PNSN rows as automatic events) at --ingest-rate rows per second: one small CSV file per
second through the upload API (POST /api/imports/, the path an upstream feed or a senior analyst uses); the
worker imports each file and its on-commit hook queues the scoring, all on the real worker.

Afterwards: requests/s, p50/p95/p99 per endpoint, errors (every 5xx listed), scoring lag (upload -> scored) in
30 s buckets, and the database checked against what the harness saw (decisions and audit entries per analyst,
no duplicated decision, every ingested event scored, waiting up to 60 s).

Run: DEBUG=true SEISTRIAGE_DATA_DIR=$PWD/var/load .venv/bin/python bench/load_analysts.py [--duration 600]
"""

import argparse
import csv
import io
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DATABASE_URL = os.environ.get("LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/seistriage_load")
REDIS_URL = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/11")
os.environ.update(DATABASE_URL=DATABASE_URL, CELERY_BROKER_URL=REDIS_URL, CACHE_URL=REDIS_URL)

from bench._django import ROOT, machine_line, setup  # noqa: E402


def database_ensure(url: str) -> None:
    """Create the load test's PostgreSQL database when it does not exist yet."""
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')


database_ensure(DATABASE_URL)
setup()

import numpy as np  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db.models import Count, Min  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from analyst.ingest.services import events_ingest_file  # noqa: E402
from analyst.models import AuditAction, AuditEntry  # noqa: E402
from analyst.roles import roles_ensure  # noqa: E402
from events.models import Event, EventLabel  # noqa: E402
from ranking.models import EventScore  # noqa: E402
from ranking.training import ranker_train  # noqa: E402

DATA = Path(settings.SHARED_DATA_DIR)
WEEK = DATA / "catalogs" / "comcat_all_week_2021-05.csv"
PNSN = DATA / "catalogs" / "pnsn_comcat_2018-2022.csv"
PNW = DATA / "pnw"
TRAIN_ROWS = 5000
INGEST_PREFIX = "load-ingest-"
TARGETS_MS = {"queue": 300.0, "queue filtered": 300.0, "event": 300.0, "waveform figure": 1000.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(*, port: int) -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=DATABASE_URL,
        CELERY_BROKER_URL=REDIS_URL,
        CACHE_URL=REDIS_URL,
        SEISTRIAGE_DATA_DIR=str(settings.DATA_DIR),
        DATABASE_CONN_MAX_AGE="60",
    )
    return env


def wait_for_text(log: Path, text: str, process: subprocess.Popen[bytes], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"no {text!r} in {log}:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


def processes_start(*, folder: Path, port: int, web_workers: int) -> list[subprocess.Popen[bytes]]:
    env = child_env(port=port)
    cores = os.cpu_count() or 1
    worker_log, web_log = folder / "worker.log", folder / "gunicorn.log"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "cpu",
            f"--concurrency={cores}",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"load-{os.getpid()}@%h",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=worker_log.open("w"),
        stderr=subprocess.STDOUT,
    )
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-w",
            str(web_workers),
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
            "--access-logfile",
            "-",
        ],
        cwd=ROOT,
        env=env,
        stdout=web_log.open("w"),
        stderr=subprocess.STDOUT,
    )
    wait_for_text(worker_log, "ready.", worker, timeout=120)
    wait_for_text(web_log, "Booting worker", web, timeout=60)
    return [worker, web]


def processes_stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Record:
    """What the harness saw; appended from many threads (list.append and Counter updates under the lock)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    server_errors: list[str] = field(default_factory=list)
    decisions: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    decided: list[tuple[int, str, str]] = field(default_factory=list)  # (event, analyst, decision) answered 200
    refused: Counter[str] = field(default_factory=Counter)  # analyst -> review answered 409
    uploads: list[tuple[float, str]] = field(default_factory=list)  # (monotonic-free wall time, file name)

    def add(self, endpoint: str, response: requests.Response | None, elapsed: float, error: str = "") -> None:
        with self.lock:
            self.latencies[endpoint].append(elapsed)
            status = response.status_code if response is not None else 0
            self.statuses[endpoint][status] += 1
            if status >= 500 or status == 0:
                body = response.text[:200] if response is not None else error
                self.server_errors.append(f"{endpoint} {status}: {body!r}")


def call(
    record: Record, session: requests.Session, endpoint: str, method: str, url: str, **kwargs: Any
) -> requests.Response | None:
    started = time.perf_counter()
    try:
        response = session.request(method, url, timeout=60, **kwargs)
    except requests.RequestException as error:
        record.add(endpoint, None, time.perf_counter() - started, error=str(error))
        return None
    record.add(endpoint, response, time.perf_counter() - started)
    return response


def analyst_loop(
    *,
    name: str,
    token: str,
    base: str,
    until: float,
    think_s: float,
    waveform_events: list[int],
    record: Record,
    seed: int,
) -> None:
    rng = random.Random(seed)
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"

    def think() -> None:
        time.sleep(min(rng.expovariate(1 / think_s), 5 * think_s) if think_s > 0 else 0)

    while time.time() < until:
        page = call(record, session, "queue", "GET", f"{base}/api/events/", params={"limit": 25, "total": "0"})
        think()
        params = {
            "limit": 25,
            "review_state": "new,scored",
            "magnitude_min": rng.choice(["0.5", "1", "1.5"]),
            "claimed_by": "nobody",
        }
        filtered = call(record, session, "queue filtered", "GET", f"{base}/api/events/", params=params)
        think()
        rows = []
        for answer in (filtered, page):
            if answer is not None and answer.status_code == 200:
                rows = answer.json()["results"]
                if rows:
                    break
        from_page = bool(rows) and rng.random() >= 0.3
        event_id = int(rng.choice(rows)["id"]) if from_page else rng.choice(waveform_events)
        opened = call(record, session, "event", "GET", f"{base}/api/events/{event_id}/")
        if opened is None or opened.status_code != 200:
            continue
        version = int(opened.json()["version"])
        if event_id in waveform_events:
            call(
                record,
                session,
                "waveform figure",
                "GET",
                f"{base}/api/events/{event_id}/waveforms/",
                params={"width": 1200},
            )
        think()
        claimed = call(record, session, "claim", "POST", f"{base}/api/events/{event_id}/claim/")
        if claimed is None or claimed.status_code != 200:
            continue
        think()
        decision = "accept" if rng.random() < 0.7 else "reject"
        body: dict[str, Any] = {"decision": decision, "version": version}
        if decision == "accept":
            body.update(event_type="earthquake", certainty="known")
        reviewed = call(record, session, "review", "POST", f"{base}/api/events/{event_id}/review/", json=body)
        if reviewed is not None:
            with record.lock:
                if reviewed.status_code == 200:
                    record.decisions[name][decision] += 1
                    record.decided.append((event_id, name, decision))
                elif reviewed.status_code == 409:
                    record.refused[name] += 1
        think()


def warm_up(*, base: str, token: str, event_id: int, rounds: int) -> None:
    """Before measuring: every gunicorn process imports its modules and opens its connections (not counted)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    for _ in range(rounds):
        for path in ("/api/events/", f"/api/events/{event_id}/", f"/api/events/{event_id}/waveforms/"):
            session.get(f"{base}{path}", timeout=120).raise_for_status()


def ingest_files(*, rate: int, seconds: int) -> list[str]:
    """One CSV text per second of real rows: the ComCat week CSV, then the PNSN rows not used for training
    (each file carries its own catalogue's header)."""
    files: list[str] = []
    for path, skip in ((WEEK, 0), (PNSN, TRAIN_ROWS)):
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            rows = list(reader)[skip:]
        for start in range(0, len(rows), rate):
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows[start : start + rate])
            files.append(text.getvalue())
    return files[:seconds]


def ingester_loop(*, token: str, base: str, until: float, files: list[str], record: Record) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    started = time.time()
    for second, content in enumerate(files):
        if time.time() >= until:
            break
        name = f"{INGEST_PREFIX}{second:05d}.csv"
        sent = time.time()
        answer = call(
            record,
            session,
            "upload",
            "POST",
            f"{base}/api/imports/",
            files={"events": (name, content.encode(), "text/csv")},
        )
        if answer is not None and answer.status_code == 202:
            with record.lock:
                record.uploads.append((sent, name))
        time.sleep(max(0.0, started + second + 1 - time.time()))


def percentiles(values: list[float]) -> str:
    if not values:
        return "-"
    ms = np.array(values) * 1000
    return f"p50 {np.percentile(ms, 50):6.0f}  p95 {np.percentile(ms, 95):6.0f}  p99 {np.percentile(ms, 99):6.0f} ms"


def ingested_state(uploads: list[tuple[float, str]]) -> dict[str, Any]:
    sent = {name: at for at, name in uploads}
    events = list(Event.objects.filter(source_file__contains=INGEST_PREFIX).values_list("pk", "source_file"))
    merged = set(
        EventLabel.objects.filter(event_id__in=[pk for pk, _ in events], source="imported_review").values_list(
            "event_id", flat=True
        )
    )
    first_score = dict(
        EventScore.objects.filter(event_id__in=[pk for pk, _ in events])
        .values("event_id")
        .annotate(first=Min("scored_at"))
        .values_list("event_id", "first")
    )
    # Stored as uploads/<job>/<nnn>-<name>: the name after the upload's sequence prefix.
    to_score = [(pk, Path(source).name.split("-", 1)[-1]) for pk, source in events if pk not in merged]
    unscored = [pk for pk, _ in to_score if pk not in first_score]
    return {
        "events": events,
        "merged": merged,
        "first_score": first_score,
        "to_score": to_score,
        "unscored": unscored,
        "sent": sent,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=600, help="seconds of load (default 600)")
    parser.add_argument("--analysts", type=int, default=50, help="simulated analysts (default 50)")
    parser.add_argument("--ingest-rate", type=int, default=10, help="events ingested per second (default 10)")
    parser.add_argument("--think-s", type=float, default=1.0, help="mean pause between an analyst's actions")
    parser.add_argument("--web-workers", type=int, default=2 * (os.cpu_count() or 1) + 1, help="gunicorn workers")
    arguments = parser.parse_args()
    if (
        not 1 <= arguments.duration <= 3600
        or not 1 <= arguments.analysts <= 500
        or not 0 < arguments.ingest_rate <= 100
    ):
        parser.error("--duration 1..3600, --analysts 1..500, --ingest-rate 1..100")

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    redis.Redis.from_url(REDIS_URL).flushdb()
    print(machine_line())
    print(f"database {DATABASE_URL} (flushed), Redis {REDIS_URL} (flushed: broker and cache)")

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        folder = Path(tmp)
        lines = PNSN.read_text().splitlines()
        (folder / "train.csv").write_text("\n".join(lines[: TRAIN_ROWS + 1]) + "\n")
        events_ingest_file(path=folder / "train.csv", reviewed=True)
        version = ranker_train(created_by="load_analysts", promote=True)
        waveform_events = sorted(set(events_ingest_file(path=PNW / "events.csv").event_ids))
        call_command("import_waveforms", str(PNW / "waveforms"), stdout=io.StringIO())
        print(
            f"setup: {TRAIN_ROWS} reviewed PNSN rows, ranker {version.version} promoted, {len(waveform_events)} "
            f"PNW events with their waveforms, in {time.perf_counter() - started:.0f} s"
        )

        groups = roles_ensure()
        tokens: dict[str, str] = {}
        for number in range(arguments.analysts):
            user = User.objects.create_user(f"load-analyst-{number:03d}", password=secrets.token_urlsafe(16))
            user.groups.add(groups["analyst"])
            tokens[user.username] = Token.objects.create(user=user).key
        ingester = User.objects.create_user("load-ingester", password=secrets.token_urlsafe(16))
        ingester.groups.add(groups["analyst"], groups["senior analyst"])
        ingester_token = Token.objects.create(user=ingester).key

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        processes = processes_start(folder=folder, port=port, web_workers=arguments.web_workers)
        print(
            f"gunicorn -w {arguments.web_workers} on {base} (DEBUG off), celery worker -Q cpu "
            f"-c {os.cpu_count()}; {arguments.analysts} analysts (think {arguments.think_s} s mean), ingest "
            f"{arguments.ingest_rate}/s through POST /api/imports/, {arguments.duration} s"
        )
        record = Record()
        files = ingest_files(rate=arguments.ingest_rate, seconds=arguments.duration)
        try:  # the web and the worker are stopped whatever happens from here
            warm_up(
                base=base,
                token=next(iter(tokens.values())),
                event_id=waveform_events[0],
                rounds=3 * arguments.web_workers,
            )
            load_start = time.time()
            until = load_start + arguments.duration
            threads = [
                threading.Thread(
                    target=analyst_loop,
                    kwargs={
                        "name": name,
                        "token": token,
                        "base": base,
                        "until": until,
                        "think_s": arguments.think_s,
                        "waveform_events": waveform_events,
                        "record": record,
                        "seed": number,
                    },
                )
                for number, (name, token) in enumerate(tokens.items())
            ]
            threads.append(
                threading.Thread(
                    target=ingester_loop,
                    kwargs={"token": ingester_token, "base": base, "until": until, "files": files, "record": record},
                )
            )
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            load_s = time.time() - load_start
            deadline = time.time() + 60
            state = ingested_state(record.uploads)
            broker = redis.Redis.from_url(REDIS_URL)
            while (state["unscored"] or broker.llen("cpu") or broker.hlen("unacked")) and time.time() < deadline:
                time.sleep(2)
                state = ingested_state(record.uploads)
            drained_s = time.time() - until
        finally:
            processes_stop(processes)
            worker_text = (folder / "worker.log").read_text(errors="replace")
        report(arguments, record, state, load_s, drained_s, load_start, worker_text)


def report(
    arguments: argparse.Namespace,
    record: Record,
    state: dict[str, Any],
    load_s: float,
    drained_s: float,
    load_start: float,
    worker_text: str,
) -> None:
    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    total = sum(len(v) for v in record.latencies.values())
    print(f"\nrequests: {total} in {load_s:.0f} s = {total / load_s:.1f}/s")
    print(f"{'endpoint':<16} {'n':>6}  latency{'':<38} statuses")
    for endpoint, values in sorted(record.latencies.items()):
        target = TARGETS_MS.get(endpoint)
        p95 = float(np.percentile(np.array(values) * 1000, 95))
        mark = f"  target p95 < {target:.0f} ms: {verdict(p95 < target)}" if target else ""
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(record.statuses[endpoint].items()))
        print(f"{endpoint:<16} {len(values):>6}  {percentiles(values)}   {statuses}{mark}")
    print(f"5xx / connection errors: {len(record.server_errors)}  target none: {verdict(not record.server_errors)}")
    for line in record.server_errors[:20]:
        print(f"  {line}")

    # Scoring lag: from the upload request to the event's first score, by the 30 s bucket of the upload.
    buckets: dict[int, list[float]] = defaultdict(list)
    for pk, name in state["to_score"]:
        if pk in state["first_score"] and name in state["sent"]:
            sent = state["sent"][name]
            buckets[int((sent - load_start) // 30)].append(state["first_score"][pk].timestamp() - sent)
    print("scoring lag (upload -> first score), by upload time:")
    for bucket, lags in sorted(buckets.items()):
        lag = np.array(lags)
        p50, p95 = np.percentile(lag, 50), np.percentile(lag, 95)
        span = f"{bucket * 30:4d}-{bucket * 30 + 30:<4d} s"
        print(f"  {span}: {len(lag):5d} events, p50 {p50:5.1f} s, p95 {p95:5.1f} s, max {lag.max():5.1f} s")
    ingested = len(state["events"])
    print(
        f"ingested: {len(record.uploads)} files accepted, {ingested} events ({len(state['merged'])} merged into "
        f"reviewed PNSN events); {len(state['to_score']) - len(state['unscored'])}/{len(state['to_score'])} "
        f"scored {drained_s:.0f} s after the end  target all: {verdict(not state['unscored'])}"
    )
    if state["unscored"]:
        print(f"  unscored, e.g.: {state['unscored'][:10]}")
    failed_tasks = worker_text.count("raised unexpected")
    print(f"worker: {worker_text.count('succeeded in')} tasks succeeded, {failed_tasks} raised")

    # The database against what the harness was told.
    said = {name: dict(counts) for name, counts in record.decisions.items()}
    audit: dict[str, dict[str, int]] = defaultdict(dict)
    for name, action, n in (
        AuditEntry.objects.filter(user__username__startswith="load-analyst-")
        .values_list("user__username", "action")
        .annotate(n=Count("id"))
    ):
        audit[name][action] = n
    labels = Counter(
        EventLabel.objects.filter(analyst__username__startswith="load-analyst-").values_list(
            "analyst__username", flat=True
        )
    )
    mismatches = []
    for name in sorted(set(said) | set(audit) | set(record.refused)):
        decided = said.get(name, {})
        stored = audit.get(name, {})
        want = (decided.get("accept", 0), decided.get("reject", 0), record.refused.get(name, 0), sum(decided.values()))
        have = (
            stored.get(AuditAction.ACCEPT, 0),
            stored.get(AuditAction.REJECT, 0),
            stored.get(AuditAction.REVIEW_REFUSED, 0),
            labels.get(name, 0),
        )
        if want != have:
            mismatches.append(f"{name}: harness accept/reject/refused/labels {want}, database {have}")
    decisions = AuditEntry.objects.filter(action__in=(AuditAction.ACCEPT, AuditAction.REJECT))
    duplicated = decisions.values("event_id", "event_version").annotate(n=Count("id")).filter(n__gt=1).count()
    accepted = sum(c.get("accept", 0) for c in said.values())
    rejected = sum(c.get("reject", 0) for c in said.values())
    print(
        f"reviews acknowledged with 200: {accepted} accepted, {rejected} rejected; refused with 409: "
        f"{sum(record.refused.values())}; database per analyst (audit accept/reject/refused + labels) "
        f"{'matches' if not mismatches else 'DIFFERS'} for {len(set(said) | set(audit))} analysts  "
        f"target exact: {verdict(not mismatches)}"
    )
    for line in mismatches[:20]:
        print(f"  {line}")
    print(
        f"duplicated decisions (same event and version decided twice): {duplicated}  "
        f"target none: {verdict(duplicated == 0)}"
    )


if __name__ == "__main__":
    main()
