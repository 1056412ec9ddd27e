"""How many messages each right takes in the chat, and how long from request to completion.

    python -m bench.privacy_requests [--repeat 20]

For each right, fresh customers each exchange a few ordinary messages, then exercise the right
in the chat through the dialogue manager (storage, encryption and the privacy desk included).
Prints one JSON line: per right, the customer's messages needed and the median and max time
from the request's first message to the request being recorded as completed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from imaradesk.channels.messages import InboundMessage
from imaradesk.knowledge_index.documents import parse_file
from imaradesk.knowledge_index.embedder import HashingEmbedder
from imaradesk.services import build_services
from imaradesk.settings import Settings
from imaradesk.storage.compliance_repository import ComplianceData
from imaradesk.storage.encryption import generate_master_key_spec

DEMO_FAQ = Path(__file__).parents[1] / "src" / "imaradesk" / "demo" / "faq.csv"
SCRIPTS = {
    "access": ["send me my data"],
    "rectification": ["my name is wrong, it's Wanjiru Achieng"],
    "restriction": ["stop using my messages for your AI"],
    "lift_restriction": ["you can use my data again"],
    "erasure": ["futa data yangu", "YES"],
}


def run(repeat: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="imaradesk-bench-") as tmp:
        settings = Settings(
            environment="test",
            data_dir=Path(tmp) / "var",
            database_url=None,
            redis_url=None,
            master_keys=generate_master_key_spec("bench"),
        )
        services = build_services(settings, embedder=HashingEmbedder())
        org = services.organizations.create("bench", name="Bench")
        services.knowledge.import_documents(org.id, [parse_file(DEMO_FAQ)])
        org = services.organizations.by_slug("bench")
        results = {}
        n = 0
        for right, script in SCRIPTS.items():
            timings = []
            for _ in range(repeat):
                n += 1
                sender = f"+2547{n:08d}"

                def say(text: str, i: int, sender: str = sender) -> None:
                    inbound = InboundMessage(
                        org_slug=org.slug,
                        channel="whatsapp",
                        sender_id=sender,
                        provider_message_id=f"SM{sender}{i}",
                        received_at=services.clock.now(),
                        text=text,
                    )
                    services.dialogue.handle(org, inbound)

                say("How do I check my balance?", 0)
                if right == "lift_restriction":
                    say("stop using my messages for your AI", 1)
                started = time.perf_counter()
                for i, text in enumerate(script, start=10):
                    say(text, i)
                with services.database.read() as session:
                    done = [
                        r
                        for r in ComplianceData(session, org.id).privacy_requests()
                        if r.right == right and r.status == "completed"
                    ]
                timings.append((time.perf_counter() - started) * 1000)
                assert len(done) >= 1, f"{right} was not completed"
            results[right] = {
                "messages_needed": len(script),
                "p50_ms": round(statistics.median(timings), 1),
                "max_ms": round(max(timings), 1),
            }
        services.close()
    return {"benchmark": "privacy_requests", "repeat": repeat, "rights": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
