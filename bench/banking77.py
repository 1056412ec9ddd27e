"""Quality and speed of FAQ answering on BANKING77, through the product's own paths.

    python -m bench.banking77 --data ../shared/bench/banking77 [--shots 10] [--limit N]

Imports ``train.csv`` with the product's importer into a fresh organization (one entry per
category, its training utterances as phrasings), then sends every test question through the
dialogue manager as a new WhatsApp contact. When the bot asks to rephrase, the simulated
customer sends the same question again (it has no other words), which leads to a handoff.

Prints one JSON line. ``accuracy``/``wrong_answer_rate``: the first reply to the question
answered from the right/wrong entry; ``handoff_rate``: conversations that ended with a handoff;
``p50_ms``/``p99_ms``: per message through the dialogue manager (storage included);
``bare_p50_ms``: embedding plus index search alone for the same questions, in the same run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from imaradesk.bot.messages import InboundMessage, ReplyKind  # noqa: E402
from imaradesk.knowledge_index.documents import parse_file  # noqa: E402
from imaradesk.services import build_services  # noqa: E402
from imaradesk.settings import Settings  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def write_faq(train: Path, target: Path, shots: int | None, seed: int) -> int:
    by_category: dict[str, list[str]] = defaultdict(list)
    with train.open(newline="") as f:
        for row in csv.DictReader(f):
            by_category[row["category"]].append(row["text"])
    rng = random.Random(seed)
    with target.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "category", "question", "answer"])
        for category, texts in sorted(by_category.items()):
            chosen = rng.sample(texts, min(shots, len(texts))) if shots else texts
            for i, text in enumerate(chosen):
                answer = f"This is the answer about {category.replace('_', ' ')}." if i == 0 else ""
                writer.writerow([category, category, text, answer])
    return len(by_category)


def run(
    data: Path, *, shots: int | None, seed: int, limit: int | None, database_url: str | None
) -> dict:
    with tempfile.TemporaryDirectory(prefix="imaradesk-bench-") as tmp:
        settings = Settings(
            environment="test",
            data_dir=Path(tmp) / "var",
            database_url=database_url,
            redis_url=None,
        )
        services = build_services(settings)
        services.embedder.embed(["warm up"])
        org = services.organizations.create(f"banking77-{os.getpid()}", name="BANKING77 bench")
        faq = Path(tmp) / "banking77_faq.csv"
        write_faq(data / "train.csv", faq, shots, seed)
        started = time.perf_counter()
        report = services.knowledge.import_documents(org.id, [parse_file(faq)])
        import_seconds = time.perf_counter() - started
        org = services.organizations.by_slug(org.slug)

        with (data / "test.csv").open(newline="") as f:
            questions = [(r["text"], r["category"]) for r in csv.DictReader(f)]
        if limit:
            questions = random.Random(seed).sample(questions, min(limit, len(questions)))

        snapshot = services.knowledge.snapshot(org.id, revision=org.kb_revision)
        bare: list[float] = []
        for text, _ in questions:
            t0 = time.perf_counter()
            vector = services.embedder.embed([text])
            snapshot.index.search(vector, settings.search_candidates)
            bare.append((time.perf_counter() - t0) * 1000)

        right = wrong = handoffs = clarified = 0
        latencies: list[float] = []
        wall = time.perf_counter()
        for i, (text, category) in enumerate(questions):
            sender = f"+2547{i:08d}"

            def send(message_text: str, n: int, i: int = i, sender: str = sender) -> list:
                inbound = InboundMessage(
                    org_slug=org.slug,
                    channel="whatsapp",
                    sender_id=sender,
                    provider_message_id=f"SMbench{i:06d}x{n}",
                    received_at=services.clock.now(),
                    text=message_text,
                )
                t0 = time.perf_counter()
                turn = services.dialogue.handle(org, inbound)
                latencies.append((time.perf_counter() - t0) * 1000)
                return [r for r in turn.replies if r.kind is not ReplyKind.PRIVACY_NOTICE]

            first = send(text, 1)
            kinds = [r.kind for r in first]
            if ReplyKind.ANSWER in kinds:
                answer = first[kinds.index(ReplyKind.ANSWER)]
                if answer.sources[0].external_id == category:
                    right += 1
                else:
                    wrong += 1
            elif ReplyKind.CLARIFY in kinds:
                clarified += 1
                second = send(text, 2)
                if any(r.handoff for r in second):
                    handoffs += 1
            elif any(r.handoff for r in first):
                handoffs += 1
        wall = time.perf_counter() - wall
        services.close()

    n = len(questions)
    p50 = statistics.median(latencies)
    bare_p50 = statistics.median(bare)
    training = report.training
    return {
        "benchmark": "banking77",
        "shots": shots or "all",
        "questions": n,
        "entries": report.entries,
        "phrasings": report.phrasings,
        "accuracy": round(right / n, 4),
        "wrong_answer_rate": round(wrong / n, 4),
        "handoff_rate": round(handoffs / n, 4),
        "clarify_rate": round(clarified / n, 4),
        "p50_ms": round(p50, 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "msgs_per_s": round(len(latencies) / wall, 1),
        "bare_p50_ms": round(bare_p50, 2),
        "overhead_ratio_p50": round(p50 / bare_p50, 2),
        "import_s": round(import_seconds, 1),
        "answer_model": training.method,
        "held_out_answer_rate": training.held_out_answer_rate,
        "held_out_wrong_rate": training.held_out_wrong_rate,
        "database": "postgresql"
        if database_url and database_url.startswith("postgres")
        else "sqlite",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="folder with train.csv and test.csv"
    )
    parser.add_argument(
        "--shots", type=int, default=None, help="phrasings per entry (default: all)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--limit", type=int, default=None, help="test questions to send (default: all)"
    )
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args(argv)
    if not (args.data / "train.csv").exists():
        parser.error(f"{args.data}/train.csv not found")
    result = run(
        args.data,
        shots=args.shots,
        seed=args.seed,
        limit=args.limit,
        database_url=args.database_url,
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
