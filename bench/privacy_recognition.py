"""How well privacy requests are recognised, and how often ordinary messages trigger one.

    python -m bench.privacy_recognition

Three labelled sets (text, expected right or empty, language), one JSON line each: accuracy,
per-right recall, false triggers among ordinary messages, misses.
- ``privacy_phrasings.csv``: written with the rules (a regression set, not a measurement).
- ``privacy_phrasings_heldout.csv``: written independently, measured once (0.73), then used
  to generalise the rules; now a development set.
- ``privacy_phrasings_test.csv``: written independently afterwards and never tuned on: the
  figure to quote.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

from imaradesk.policies.privacy import recognise

PHRASINGS = Path(__file__).with_name("privacy_phrasings.csv")
SETS = ("privacy_phrasings.csv", "privacy_phrasings_heldout.csv", "privacy_phrasings_test.csv")


def evaluate(path: Path = PHRASINGS) -> dict[str, object]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    right = Counter[str]()
    total = Counter[str]()
    false_triggers: list[str] = []
    misses: list[dict[str, str]] = []
    correct = 0
    for row in rows:
        intent = recognise(row["text"])
        got = intent.right.value if intent else ""
        expected = row["expected"]
        total[expected or "none"] += 1
        if got == expected:
            correct += 1
            right[expected or "none"] += 1
        elif not expected:
            false_triggers.append(row["text"])
        else:
            misses.append({"text": row["text"], "expected": expected, "got": got or None})
    privacy_rows = [r for r in rows if r["expected"]]
    return {
        "benchmark": "privacy_recognition",
        "set": path.name,
        "messages": len(rows),
        "privacy_requests": len(privacy_rows),
        "ordinary_messages": len(rows) - len(privacy_rows),
        "by_language": dict(Counter(r["language"] for r in rows)),
        "accuracy": round(correct / len(rows), 4),
        "recall": {k: round(right[k] / total[k], 3) for k in sorted(total) if k != "none"},
        "false_triggers": len(false_triggers),
        "false_trigger_texts": false_triggers,
        "misses": misses,
    }


if __name__ == "__main__":
    for name in SETS:
        print(json.dumps(evaluate(Path(__file__).with_name(name))))
    sys.exit(0)
