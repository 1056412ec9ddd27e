"""The production topology as one command, on loopback: `imaradesk up` with two gunicorn web
workers, a background worker and the sweeper, on a private PostgreSQL schema and its own Redis
database, driven from outside like a provider and an operator would.

It proves: the processes start together and answer signed webhooks from either web worker
with the real model; a knowledge import read by the background worker is answered by every web
worker at once (each sees the organization's revision move, none needs a restart, none builds
the index again); the
metrics add up across processes; and SIGTERM stops every process.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
import redis
import requests

from tests.helpers import post_signed, twilio_form
from tests.runtime.served import free_port, wait_until_serving

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
TOKEN = "topology-twilio-token"
REDIS_DB = 13  # its own: the topology's workers take whatever jobs they find there


@pytest.fixture
def environment(postgres_schema, tmp_path: Path) -> dict[str, str]:
    url, schema = postgres_schema
    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    return {
        **os.environ,
        "DATABASE_URL": f"{url}?options=-csearch_path%3D{schema}",
        "REDIS_URL": redis_url,
        "IMARADESK_JOB_QUEUE": "redis",
        "IMARADESK_DATA_DIR": str(tmp_path / "data"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def cli(environment: dict[str, str], *args: str, timeout: float = 180) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "imaradesk.cli", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def answers(url: str, question: str, sender: str) -> list[str]:
    response = post_signed(url, twilio_form(body=question, sender=sender), token=TOKEN)
    assert response.status_code == 200, response.text
    return [m.text or "" for m in ElementTree.fromstring(response.text).findall("Message")]


def test_the_topology_starts_answers_shares_knowledge_and_stops(
    environment: dict[str, str], tmp_path: Path
) -> None:
    cli(environment, "org", "create", "acme", "--name", "Acme", "--twilio-auth-token", TOKEN)
    port = free_port()
    topology = subprocess.Popen(
        [sys.executable, "-m", "imaradesk.cli", "up", "--port", str(port),
         "--web-workers", "2", "--job-workers", "1", "--threads", "4"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(topology, base, seconds=240)

        faq = tmp_path / "faq.csv"
        faq.write_text(
            "question,answer\n"
            "How do I check my balance?,Dial *483*1# to see your balance.\n"
            "How do I reset my PIN?,Dial *483*2# and follow the steps.\n"
        )
        imported = cli(environment, "kb", "import", "--org", "acme", "--timeout", "120", str(faq))
        assert "2 new" in imported, imported

        webhook = f"{base}/channels/twilio/acme/messages"
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            replies = list(
                pool.map(
                    lambda n: answers(
                        webhook, "How do I check my balance?", f"whatsapp:+2547100{n:05d}"
                    ),
                    range(16),
                )
            )
        assert all(r[-1] == "Dial *483*1# to see your balance." for r in replies), replies

        faq.write_text(
            "question,answer\n"
            "How do I check my balance?,Dial *483*9# to see your balance now.\n"
            "How do I reset my PIN?,Dial *483*2# and follow the steps.\n"
        )
        cli(environment, "kb", "import", "--org", "acme", "--timeout", "120", str(faq))
        changed = time.monotonic()
        fresh = [
            answers(webhook, "How do I check my balance?", f"whatsapp:+2547200{n:05d}")[-1]
            for n in range(8)
        ]
        assert set(fresh) == {"Dial *483*9# to see your balance now."}, (
            "every web worker answers from the new knowledge at once"
        )
        assert time.monotonic() - changed < 30

        scraped = requests.get(f"{base}/metrics", timeout=10).text
        counted = sum(
            float(m.group(1))
            for m in re.finditer(
                r'^imaradesk_http_requests_total\{endpoint="twilio.inbound_message",status="200"\} (\S+)$',
                scraped,
                re.MULTILINE,
            )
        )
        assert counted == 24, "the workers' counts add up at scrape time"
        builds = {
            m.group(1): float(m.group(2))
            for m in re.finditer(
                r'^imaradesk_knowledge_snapshots_total\{encoder="(\w+)",how="built"\} (\S+)$',
                scraped,
                re.MULTILINE,
            )
        }
        assert builds and set(builds.values()) == {2.0}, (
            f"each index was built once per import, by the worker that read it: {builds}"
        )
    finally:
        os.killpg(topology.pid, signal.SIGTERM)
        try:
            topology.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(topology.pid, signal.SIGKILL)
            raise
        finally:
            output = topology.stdout.read() if topology.stdout else ""
            print(output[-6000:])  # shown when the test fails: what the processes said
    assert "web" in output and "jobs.1" in output and "sweeps" in output
    with pytest.raises(requests.RequestException):
        requests.get(f"{base}/healthz", timeout=2)
