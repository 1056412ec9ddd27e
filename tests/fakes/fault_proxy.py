"""A small TCP proxy on loopback that misbehaves on demand: the network between us and a
provider, for fault tests (no toxiproxy server is packaged here).

It listens on a free port and forwards each connection to ``target``. What it does to a new
connection is switched at run time from the test (``proxy.fault = Fault.HOLD``):

- ``PASS``: forwards both ways, after ``latency`` seconds (0 by default);
- ``RESET``: accepts and resets the connection at once (the provider's edge refusing us);
- ``HOLD``: accepts, reads, never answers: a request that times out and never arrived;
- ``LOSE_ANSWER``: forwards the request but never relays the answer: a request that times out
  although the provider acted on it (the case that sends a message twice when retried);
- ``HTTP_ERROR``: reads one HTTP request and answers ``status`` (500) itself, ``Connection:
  close``, without forwarding it.

``fail_next(n)`` answers the next ``n`` connections with ``HTTP_ERROR`` whatever the fault is,
then goes back to it. The decision is per connection: ``requests`` opens one per call, and our
error answers close theirs, so for HTTP clients a connection is a request. ``counts`` says how
many connections met each behaviour, ``active`` how many are open now (a request under way).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import Counter
from enum import StrEnum


class Fault(StrEnum):
    PASS = "pass"
    RESET = "reset"
    HOLD = "hold"
    LOSE_ANSWER = "lose_answer"
    HTTP_ERROR = "http_error"


_ERROR_BODY = b'{"error": {"message": "injected by the fault proxy", "code": 1}}'


class FaultProxy:
    def __init__(self, target: tuple[str, int], *, status: int = 500) -> None:
        self.target = target
        self.fault = Fault.PASS
        self.latency = 0.0
        self.status = status
        self.counts: Counter[str] = Counter()
        self._errors_next = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._open: set[socket.socket] = set()
        self._clients: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._clients)

    @property
    def connections(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def fail_next(self, n: int) -> None:
        with self._lock:
            self._errors_next = n

    def start(self) -> FaultProxy:
        threading.Thread(target=self._accept, name="fault-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and close every connection, held ones included."""
        self._stopped.set()
        _close(self._listener)  # shutting it down wakes the accepting thread
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            _close(sock)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed
            with self._lock:
                if self._errors_next > 0:
                    self._errors_next -= 1
                    behaviour = Fault.HTTP_ERROR
                else:
                    behaviour = self.fault
                self.counts[behaviour] += 1
                self._open.add(client)
                self._clients.add(client)
            threading.Thread(target=self._handle, args=(client, behaviour), daemon=True).start()

    def _handle(self, client: socket.socket, behaviour: Fault) -> None:
        try:
            if behaviour is Fault.RESET:
                # SO_LINGER with a zero timeout: close() sends RST, not FIN.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif behaviour is Fault.HOLD:
                _drain(client)
            elif behaviour is Fault.HTTP_ERROR:
                _read_http_request(client)
                client.sendall(
                    f"HTTP/1.1 {self.status} Injected\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(_ERROR_BODY)}\r\nConnection: close\r\n\r\n".encode()
                    + _ERROR_BODY
                )
            else:
                self._forward(client, relay_answer=behaviour is Fault.PASS)
        except OSError:
            pass  # the client or the target went away: the connection ends either way
        finally:
            with self._lock:
                self._open.discard(client)
                self._clients.discard(client)
            if behaviour is Fault.RESET:
                client.close()  # no shutdown(): that would send a FIN before the reset
            else:
                _close(client)

    def _forward(self, client: socket.socket, *, relay_answer: bool) -> None:
        if self.latency:
            time.sleep(self.latency)
        upstream = socket.create_connection(self.target, timeout=10)
        with self._lock:
            self._open.add(upstream)
        try:
            upload = threading.Thread(target=_pump, args=(client, upstream), daemon=True)
            upload.start()
            if relay_answer:
                _pump(upstream, client)
                upload.join(timeout=1)
            else:
                _drain(upstream)  # the target answers; nobody hears it,
                upload.join()  # and the caller waits until it gives up
        finally:
            with self._lock:
                self._open.discard(upstream)
            _close(upstream)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _drain(sock: socket.socket) -> None:
    """Read until the peer closes (or the proxy stops): never answer."""
    sock.settimeout(None)
    while sock.recv(65536):
        pass


def _read_http_request(sock: socket.socket) -> None:
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return
        body += chunk


def _close(sock: socket.socket) -> None:
    # shutdown() first: close() alone does not wake a thread blocked reading the socket.
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
