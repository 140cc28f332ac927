"""Upstream FDSN sources that answer badly, served by a real HTTP server the test starts (http.server in a
thread): an HTML application.wadl, a trickle, an endless answer, redirects away. Each failure is recorded on its
source and the beat task goes on to the next source."""

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from analyst.models import FdsnSource
from analyst.tasks import poll_upstream_sources
from events.models import Event

pytestmark = pytest.mark.django_db
HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
NORDIC_QUAKEML = "io/quakeml/tests/data/quakeml_1.2_origin.xml"
Route = Callable[[BaseHTTPRequestHandler], None]


class Peer:
    """A real HTTP server on a free port; `routes` maps a path prefix to what it answers; `seen` lists requests."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.seen: list[str] = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                peer.seen.append(self.path)
                for prefix, answer in peer.routes.items():
                    if self.path.startswith(prefix):
                        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the poller hung up
                            answer(self)
                        return
                self.send_error(404)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peers() -> Iterator[Callable[[dict[str, Route]], Peer]]:
    started: list[Peer] = []

    def start(routes: dict[str, Route]) -> Peer:
        started.append(Peer(routes))
        return started[-1]

    yield start
    for peer in started:
        peer.close()


def _send(body: bytes, *, status: int = 200, content_type: str = "application/xml") -> Route:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def _redirect(location: Callable[[], str]) -> Route:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location())
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def _trickle(handler: BaseHTTPRequestHandler) -> None:
    """One byte every 0.2 s for a minute: each read is well within any socket timeout."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/xml")
    handler.end_headers()
    for _ in range(300):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.2)


def _endless(handler: BaseHTTPRequestHandler) -> None:
    """A QuakeML start and then comments without end, with no Content-Length."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/xml")
    handler.end_headers()
    handler.wfile.write(b"<?xml version='1.0'?><q:quakeml xmlns:q='http://quakeml.org/xmlns/quakeml/1.2'>")
    block = b"<!--" + b"x" * 65536 + b"-->"
    for _ in range(2000):  # about 128 MiB
        handler.wfile.write(block)


def _source(name: str, peer: Peer) -> FdsnSource:
    return FdsnSource.objects.create(name=name, base_url=f"{peer.url}/fdsnws/event/1/")


def test_an_html_wadl_is_recorded_on_its_source_and_the_tick_polls_the_next_source(
    peers: Callable[[dict[str, Route]], Peer], obspy_data: Path
) -> None:
    html = peers({"/fdsnws/event/1/": _send(HTML, status=200, content_type="text/html")})
    good = peers(
        {
            "/fdsnws/event/1/application.wadl": _send(HTML, content_type="text/html"),
            "/fdsnws/event/1/query": _send((obspy_data / NORDIC_QUAKEML).read_bytes()),
        }
    )
    broken, working = _source("html-everywhere", html), _source("html-wadl-only", good)
    reports = poll_upstream_sources()
    assert [report["source"] for report in reports] == ["html-everywhere", "html-wadl-only"]
    broken.refresh_from_db()
    working.refresh_from_db()
    assert broken.last_error and broken.last_poll_at is not None and broken.last_success_at is None
    assert working.last_error == "" and working.last_success_at is not None, working.last_error
    assert Event.objects.count() == 1  # the QuakeML of the second source, the WADL's HTML notwithstanding


def test_a_trickling_upstream_is_given_up_at_the_poll_deadline(
    peers: Callable[[dict[str, Route]], Peer], settings: Any
) -> None:
    settings.SEISTRIAGE_UPSTREAM_TIMEOUT = 5.0
    settings.SEISTRIAGE_UPSTREAM_DEADLINE = 2.0
    slow = peers({"/fdsnws/event/1/application.wadl": lambda h: h.send_error(404), "/fdsnws/event/1/query": _trickle})
    source = _source("trickle", slow)
    started = time.monotonic()
    poll_upstream_sources()
    elapsed = time.monotonic() - started
    source.refresh_from_db()
    assert "poll deadline of 2 s" in source.last_error, source.last_error
    assert elapsed < 6, f"the poll ran {elapsed:.1f} s"


def test_an_answer_over_the_byte_cap_is_refused_while_it_downloads(
    peers: Callable[[dict[str, Route]], Peer], settings: Any
) -> None:
    settings.SEISTRIAGE_UPSTREAM_MAX_BYTES = 1024 * 1024
    big = peers({"/fdsnws/event/1/application.wadl": lambda h: h.send_error(404), "/fdsnws/event/1/query": _endless})
    declared = peers(
        {
            "/fdsnws/event/1/application.wadl": lambda h: h.send_error(404),
            "/fdsnws/event/1/query": _send(b"<" * (2 * 1024 * 1024)),
        }
    )
    endless, too_long = _source("endless", big), _source("declared-too-long", declared)
    poll_upstream_sources()
    endless.refresh_from_db()
    too_long.refresh_from_db()
    assert "over the cap of 1,048,576 bytes" in endless.last_error, endless.last_error
    assert "2,097,152 bytes is over the cap of 1,048,576 bytes" in too_long.last_error, too_long.last_error


def test_redirects_that_leave_the_configured_host_or_scheme_are_refused(
    peers: Callable[[dict[str, Route]], Peer], obspy_data: Path
) -> None:
    elsewhere = peers({"/": _send((obspy_data / NORDIC_QUAKEML).read_bytes())})
    away = peers(
        {
            "/fdsnws/event/1/application.wadl": lambda h: h.send_error(404),
            "/fdsnws/event/1/query": _redirect(lambda: f"{elsewhere.url}/fdsnws/event/1/query"),
        }
    )
    ftp = peers(
        {
            "/fdsnws/event/1/application.wadl": lambda h: h.send_error(404),
            "/fdsnws/event/1/query": _redirect(lambda: "ftp://127.0.0.1/quakes.xml"),
        }
    )
    moved = peers(
        {
            "/fdsnws/event/1/application.wadl": lambda h: h.send_error(404),
            "/fdsnws/event/1/query": _redirect(lambda: "/fdsnws/event/1/moved/query"),
            "/fdsnws/event/1/moved/": _send((obspy_data / NORDIC_QUAKEML).read_bytes()),
        }
    )
    to_other, to_ftp, same_host = _source("to-other-host", away), _source("to-ftp", ftp), _source("same-host", moved)
    poll_upstream_sources()
    for source in (to_other, to_ftp, same_host):
        source.refresh_from_db()
    assert f"leaves http://127.0.0.1:{away.url.rsplit(':', 1)[1]}" in to_other.last_error, to_other.last_error
    assert "ftp://127.0.0.1/quakes.xml" in to_ftp.last_error and "leaves" in to_ftp.last_error, to_ftp.last_error
    assert elsewhere.seen == []
    assert same_host.last_error == "" and Event.objects.count() == 1, same_host.last_error
