"""The README's first command, as someone trying the project runs it: `imaradesk demo` on the
embedded default (SQLite, in-process FAISS, no Redis), served by gunicorn with one worker.

It proves that the served process comes up with the real models and answers a customer in
English and in Swahili from the demo's FAQ. It exists because a forked worker once hung for
ever at its warm-up (the multilingual engine's OpenMP threads, inherited from the process the
worker was forked from, are gone): the tests in process never fork, and the topology's two
workers each run one encoder thread, which hides it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import WebVisitor
from tests.runtime.served import free_port, wait_until_serving

pytestmark = pytest.mark.slow


def test_the_demo_serves_and_answers_in_english_and_swahili(tmp_path: Path) -> None:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL"} and not k.startswith("IMARADESK_")
    }
    environment.update({"IMARADESK_DATA_DIR": str(tmp_path / "var"), "HF_HUB_OFFLINE": "1"})
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "imaradesk.cli", "demo", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(demo, base, seconds=300)

        english = WebVisitor(base, "demo").replies("How do I reset my PIN?")
        assert any("*483*7#" in r["text"] and "Forgot PIN" in r["text"] for r in english), english
        swahili = WebVisitor(base, "demo").replies("nimesahau PIN yangu")
        assert any("*483*7#" in r["text"] and "Piga" in r["text"] for r in swahili), swahili
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        try:
            demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
