"""`imaradesk worker --jobs` outlives a Redis restart: RQ's own worker quits when it loses its
connection, and under `imaradesk up` one process exiting stops them all. On a private Redis
(tests.runtime.private_services), restarted while the worker waits for jobs; the worker must
still be running afterwards and take a job queued after the restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from rq import Queue

from imaradesk.runtime.jobs import RQ_QUEUE_NAME
from tests.runtime.private_services import PrivateRedis

pytestmark = pytest.mark.slow


def test_the_background_worker_waits_for_redis_instead_of_exiting(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "REDIS_URL": private_redis.url,
        "IMARADESK_JOB_QUEUE": "redis",
        "IMARADESK_DATA_DIR": str(tmp_path / "data"),
        "HF_HUB_OFFLINE": "1",
    }
    subprocess.run(
        [sys.executable, "-m", "imaradesk.cli", "org", "list"], env=env, check=True, timeout=120
    )  # migrates the database
    worker = subprocess.Popen(
        [sys.executable, "-m", "imaradesk.cli", "worker", "--jobs"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    client = redis.Redis.from_url(private_redis.url)
    try:
        deadline = time.monotonic() + 240
        while not client.keys("rq:worker:*"):
            assert worker.poll() is None, "the worker exited before it started"
            assert time.monotonic() < deadline, "the worker never registered"
            time.sleep(0.5)
        private_redis.restart(down_for=3.0)
        time.sleep(3.0)
        assert worker.poll() is None, "the worker is still running after Redis came back"

        # An unknown task fails inside the worker: proof that it took the job.
        queue = Queue(RQ_QUEUE_NAME, connection=client)
        job = queue.enqueue("imaradesk.services.run_task", "no-such-task", {}, result_ttl=60)
        deadline = time.monotonic() + 60
        while job.get_status(refresh=True) not in ("failed", "finished"):
            assert time.monotonic() < deadline, "no worker took the job after the restart"
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        client.close()
