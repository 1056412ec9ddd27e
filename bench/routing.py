"""How well handed-off conversations are classified, and how fast they reach the inbox.

    python -m bench.routing

1. Two labelled sets (text, topic, language, urgency), both written by someone who never saw
   the rules, are classified with the demo organization's routing rules and knowledge base,
   the real embedding model, lingua and VADER: ``routing_cases.csv`` was measured once and
   then used to improve the rules (a development set); ``routing_cases_test.csv`` came after
   and was never tuned on (the figure to quote).
2. Customers ask for a person through the dialogue manager; the time from the message to the
   handoff being listed by the inbox query, median and p95 (the console polls every 3 s on
   top of this).
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from imaradesk.channels.messages import InboundMessage
from imaradesk.demo.seed import DEMO_SLUG, seed_demo
from imaradesk.services import build_services
from imaradesk.settings import Settings
from imaradesk.storage.encryption import generate_master_key_spec

SETS = ("routing_cases.csv", "routing_cases_test.csv")


def run(samples: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="imaradesk-bench-") as tmp:
        settings = Settings(
            environment="test",
            data_dir=Path(tmp) / "var",
            database_url=None,
            redis_url=None,
            master_keys=generate_master_key_spec("bench"),
        )
        services = build_services(settings)
        seed_demo(services)
        org = services.organizations.by_slug(DEMO_SLUG)
        router = services.router
        router.language.warm_up()
        results = {name: _evaluate(router, org, Path(__file__).with_name(name)) for name in SETS}

        latencies = []
        for i in range(samples):
            inbound = InboundMessage(
                org_slug=org.slug,
                channel="whatsapp",
                sender_id=f"+2547{i:08d}",
                provider_message_id=f"SMroute{i}",
                received_at=services.clock.now(),
                text="My money has not arrived, I want to talk to an agent",
            )
            started = time.perf_counter()
            services.dialogue.handle(org, inbound)
            listed = services.desk.inbox(org)
            latencies.append((time.perf_counter() - started) * 1000)
            assert any(row.handoff.contact_id for row in listed)
        services.close()
    latencies.sort()
    return {
        "benchmark": "routing",
        "sets": results,
        "message_to_inbox_p50_ms": round(statistics.median(latencies), 1),
        "message_to_inbox_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "inbox_poll_interval_s": 3,
    }


def _evaluate(router, org, path: Path) -> dict:
    with path.open(newline="") as f:
        cases = list(csv.DictReader(f))
    right: Counter[str] = Counter()
    misses = []
    for case in cases:
        c = router.classify(org, case["text"], [], use_model=True)
        got = {"topic": (c.topic or "").casefold(), "language": c.language, "urgency": c.urgency}
        want = {
            "topic": case["topic"].casefold(),
            "language": case["language"],
            "urgency": case["urgency"],
        }
        for field in got:
            right[field] += got[field] == want[field]
        if got != want:
            misses.append({"text": case["text"], "want": want, "got": got})
    n = len(cases)
    return {
        "cases": n,
        "topic_accuracy": round(right["topic"] / n, 3),
        "language_accuracy": round(right["language"] / n, 3),
        "urgency_accuracy": round(right["urgency"] / n, 3),
        "misses": misses,
    }


if __name__ == "__main__":
    print(json.dumps(run(samples=int(sys.argv[1]) if len(sys.argv) > 1 else 50)))
