"""A service started as a process, as an operator starts it: a free port, and waiting until it
answers its health check (or saying why it never did)."""

from __future__ import annotations

import socket
import subprocess
import time

import requests


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_serving(process: subprocess.Popen[str], base_url: str, *, seconds: float) -> None:
    """Return once ``base_url``/healthz answers 200; fail with the process's output if it
    exits first, or when ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if requests.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, f"{base_url} did not come up in {seconds} s"
        time.sleep(0.5)
