"""Answering a small, real-looking FAQ: the demo wallet's 22 entries, asked in customers' words.

    python -m bench.demo_faq

``bench/demo_paraphrases.csv`` holds questions written the way customers type them, each with
the entry that answers it, plus off-topic questions that no entry answers (empty expected).
Prints one JSON line: right / wrong answers among the on-topic questions, how many off-topic
ones were answered anyway, and latency per message.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from imaradesk.channels.messages import InboundMessage, ReplyKind
from imaradesk.knowledge_index.documents import parse_file
from imaradesk.services import build_services
from imaradesk.settings import Settings

PARAPHRASES = Path(__file__).with_name("demo_paraphrases.csv")


def run() -> dict:
    with tempfile.TemporaryDirectory(prefix="imaradesk-bench-") as tmp:
        services = build_services(
            Settings(
                environment="test", data_dir=Path(tmp) / "var", database_url=None, redis_url=None
            )
        )
        org = services.organizations.create("demo-bench", name="Imara Pesa")
        with resources.as_file(resources.files("imaradesk.demo").joinpath("faq.csv")) as path:
            report = services.knowledge.import_documents(org.id, [parse_file(Path(path))])
        org = services.organizations.by_slug("demo-bench")
        with PARAPHRASES.open(newline="") as f:
            rows = list(csv.DictReader(f))
        services.embedder.embed(["warm up"])
        right = wrong = off_topic_answered = on_topic = off_topic = 0
        latencies = []
        mistakes = []
        for i, row in enumerate(rows):
            inbound = InboundMessage(
                org_slug=org.slug,
                channel="whatsapp",
                sender_id=f"+2547{i:08d}",
                provider_message_id=f"SMdemo{i}",
                received_at=services.clock.now(),
                text=row["text"],
            )
            t0 = time.perf_counter()
            turn = services.dialogue.handle(org, inbound)
            latencies.append((time.perf_counter() - t0) * 1000)
            answers = [r for r in turn.replies if r.kind is ReplyKind.ANSWER]
            answered = answers[0].sources[0].external_id if answers else None
            if row["expected"]:
                on_topic += 1
                if answered == row["expected"]:
                    right += 1
                elif answered is not None:
                    wrong += 1
                    mistakes.append(
                        {"text": row["text"], "expected": row["expected"], "answered": answered}
                    )
            else:
                off_topic += 1
                if answered is not None:
                    off_topic_answered += 1
                    mistakes.append({"text": row["text"], "expected": None, "answered": answered})
        services.close()
    return {
        "benchmark": "demo_faq",
        "entries": report.entries,
        "answer_model": report.training.method,
        "on_topic": on_topic,
        "accuracy": round(right / on_topic, 4),
        "wrong_answer_rate": round(wrong / on_topic, 4),
        "off_topic": off_topic,
        "off_topic_answered": off_topic_answered,
        "p50_ms": round(statistics.median(latencies), 2),
        "mistakes": mistakes,
    }


if __name__ == "__main__":
    print(json.dumps(run()))
    sys.exit(0)
