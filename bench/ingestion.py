"""Speed of document ingestion: a 200-page PDF read into passages, embedded and indexed.

    python -m bench.ingestion [--pages 200] [--repeats 3] [--seed 7] [--database-url URL]

Builds a handbook PDF with fpdf2 (chapters and sections in its outline, a running header, a
"Page N of M" footer, about 300 words of prose per page, the same bytes for the same seed), then
measures, as medians over ``--repeats`` runs:

- ``parse``: ``parse_bytes`` alone (pypdf's text extraction, then splitting into passages), with
  the extraction's share reported apart (``extract_s``);
- ``ingest``: ``parse_bytes`` plus ``KnowledgeBase.import_documents`` with the real embedding
  model (all-MiniLM-L6-v2) on a fresh database each run (an import into an organization that
  already has the passages re-uses their vectors, which would measure nothing);
- ``embed_only_s``: the same model embedding the same phrasings and nothing else, in the same
  run: the baseline that ingestion cannot beat; ``ingest_vs_embed`` is their ratio;
- ``ingest_fast_embedder``: the same ingestion with the hashing embedder, so that what is left
  is parsing, storage, the vector index and the answer model.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from fpdf import FPDF

from imaradesk.knowledge_index.documents import parse_bytes
from imaradesk.knowledge_index.embedder import (
    Embedder,
    HashingEmbedder,
    SentenceTransformerEmbedder,
)
from imaradesk.knowledge_index.passages import read_pdf, split_passages
from imaradesk.services import build_services
from imaradesk.settings import Settings

WORDS_PER_PAGE = 300

CHAPTERS = [
    ("Opening an account", ["Who can register", "Documents we ask for", "Activating your PIN"]),
    ("Sending money", ["To another wallet", "To a bank account", "Across the border"]),
    ("Paying bills and merchants", ["Pay Bill numbers", "Buy Goods tills", "Standing orders"]),
    ("Fees and limits", ["Tariff bands", "Daily and monthly limits", "Agent commissions"]),
    ("Agents", ["Depositing cash", "Withdrawing cash", "Finding an agent"]),
    ("Savings and loans", ["Lock savings", "Short-term loans", "Repayments and interest"]),
    ("Security", ["Protecting your PIN", "Fraud and scams", "A lost or stolen phone"]),
    ("Disputes and reversals", ["Wrong recipient", "Failed transactions", "Escalations"]),
    ("Privacy", ["What we keep", "Your rights", "Retention and erasure"]),
    ("Business accounts", ["Bulk payments", "Statements", "Integrations"]),
]

SUBJECTS = [
    "A customer",
    "The account holder",
    "An agent",
    "Our support team",
    "The merchant",
    "A registered member",
    "The recipient",
    "Every new user",
    "A business owner",
    "The school",
]
ACTIONS = [
    "sends money to another number",
    "withdraws cash at an agent",
    "pays a utility bill",
    "reverses a transaction",
    "changes the PIN",
    "checks the balance",
    "buys airtime",
    "repays a loan",
    "requests a statement",
    "reports a lost phone",
    "deposits cash",
    "registers a new SIM card",
    "pays school fees",
    "moves money to a savings account",
]
CONDITIONS = [
    "within 24 hours",
    "before the end of the business day",
    "on weekends and public holidays",
    "when the network is slow",
    "after three wrong PIN attempts",
    "during the monthly review",
    "as soon as the confirmation message arrives",
    "if the amount is above KES 70,000",
    "once the identity check is complete",
    "at any Imara Pesa branch",
]
OUTCOMES = [
    "the wallet shows the new balance at once",
    "a confirmation code is sent by SMS",
    "the fee is taken from the sender's balance",
    "the request is handed to a person in the disputes team",
    "the transaction is held until the recipient confirms it",
    "the limit resets at midnight East Africa Time",
    "the customer receives a receipt with the reference number",
    "the agent's float is updated within minutes",
]
TEMPLATES = [
    "{subject} who {action} {condition} will find that {outcome}.",
    "When {subject_l} {action}, {outcome}.",
    "{subject} {action} {condition}; in most cases {outcome}.",
    "Please note that {outcome} whenever {subject_l} {action}.",
    "If {subject_l} {action} {condition}, {outcome}, and no further step is needed.",
    "For example, {subject_l} {action} {condition}, and {outcome}.",
    "Fees of KES {amount}.{cents} apply when {subject_l} {action}, e.g. {condition}.",
    "Dr. Wanjiru Kamau, head of customer care, explains that {outcome} {condition}.",
]


def prose_sentence(rng: random.Random) -> str:
    subject = rng.choice(SUBJECTS)
    return rng.choice(TEMPLATES).format(
        subject=subject,
        subject_l=subject[0].lower() + subject[1:],
        action=rng.choice(ACTIONS),
        condition=rng.choice(CONDITIONS),
        outcome=rng.choice(OUTCOMES),
        amount=rng.randint(1, 300),
        cents=rng.choice(["00", "50"]),
    )


def paragraph(rng: random.Random, words: int) -> str:
    sentences: list[str] = []
    count = 0
    while count < words:
        sentence = prose_sentence(rng)
        sentences.append(sentence)
        count += len(sentence.split())
    return " ".join(sentences)


class Handbook(FPDF):
    def header(self) -> None:
        self.set_font("Helvetica", size=8)
        self.cell(0, 6, "Imara Pesa Customer Handbook", new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="C")


def build_pdf(pages: int, seed: int) -> bytes:
    """A handbook of ``pages`` pages: a chapter every 20 pages, a section every few pages."""
    rng = random.Random(seed)
    pdf = Handbook()
    pdf.set_auto_page_break(False)
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=UTC))  # the same bytes for the same seed
    per_chapter = max(1, pages // len(CHAPTERS))
    for number in range(pages):
        pdf.add_page()
        chapter, sections = CHAPTERS[(number // per_chapter) % len(CHAPTERS)]
        offset = number % per_chapter
        if offset == 0:
            pdf.start_section(chapter, level=0)
            pdf.set_font("Helvetica", "B", 15)
            pdf.cell(0, 10, chapter, new_x="LMARGIN", new_y="NEXT")
        if offset % max(1, per_chapter // len(sections)) == 0:
            section = sections[(offset * len(sections) // per_chapter) % len(sections)]
            pdf.start_section(section, level=1)
            pdf.set_font("Helvetica", "B", 12)
            pdf.cell(0, 8, section, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)
        written = 0
        while written < WORDS_PER_PAGE:
            text = paragraph(rng, rng.randint(50, 110))
            pdf.multi_cell(0, 4.6, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
            written += len(text.split())
    return bytes(pdf.output())


def measure_parse(data: bytes, repeats: int) -> dict:
    totals, extracts, splits = [], [], []
    for _ in range(repeats):
        started = time.perf_counter()
        document = parse_bytes("handbook.pdf", data)
        totals.append(time.perf_counter() - started)
        # The two stages apart, on the same bytes.
        started = time.perf_counter()
        pdf = read_pdf(data, "handbook.pdf")
        extracted = time.perf_counter()
        split_passages(pdf.sections, "handbook.pdf")
        extracts.append(extracted - started)
        splits.append(time.perf_counter() - extracted)
    seconds = statistics.median(totals)
    return {
        "seconds": round(seconds, 3),
        "extract_s": round(statistics.median(extracts), 3),
        "split_s": round(statistics.median(splits), 3),
        "passages": len(document.drafts),
        "pages": document.pages,
        "passages_per_s": round(len(document.drafts) / seconds, 1),
        "pages_per_s": round((document.pages or 0) / seconds, 1),
    }


def measure_ingest(data: bytes, repeats: int, embedder: Embedder, database_url: str | None) -> dict:
    totals, embed_only = [], []
    for run in range(repeats):
        with tempfile.TemporaryDirectory(prefix="imaradesk-bench-") as tmp:
            settings = Settings(
                environment="test",
                data_dir=Path(tmp) / "var",
                database_url=database_url,
                redis_url=None,
            )
            services = build_services(settings, embedder=embedder)
            org = services.organizations.create(f"ingest-{os.getpid()}-{run}", name="Ingestion")
            started = time.perf_counter()
            document = parse_bytes("handbook.pdf", data)
            report = services.knowledge.import_documents(org.id, [document])
            totals.append(time.perf_counter() - started)
            services.close()
        phrasings = [q for draft in document.drafts for q in draft.questions]
        started = time.perf_counter()
        embedder.embed(phrasings)
        embed_only.append(time.perf_counter() - started)
    seconds, baseline = statistics.median(totals), statistics.median(embed_only)
    return {
        "seconds": round(seconds, 2),
        "passages": report.entries,
        "passages_per_s": round(report.entries / seconds, 1),
        "embed_only_s": round(baseline, 2),
        "ingest_vs_embed": round(seconds / baseline, 2),
        "database": services.database.dialect,
        "encrypt_at_rest": settings.encrypt_at_rest,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default=None, help="SQLite in a temp dir by default")
    args = parser.parse_args(argv)
    data = build_pdf(args.pages, args.seed)
    embedder = SentenceTransformerEmbedder()
    embedder.embed(["warm up"])
    result = {
        "benchmark": "ingestion",
        "pdf_mib": round(len(data) / 2**20, 2),
        "repeats": args.repeats,
        "embedder": embedder.name,
        "threads": _torch_threads(),
        "parse": measure_parse(data, args.repeats),
        "ingest": measure_ingest(data, args.repeats, embedder, args.database_url),
        # Storage, indexing and the answer model without the model's cost: what is ours.
        "ingest_fast_embedder": measure_ingest(
            data, args.repeats, HashingEmbedder(), args.database_url
        ),
    }
    print(json.dumps(result))
    return 0


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    sys.exit(main())
