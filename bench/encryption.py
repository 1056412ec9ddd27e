"""Cost of encryption at rest, and backup / restore time.

    python -m bench.encryption [--messages 600] [--backup-messages 100000] [--database-url URL]

1. The same customer turns through the dialogue manager, storage included, with encryption on
   and off, in alternating blocks of one run; medians and their ratio. Run with the fast hashing
   embedder (so storage and crypto are not hidden behind the model) and with the real model.
2. A database of ``--backup-messages`` sealed messages: ``imaradesk backup`` and ``restore``
   times and the backup's size.
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
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from imaradesk.channels.messages import InboundMessage
from imaradesk.knowledge_index.documents import parse_file
from imaradesk.knowledge_index.embedder import HashingEmbedder, SentenceTransformerEmbedder
from imaradesk.services import Services, build_services
from imaradesk.settings import Settings
from imaradesk.storage.backup import BackupService
from imaradesk.storage.encryption import generate_master_key_spec
from imaradesk.storage.models import LawfulBasis
from imaradesk.storage.turn_repository import TurnData

DEMO_FAQ = Path(__file__).parents[1] / "src" / "imaradesk" / "demo" / "faq.csv"
QUESTIONS = [
    "How do I reset my PIN?",
    "what does it cost to send 500 shillings",
    "my name is Wanjiru, I sent money to the wrong number 0712345678",
    "hello",
    "how do I check my balance",
]


def _services(
    tmp: Path, name: str, *, encrypt: bool, embedder, database_url: str | None
) -> Services:
    settings = Settings(
        environment="test",
        data_dir=tmp / name,
        database_url=database_url,
        redis_url=None,
        master_keys=generate_master_key_spec("bench"),
        encrypt_at_rest=encrypt,
    )
    services = build_services(settings, embedder=embedder)
    org = services.organizations.create(f"bench-{os.getpid()}", name="Bench")
    services.knowledge.import_documents(org.id, [parse_file(DEMO_FAQ)])
    return services


def turn_latencies(tmp: Path, *, embedder, messages: int, database_url: str | None) -> dict:
    runs = {
        encrypt: _services(
            tmp,
            f"{'enc' if encrypt else 'plain'}-{embedder.name}",
            encrypt=encrypt,
            embedder=embedder,
            database_url=database_url,
        )
        for encrypt in (True, False)
    }
    embedder.embed(["warm up"])
    timings: dict[bool, list[float]] = {True: [], False: []}
    block = 25
    sent = 0
    while sent < messages:
        for encrypt, services in runs.items():
            org = services.organizations.all()[-1]
            for i in range(sent, sent + block):
                inbound = InboundMessage(
                    org_slug=org.slug,
                    channel="whatsapp",
                    sender_id=f"+2547{i // 5:08d}",
                    provider_message_id=f"SM{encrypt}{i}",
                    received_at=services.clock.now(),
                    text=QUESTIONS[i % len(QUESTIONS)],
                    profile_name="Wanjiru Kamau",
                )
                t0 = time.perf_counter()
                services.dialogue.handle(org, inbound)
                timings[encrypt].append((time.perf_counter() - t0) * 1000)
        sent += block
    for services in runs.values():
        services.close()
    on, off = statistics.median(timings[True]), statistics.median(timings[False])
    return {
        "embedder": embedder.name,
        "messages": messages,
        "p50_ms_encrypted": round(on, 3),
        "p50_ms_plain": round(off, 3),
        "ratio": round(on / off, 3),
    }


def backup_restore(tmp: Path, *, messages: int, database_url: str | None) -> dict:
    services = _services(
        tmp, "backup", encrypt=True, embedder=HashingEmbedder(), database_url=database_url
    )
    org = services.organizations.all()[-1]
    now = services.clock.now()
    started = time.perf_counter()
    per_contact = 10
    batch = 2000
    written = 0
    while written < messages:
        with services.database.write() as session:
            data = TurnData(session, org.id)
            for _ in range(batch // per_contact):
                n = written // per_contact
                contact = data.add_contact(
                    channel="whatsapp",
                    address=f"+2547{n:08d}",
                    display_name=f"Customer {n}",
                    now=now,
                    retain_until=now,
                )
                conversation = data.add_conversation(
                    contact_id=contact.id, channel="whatsapp", now=now, retain_until=now
                )
                inbound = None
                for k in range(per_contact):
                    body = f"message {written}: how do I reset my PIN? my number is +2547{n:08d}"
                    if inbound is None or k % 2 == 0:
                        inbound = data.add_inbound(
                            conversation_id=conversation.id,
                            contact_id=contact.id,
                            channel="whatsapp",
                            provider_message_id=f"SMb{written}",
                            kind="text",
                            body=body,
                            media=[],
                            button_payload=None,
                            ai_processed=False,
                            consent_record_id=None,
                            lawful_basis=LawfulBasis.CONSENT,
                            created_at=now,
                            retain_until=now,
                            legal_hold=False,
                        )
                    else:
                        data.add_bot_reply(
                            inbound=inbound,
                            position=0,
                            kind="answer",
                            body=body,
                            outcome="answered",
                            handoff_reason=None,
                            sources=[],
                            handoff=False,
                            lawful_basis=LawfulBasis.CONSENT,
                            created_at=now,
                        )
                    written += 1
    populate = time.perf_counter() - started
    backups = BackupService(services.database, directory=tmp / "backups", clock=services.clock)
    report = backups.create()
    restored = backups.restore(report.path)
    with services.database.read() as session:
        count = TurnData(session, org.id).count_messages()
    services.close()
    return {
        "messages": count,
        "populate_s": round(populate, 1),
        "backup_s": round(report.seconds, 2),
        "restore_s": round(restored.seconds, 2),
        "backup_mib": round(report.size / 2**20, 1),
        "database": services.database.dialect,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--backup-messages", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--skip-model", action="store_true", help="only the hashing embedder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="imaradesk-bench-") as tmp:
        root = Path(tmp)
        result: dict = {"benchmark": "encryption"}
        result["turn_fast_embedder"] = turn_latencies(
            root, embedder=HashingEmbedder(), messages=args.messages, database_url=args.database_url
        )
        if not args.skip_model:
            result["turn_real_model"] = turn_latencies(
                root,
                embedder=SentenceTransformerEmbedder(),
                messages=args.messages,
                database_url=args.database_url,
            )
        if args.backup_messages:
            result["backup"] = backup_restore(
                root, messages=args.backup_messages, database_url=args.database_url
            )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
