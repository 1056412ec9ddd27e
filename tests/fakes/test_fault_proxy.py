"""The fault proxy does what each fault says, to a real HTTP server behind it on loopback: it
passes requests through (late, when told), resets, holds, loses answers, answers errors itself
for a while, counts what it did, and lets go of every connection when stopped."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.fakes.fault_proxy import Fault, FaultProxy


class _Upstream:
    """Answers every POST with 200 and remembers the bodies it was sent."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                upstream.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def upstream() -> Iterator[_Upstream]:
    server = _Upstream()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def proxy(upstream: _Upstream) -> Iterator[FaultProxy]:
    started = FaultProxy(("127.0.0.1", upstream.server.server_port)).start()
    yield started
    started.stop()


def post(proxy: FaultProxy, body: bytes, *, timeout: float = 5) -> requests.Response:
    return requests.post(proxy.url, data=body, timeout=timeout)


def test_passes_requests_through_and_adds_latency(proxy: FaultProxy, upstream: _Upstream) -> None:
    assert post(proxy, b"one").text == "ok"
    proxy.latency = 0.3
    started = time.monotonic()
    assert post(proxy, b"two").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert upstream.bodies == [b"one", b"two"]
    assert proxy.counts == {"pass": 2} and proxy.connections == 2
    # The client has its answer a moment before the proxy's thread lets go of the connection.
    deadline = time.monotonic() + 5
    while proxy.active and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proxy.active == 0


def test_resets_new_connections(proxy: FaultProxy, upstream: _Upstream) -> None:
    proxy.fault = Fault.RESET
    with pytest.raises(requests.ConnectionError):
        post(proxy, b"refused")
    assert upstream.bodies == []
    assert proxy.counts == {"reset": 1}


def test_holding_times_out_before_the_target_hears_anything(
    proxy: FaultProxy, upstream: _Upstream
) -> None:
    proxy.fault = Fault.HOLD
    with pytest.raises(requests.ReadTimeout):
        post(proxy, b"held", timeout=0.5)
    assert upstream.bodies == []


def test_a_lost_answer_times_out_after_the_target_acted(
    proxy: FaultProxy, upstream: _Upstream
) -> None:
    proxy.fault = Fault.LOSE_ANSWER
    with pytest.raises(requests.ReadTimeout):
        post(proxy, b"done, unheard", timeout=0.5)
    assert upstream.bodies == [b"done, unheard"]


def test_answers_errors_itself_always_or_for_the_next_requests(
    proxy: FaultProxy, upstream: _Upstream
) -> None:
    proxy.fault = Fault.HTTP_ERROR
    answer = post(proxy, b"x" * 100_000)  # read whole first: the client sees the answer
    assert answer.status_code == 500 and "fault proxy" in answer.json()["error"]["message"]
    proxy.fault = Fault.PASS
    proxy.fail_next(2)
    assert [post(proxy, b"again").status_code for _ in range(3)] == [500, 500, 200]
    assert upstream.bodies == [b"again"]
    assert proxy.counts == {"http_error": 3, "pass": 1}


def test_stopping_lets_go_of_held_connections(proxy: FaultProxy) -> None:
    proxy.fault = Fault.HOLD
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as held:
        held.sendall(b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        time.sleep(0.1)
        assert proxy.active == 1
        proxy.stop()
        assert held.recv(10) == b""  # closed, not answered
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=1)
