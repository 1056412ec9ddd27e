"""Meta's webhook under a burst and under redelivery, on a real loopback server.

    python -m bench.meta_webhook [--burst 200] [--messages 500] [--graph-delay 0.5]

The demo organization (real encoders, SQLite, the in-process job queue) is connected to a
local server that speaks the Graph API and takes ``--graph-delay`` seconds per send, so every
turn is slow to finish. Two figures:

1. **Ack latency**: ``--burst`` signed notifications, 16 at a time, each a new customer; the
   time until the webhook answers 200, median and p99, beside ``GET /healthz`` measured the same
   way in the same run (the ratio is the figure to compare across machines).
2. **Redelivery**: ``--messages`` customers write once; Meta delivers every notification three
   times, shuffled, 16 at a time (as its retries do; the Graph API answers at once here). After
   the queue drains: messages lost (never answered) and answered twice (more than one answer
   to one message). Both must be 0.

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import os
import random
import statistics
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import requests
from werkzeug.serving import make_server

from imaradesk.app import create_app
from imaradesk.demo.seed import DEMO_SLUG, seed_demo
from imaradesk.services import build_services
from imaradesk.settings import Settings

APP_SECRET = "bench-app-secret"
ACCESS_TOKEN = "bench-access-token"
PHONE_NUMBER_ID = "106540352242922"
CONCURRENCY = 16
QUESTIONS = (
    "How do I check my balance?",
    "Nawezaje kuangalia salio langu?",
    "I forgot my PIN",
    "nimetuma pesa kwa number mbaya",
)


class SlowGraph:
    """Counts what each recipient was sent; each send takes ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.sent: Counter[str] = Counter()
        lock = threading.Lock()
        graph = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(graph.delay)
                if body.get("status") != "read":
                    with lock:
                        graph.sent[body.get("recipient") or body.get("to")] += 1
                data = json.dumps({"messages": [{"id": f"wamid.BENCH{time.time_ns()}"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        self._server.shutdown()


def notification(n: int, text: str) -> bytes:
    bsuid = f"KE.{900000000000 + n}"
    message = {
        "from_user_id": bsuid,
        "id": f"wamid.BENCHIN{n:012d}AAAA",
        "timestamp": "1764662400",
        "type": "text",
        "text": {"body": text},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": f"Customer {n}"}, "user_id": bsuid}],
        "messages": [message],
    }
    entry = {"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def post(url: str, body: bytes) -> float:
    digest = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    started = time.perf_counter()
    response = requests.post(
        url,
        data=body,
        headers={"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"},
        timeout=30,
    )
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.text
    return elapsed


def timed_get(url: str) -> float:
    started = time.perf_counter()
    requests.get(url, timeout=30).raise_for_status()
    return (time.perf_counter() - started) * 1000


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 2),
    }


def run(burst: int, messages: int, graph_delay: float) -> dict:
    graph = SlowGraph(graph_delay)
    with tempfile.TemporaryDirectory(prefix="imaradesk-bench-") as tmp:
        settings = Settings(
            environment="test",
            data_dir=Path(tmp) / "var",
            database_url=None,
            redis_url=None,
            meta_graph_base_url=graph.url,
        )
        services = build_services(settings)
        org = seed_demo(services)
        assert org.id is not None
        services.organizations.update(
            org.id,
            meta_phone_number_id=PHONE_NUMBER_ID,
            meta_app_secret=APP_SECRET,
            meta_access_token=ACCESS_TOKEN,
            meta_verify_token="bench",
        )
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        server = make_server("127.0.0.1", 0, create_app(services=services), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        webhook = f"{base}/channels/meta/{DEMO_SLUG}/webhook"
        # Warm both encoders before timing anything.
        services.knowledge.search(org.id, QUESTIONS[0], revision=org.kb_revision)
        services.knowledge.search(org.id, QUESTIONS[1], revision=org.kb_revision)

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            health = list(pool.map(lambda _: timed_get(f"{base}/healthz"), range(burst)))
            bodies = [notification(n, QUESTIONS[n % len(QUESTIONS)]) for n in range(burst)]
            acks = list(pool.map(lambda b: post(webhook, b), bodies))
        services.jobs.wait(timeout=1800)

        first = burst
        graph.sent.clear()
        graph.delay = 0.0  # what is measured now is what is stored and sent, not the wait
        deliveries = [
            notification(first + n, QUESTIONS[n % len(QUESTIONS)])
            for n in range(messages)
            for _ in range(3)
        ]
        random.Random(7).shuffle(deliveries)
        started = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            redelivered = list(pool.map(lambda b: post(webhook, b), deliveries))
        services.jobs.wait(timeout=1800)
        drained = time.perf_counter() - started
        # Each customer writes once: the privacy notice and one answer (or clarification).
        sent = [graph.sent.get(f"KE.{900000000000 + first + n}", 0) for n in range(messages)]
        server.shutdown()
        services.close()
    graph.stop()
    ack = summary(acks)
    baseline = summary(health)
    return {
        "benchmark": "meta_webhook",
        "graph_delay_s": graph_delay,
        "burst": {
            "notifications": burst,
            "ack": ack,
            "healthz_baseline": baseline,
            "ratio_p50": round(ack["p50_ms"] / baseline["p50_ms"], 2),
        },
        "redelivery": {
            "messages": messages,
            "deliveries": len(deliveries),
            "ack": summary(redelivered),
            "lost": sum(1 for s in sent if s == 0),
            "answered_twice": sum(1 for s in sent if s > 2),
            "replies_per_customer": dict(Counter(sent)),
            "drained_seconds": round(drained, 1),
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--graph-delay", type=float, default=0.5)
    args = parser.parse_args()
    print(json.dumps(run(args.burst, args.messages, args.graph_delay), indent=1))
