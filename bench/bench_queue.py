"""The review queue API on 1,000,000 events in PostgreSQL: keyset pages beside DRF's page-number pagination.

Rows: the real ComCat week (2,047 events, with gap, RMS and phase counts) and the real PNSN catalogue
(10,620 events) resampled with replacement to 1,000,000 rows; each copy keeps its source event's place,
depth, magnitude and network, gets an origin time drawn over five years and a new id. The ranker's
outputs are not in any catalogue, so importance, predicted class and review state are drawn at random
(importance uniform in [0, 1), 85% of events unreviewed): they are sort and filter keys here, not results.
Rows go in with COPY; the table is ANALYZEd, measured, and emptied at the end.

Measured in process (no network, no browser): the time of one GET through the real view, from the request to
the rendered JSON, p50/p95 over repeated calls, for page 1 and for a page 100,000 rows deep, ordered by
importance and by origin time, with two filters on (review state new or scored, magnitude >= 1.0). Page 1
carries the approximate total (an EXPLAIN estimate, kept for ESTIMATE_SECONDS per filter set, so the timed calls
after the warm-up reuse it; a cold page 1 pays one EXPLAIN more, ~0.5 ms); a deeper page is asked for as the queue
page asks for it, without the total (`total=0`). The baseline is a DRF ListAPIView with PageNumberPagination
(COUNT + OFFSET) and a ModelSerializer of the same columns, with the same filters and ordering, on the same table in
the same run. Beside each row: the same request's SQL alone on a bare cursor (the floor the database and the machine's
load set) and this process's CPU time per request (what load does not change). Then the same pages through every
middleware with an analyst's session cookie (session, user and role lookups included).

Run: `.venv/bin/python bench/bench_queue.py` (database postgres://postgres@127.0.0.1:5432/seistriage_bench_queue,
created if missing; BENCH_QUEUE_ROWS to change the row count).
"""

import csv
import datetime as dt
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DATABASE = "postgres://postgres@127.0.0.1:5432/seistriage_bench_queue"
os.environ.setdefault("DATABASE_URL", BENCH_DATABASE)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import machine_line, setup  # noqa: E402

ROWS = int(os.environ.get("BENCH_QUEUE_ROWS", "1000000"))
DEPTH = 100_000
PAGE = 50
FILTERS = {"review_state": "new,scored", "magnitude_min": "1.0"}


def database_create() -> None:
    import psycopg

    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect(os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


database_create()
setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from obspy.geodetics import FlinnEngdahl  # noqa: E402
from rest_framework import generics, serializers  # noqa: E402
from rest_framework.pagination import PageNumberPagination  # noqa: E402
from rest_framework.test import APIRequestFactory, force_authenticate  # noqa: E402

from analyst.api.events import EventQueueApi  # noqa: E402
from analyst.api.pagination import queue_cursor_encode  # noqa: E402
from analyst.selectors.queue import QUEUE_ORDERINGS, QueueCursor  # noqa: E402
from events.models import Event  # noqa: E402


def source_events() -> list[tuple[Any, ...]]:
    """(latitude, longitude, depth, magnitude, magnitude type, phases, gap, rms, agency, region) of real events."""
    shared = Path(settings.SHARED_DATA_DIR) / "catalogs"
    regions = FlinnEngdahl()
    rows: list[tuple[Any, ...]] = []

    def number(text: str) -> float | None:
        return float(text) if text not in ("", None) else None

    with (shared / "comcat_all_week_2021-05.csv").open() as handle:
        for row in csv.DictReader(handle):
            lat, lon = float(row["latitude"]), float(row["longitude"])
            nst = number(row["nst"])
            rows.append(
                (
                    lat,
                    lon,
                    number(row["depth"]),
                    number(row["mag"]),
                    row["magType"],
                    int(nst) if nst is not None else None,
                    number(row["gap"]),
                    number(row["rms"]),
                    row["net"],
                    regions.get_region(lon, lat),
                )
            )
    with (shared / "pnsn_comcat_2018-2022.csv").open() as handle:
        for row in csv.DictReader(handle):
            lat, lon = float(row["latitude"]), float(row["longitude"])
            picks = number(row["number_of_pick"])
            rows.append(
                (
                    lat,
                    lon,
                    number(row["depth"]),
                    number(row["magnitude"]),
                    row["magnitude_type"],
                    int(picks) if picks is not None else None,
                    None,
                    None,
                    row["contributor"],
                    regions.get_region(lon, lat),
                )
            )
    return rows


def table_fill(rows: int) -> float:
    sources = source_events()
    rng = np.random.default_rng(20210518)
    picks = rng.integers(0, len(sources), rows)
    start = dt.datetime(2018, 1, 1, tzinfo=dt.UTC).timestamp()
    seconds = rng.uniform(0, 5 * 365.25 * 86400, rows)
    importance = rng.random(rows)
    classes = rng.choice(
        ["earthquake", "explosion_like", "other_natural", "not_existing"], rows, p=[0.6, 0.2, 0.05, 0.15]
    )
    states = rng.choice(["new", "scored", "in_review", "accepted", "rejected"], rows, p=[0.15, 0.7, 0.02, 0.09, 0.04])
    now = dt.datetime.now(dt.UTC).isoformat()
    columns = (
        "public_id",
        "event_type",
        "event_type_certainty",
        "review_state",
        "region",
        "description",
        "agency_id",
        "author",
        "source_file",
        "source_format",
        "origin_time",
        "latitude",
        "longitude",
        "depth",
        "magnitude",
        "magnitude_type",
        "phase_count",
        "azimuthal_gap",
        "rms",
        "importance",
        "predicted_class",
        "predicted_probability",
        "scoring_state",
        "scoring_error",
        "version",
        "created_at",
        "updated_at",
    )
    began = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3
        with raw.copy(f"COPY analyst_event ({', '.join(columns)}) FROM STDIN") as copy:
            for index in range(rows):
                lat, lon, depth, mag, mag_type, phases, gap, rms, agency, region = sources[picks[index]]
                origin = dt.datetime.fromtimestamp(start + seconds[index], dt.UTC)
                copy.write_row(
                    (
                        f"smi:bench/{index}",
                        "",
                        "",
                        states[index],
                        region,
                        "",
                        agency,
                        "bench",
                        "",
                        "resampled",
                        origin,
                        lat,
                        lon,
                        depth,
                        mag,
                        mag_type,
                        phases,
                        gap,
                        rms,
                        float(importance[index]),
                        classes[index],
                        0.4 + 0.6 * float(importance[index]),
                        "scored",
                        "",
                        1,
                        now,
                        now,
                    )
                )
        cursor.execute("ANALYZE analyst_event")
    return time.perf_counter() - began


class BaselineSerializer(serializers.ModelSerializer[Event]):
    class Meta:
        model = Event
        fields = (
            "id",
            "public_id",
            "origin_time",
            "region",
            "latitude",
            "longitude",
            "depth",
            "magnitude",
            "magnitude_type",
            "phase_count",
            "azimuthal_gap",
            "rms",
            "importance",
            "predicted_class",
            "predicted_probability",
            "event_type",
            "event_type_certainty",
            "review_state",
            "agency_id",
            "version",
        )


class BaselinePagination(PageNumberPagination):
    page_size = PAGE


class PageNumberQueueApi(generics.ListAPIView[Event]):
    serializer_class = BaselineSerializer
    pagination_class = BaselinePagination

    def get_queryset(self) -> Any:
        ordering = self.request.query_params.get("ordering", "-importance")
        column = ordering.removeprefix("-")
        order = [f"-{column}", "-id"] if ordering.startswith("-") else [column, "id"]
        return Event.objects.filter(review_state__in=["new", "scored"], magnitude__gte=1.0).order_by(*order)


class KeysetDrfRenderedApi(EventQueueApi):
    """Our keyset view as it was before orjson: the same selector and page, rendered by REST framework's
    Response and JSONRenderer (the json module with its encoder), to show what the renderer cost."""

    def get(self, request: Any) -> Any:
        from rest_framework.response import Response

        from analyst.api.events import _neighbour_cursor
        from analyst.api.filters import queue_query_parse
        from analyst.api.pagination import page_size_parse
        from analyst.api.serializers import queue_page_data
        from analyst.selectors.queue import event_queue_page

        filters, ordering = queue_query_parse(params=request.query_params, username=request.user.get_username())
        after, backward = _neighbour_cursor(request, ordering)
        page = event_queue_page(
            filters=filters,
            ordering=ordering,
            after=after,
            limit=page_size_parse(request.query_params.get("limit")),
            backward=backward,
            with_total=request.query_params.get("total", "1") != "0",
        )
        next_cursor = queue_cursor_encode(page.next) if page.next is not None else None
        return Response(queue_page_data(page, next_cursor=next_cursor))


CPU_MS: list[float] = []  # this process's CPU time per call of the last timed() (the web process's share)


def timed(call: Callable[[], Any], repeats: int) -> list[float]:
    call()  # warm the plan and the pages
    samples = []
    CPU_MS.clear()
    for _ in range(repeats):
        began, cpu = time.perf_counter(), time.process_time()
        call()
        samples.append((time.perf_counter() - began) * 1000.0)
        CPU_MS.append((time.process_time() - cpu) * 1000.0)
    return samples


def statements_alone(request: Callable[[], Any]) -> Callable[[], None]:
    """The SQL one request sent, run again on a bare cursor: the floor the database and the socket set under this
    load, with no Python of ours around it."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        request()
    statements = [query["sql"] for query in captured.captured_queries]

    def run() -> None:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                cursor.fetchall()

    return run


def deep_cursor(ordering: str) -> str:
    """The keyset cursor of the row DEPTH deep under the filters (found once with OFFSET, not timed)."""
    column = QUEUE_ORDERINGS[ordering.removeprefix("-")]
    order = [f"-{column}", "-id"] if ordering.startswith("-") else [column, "id"]
    row = (
        Event.objects.filter(review_state__in=["new", "scored"], magnitude__gte=1.0, **{f"{column}__isnull": False})
        .order_by(*order)
        .values("id", column)[DEPTH - 1]
    )
    return queue_cursor_encode(QueueCursor(ordering=ordering, value=row[column], id=row["id"]))


def explain_deep() -> None:
    """The plan of the deep keyset page's rows query, to show it seeks instead of scanning."""
    from analyst.api.pagination import queue_cursor_decode
    from analyst.selectors.queue import QueueFilters, _claim_annotations, _section, event_queue_filter
    from events.filters import EventFilter

    now = dt.datetime.now(dt.UTC)
    filters = QueueFilters(where=EventFilter(review_states=("new", "scored"), magnitude_min=1.0))
    for ordering in ("-importance", "-origin_time"):
        after = queue_cursor_decode(deep_cursor(ordering), ordering=ordering)
        column = QUEUE_ORDERINGS[ordering.removeprefix("-")]
        queryset = event_queue_filter(filters=filters, now=now).annotate(**_claim_annotations(now))
        part = _section(queryset, column, nulls=False, descending=True, after=(after.value, after.id)).values("id")[:51]
        sql, params = part.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            lines = [row[0] for row in cursor.fetchall()]
        scan = next((line.strip() for line in lines if "Scan" in line), "?")
        timing = [line.strip() for line in lines if line.startswith(("Planning Time", "Execution Time"))]
        print(f"{ordering} at depth {DEPTH:,}: {scan}; {'; '.join(timing)}")


def main() -> None:
    print(machine_line())
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    call_command("migrate", verbosity=0)
    if os.environ.get("BENCH_QUEUE_REUSE") and Event.objects.filter(source_format="resampled").count() == ROWS:
        print(f"reusing the {ROWS:,} resampled rows of an earlier run (BENCH_QUEUE_REUSE)")
    else:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE analyst_event CASCADE")
        print(f"filling analyst_event with {ROWS:,} resampled real events (COPY)...", flush=True)
        print(f"  {table_fill(ROWS):.1f} s")
    user, _ = User.objects.get_or_create(username="bench", defaults={"is_superuser": True})
    factory = APIRequestFactory()
    keyset_view = EventQueueApi.as_view()
    baseline_view = PageNumberQueueApi.as_view()
    drf_rendered_view = KeysetDrfRenderedApi.as_view()

    def call(view: Any, params: dict[str, str]) -> Callable[[], Any]:
        def run() -> Any:
            request = factory.get("/api/events/", params, HTTP_HOST="localhost")
            force_authenticate(request, user=user)
            response = view(request)
            if hasattr(response, "render"):  # REST framework's Response; ours is already bytes
                response.render()
            assert response.status_code == 200, response.content[:300]
            return response

        return run

    print(
        f"\n{'ordering':<14}{'depth':>8}  {'keyset p50':>10} {'p95 ms':>7}   {'+DRF render p50':>15} {'p95 ms':>7}"
        f"   {'page-number p50':>15} {'p95 ms':>7}   {'ratio p95':>9} {'vs DRF render':>13}   load"
    )
    results = {}
    for ordering in ("-importance", "-origin_time"):
        deep = deep_cursor(ordering)
        for depth, keyset_params, page_number in (
            (0, {}, "1"),
            (DEPTH, {"cursor": deep, "total": "0"}, str(DEPTH // PAGE + 1)),
        ):
            params = {**FILTERS, "ordering": ordering, "limit": str(PAGE)}
            keyset = timed(call(keyset_view, {**params, **keyset_params}), repeats=200)
            keyset_cpu = statistics.median(CPU_MS)
            alone = timed(statements_alone(call(keyset_view, {**params, **keyset_params})), repeats=200)
            drf_rendered = timed(call(drf_rendered_view, {**params, **keyset_params}), repeats=200)
            drf_cpu = statistics.median(CPU_MS)
            baseline = timed(call(baseline_view, {**params, "page": page_number}), repeats=20)
            first_keyset = json.loads(call(keyset_view, {**params, **keyset_params})().content)["results"][0]["id"]
            first_baseline = call(baseline_view, {**params, "page": page_number})().data["results"][0]["id"]
            assert first_keyset == first_baseline, f"keyset and page-number pages disagree at depth {depth}"
            k95, b95 = float(np.percentile(keyset, 95)), float(np.percentile(baseline, 95))
            d95 = float(np.percentile(drf_rendered, 95))
            results[(ordering, depth)] = (k95, b95)
            print(
                f"{ordering:<14}{depth:>8,}  {statistics.median(keyset):>10.2f} {k95:>7.2f}   "
                f"{statistics.median(drf_rendered):>15.2f} {d95:>7.2f}   "
                f"{statistics.median(baseline):>15.2f} {b95:>7.2f}   {b95 / k95:>8.1f}x {d95 / k95:>12.1f}x   "
                f"{os.getloadavg()[0]:.2f}   (its SQL alone on a cursor: p50 {statistics.median(alone):.2f} p95 "
                f"{float(np.percentile(alone, 95)):.2f} ms; CPU of this process per request, p50: keyset "
                f"{keyset_cpu:.2f} ms, +DRF render {drf_cpu:.2f} ms)",
                flush=True,
            )
    print()
    explain_deep()
    for ordering in ("-importance", "-origin_time"):
        shallow, deep_ = results[(ordering, 0)][0], results[(ordering, DEPTH)][0]
        print(
            f"{ordering}: keyset p95 at depth {DEPTH:,} / page 1 = {deep_ / shallow:.2f} (flat is ~1); "
            f"page-number / keyset at depth {DEPTH:,} = {results[(ordering, DEPTH)][1] / deep_:.0f}x "
            f"(target >= 100x); keyset p95 {deep_:.2f} ms (target <= 5 ms)"
        )
    through_middleware()
    event_list_compare()
    if not os.environ.get("BENCH_QUEUE_REUSE"):
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE analyst_event CASCADE")
        print("rows dropped (TRUNCATE analyst_event)")


def through_middleware() -> None:
    """The same pages asked as an analyst's browser asks them: Django's test client through every middleware, with
    a session cookie, so the session, the user and the user's roles are looked up before the rows (the table above
    calls the view with a forced user, as REST framework's own benchmarks do)."""
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from analyst.roles import roles_ensure

    analyst, _ = User.objects.get_or_create(username="bench-analyst")
    analyst.groups.add(roles_ensure()["analyst"])
    client = Client(HTTP_HOST="localhost")
    client.force_login(analyst)
    print("\nthrough every middleware, an analyst's session (not a superuser):")
    for ordering in ("-importance", "-origin_time"):
        for depth, extra in ((0, {}), (DEPTH, {"cursor": deep_cursor(ordering), "total": "0"})):
            params = {**FILTERS, "ordering": ordering, "limit": str(PAGE), **extra}

            def run() -> None:
                assert client.get("/api/events/", params).status_code == 200  # noqa: B023

            samples = timed(run, repeats=200)
            with CaptureQueriesContext(connection) as queries:
                run()
            print(
                f"  {ordering:<13} depth {depth:>7,}: p50 {statistics.median(samples):.2f} p95 "
                f"{float(np.percentile(samples, 95)):.2f} ms, CPU p50 {statistics.median(CPU_MS):.2f} ms, "
                f"{len(queries)} queries (session, user, roles, rows{', total' if len(queries) > 4 else ''})",
                flush=True,
            )


def event_list_compare() -> None:
    """The plain event list (/events/, newest first, 100 a page): its keyset selector beside what it replaced,
    Django's Paginator (an exact COUNT on every page, then OFFSET), at page 1 and DEPTH rows deep, no filters."""
    from django.core.paginator import Paginator

    from analyst.selectors.events import event_list_page

    per_page = 100
    columns = (
        "id",
        "public_id",
        "origin_time",
        "latitude",
        "longitude",
        "depth",
        "magnitude",
        "magnitude_type",
        "event_type",
        "review_state",
        "region",
    )
    newest_first = Event.objects.order_by("-origin_time", "-id")
    deep_id = newest_first.values_list("id", flat=True)[DEPTH - 1]
    print(f"\n/events/ list, {per_page} a page, no filters: keyset selector vs Paginator (COUNT + OFFSET)")
    for depth, after, page_number in ((0, None, 1), (DEPTH, deep_id, DEPTH // per_page + 1)):
        keyset = timed(lambda: event_list_page(after=after, per_page=per_page), repeats=50)  # noqa: B023
        paginator = timed(
            lambda: list(Paginator(newest_first.only(*columns), per_page).get_page(page_number)),  # noqa: B023
            repeats=10,
        )
        ours = event_list_page(after=after, per_page=per_page).rows[0]["id"]
        theirs = Paginator(newest_first.only(*columns), per_page).get_page(page_number)[0].id
        assert ours == theirs, f"the two lists disagree at depth {depth}"
        k95, p95 = float(np.percentile(keyset, 95)), float(np.percentile(paginator, 95))
        print(
            f"  depth {depth:>7,}: keyset p50 {statistics.median(keyset):.2f} p95 {k95:.2f} ms; Paginator p50 "
            f"{statistics.median(paginator):.2f} p95 {p95:.2f} ms; {p95 / k95:.1f}x"
        )


if __name__ == "__main__":
    main()
