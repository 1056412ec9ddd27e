"""Time from uploading a whole FAQ to the bot answering from it, through the REST API.

    python -m bench.upload_to_answer --data ../shared/bench/banking77 [--repeats 3]

Writes BANKING77's training set as one FAQ CSV (one entry per category, its ~130 utterances
as phrasings: 10,003 rows), starts the real app on loopback (SQLite, the real embedding model),
uploads the file to ``POST /api/v1/documents`` and polls the job until it is ready, then asks
the preview endpoint a question as written in the file while it is indexed (answerable), then
52 test questions once calibration has ended (the share answered right).
Each repeat uses a fresh organization, so nothing is reused. Prints one JSON line: per-stage
and total seconds (medians), and, as a baseline from the same run, the seconds the embedder
alone takes for the same phrasings (ratio = total / embedding alone: what the product adds
around the unavoidable work).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import requests
from werkzeug.serving import make_server

from bench.banking77 import write_faq
from imaradesk.app import create_app
from imaradesk.services import build_services
from imaradesk.settings import Settings


def _right(preview: dict, category: str) -> bool:
    # bench.banking77's FAQ answers each category with a sentence naming it.
    return preview["outcome"] == "answer" and category.replace("_", " ") in preview["reply"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        faq = Path(tmp) / "banking77.csv"
        categories = write_faq(args.data / "train.csv", faq, None, 0)
        data = faq.read_bytes()
        with faq.open(newline="") as f:
            phrasings = [row["question"] for row in csv.DictReader(f)]
        with (args.data / "test.csv").open(newline="") as f:
            probes = list(csv.DictReader(f))[::60]  # 52 test questions across the categories
        with faq.open(newline="") as f:
            first_row = next(csv.DictReader(f))
            exact = (first_row["question"], first_row["category"])

        services = build_services(
            Settings(environment="test", data_dir=Path(tmp) / "var", max_upload_bytes=50 * 2**20)
        )
        services.embedder.embed(["warm up"])
        server = make_server("127.0.0.1", 0, create_app(services=services), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}/api/v1"

        runs: list[dict[str, float]] = []
        baselines: list[float] = []
        for repeat in range(args.repeats):
            started = time.perf_counter()
            services.embedder.embed(phrasings)
            baselines.append(time.perf_counter() - started)

            org = services.organizations.create(f"bank-{repeat}", name="Bank")
            session = requests.Session()
            session.headers["Authorization"] = (
                f"Bearer {services.api_tokens.issue(org.id, 'bench').secret}"  # type: ignore[arg-type]
            )
            stage_started: dict[str, float] = {}
            started = time.perf_counter()
            response = session.post(
                f"{base}/documents", files={"file": ("banking77.csv", data)}, timeout=60
            )
            response.raise_for_status()
            accepted = time.perf_counter() - started
            job_url = f"http://127.0.0.1:{server.server_port}{response.headers['Location']}"
            answerable = None
            while True:
                job = session.get(job_url, timeout=10).json()
                now = time.perf_counter() - started
                stage_started.setdefault(job["stage"], now)
                if answerable is None and job["stage"] in ("calibrating", "done"):
                    # A question as written in the upload: answered once the index is built.
                    asked = session.post(
                        f"{base}/answers/preview", json={"question": exact[0]}, timeout=30
                    ).json()
                    if _right(asked, exact[1]):
                        answerable = time.perf_counter() - started
                if job["status"] in ("ready", "failed"):
                    break
                time.sleep(0.1)
            if job["status"] != "ready":
                sys.exit(f"ingestion failed: {job['error']}")
            ready = time.perf_counter() - started
            if answerable is None:
                sys.exit("the question as written was not answered")
            right = 0
            for probe in probes:
                preview = session.post(
                    f"{base}/answers/preview", json={"question": probe["text"]}, timeout=30
                ).json()
                right += int(_right(preview, probe["category"]))
            runs.append(
                {
                    "accepted_s": accepted,
                    "embedding_started_s": stage_started.get("embedding", ready),
                    "calibrating_started_s": stage_started.get("calibrating", ready),
                    "ready_s": ready,
                    "answerable_s": answerable,
                    "right_share": right / len(probes),
                }
            )
            print(
                json.dumps({"repeat": repeat, **{k: round(v, 2) for k, v in runs[-1].items()}}),
                file=sys.stderr,
            )
        server.shutdown()

    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 2)

    embed_alone = round(statistics.median(baselines), 2)
    print(
        json.dumps(
            {
                "rows": len(phrasings),
                "entries": categories,
                "repeats": args.repeats,
                "upload_accepted_s": median("accepted_s"),
                "embedding_started_s": median("embedding_started_s"),
                "calibrating_started_s": median("calibrating_started_s"),
                "upload_to_answerable_s": median("answerable_s"),
                "upload_to_calibrated_s": median("ready_s"),
                "embedding_alone_s": embed_alone,
                "ratio_to_embedding_alone": round(median("answerable_s") / embed_alone, 2),
                "test_questions_answered_right": median("right_share"),
            }
        )
    )


if __name__ == "__main__":
    main()
