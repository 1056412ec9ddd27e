"""The production topology under load: signed Twilio webhooks at rising rates.

    python -m bench.topology_load [--workers 1,2] [--rates 10,20,40,60] [--seconds 10]

For each number of web workers, ``imaradesk up`` runs on loopback (PostgreSQL in a private
schema of the local ``test`` database, Redis database 12, one background worker, the sweeper;
rate limits off: they would refuse a load generator, and signed webhooks are never limited
anyway). The FAQ is BANKING77's 77 intents with 10 phrasings each
(``../shared/bench/banking77``); the questions are its test set, each from a new customer.

At each offered rate an open-loop generator sends for ``--seconds`` (a request is sent on
schedule whether or not earlier ones have been answered, up to 64 in flight) and records each
webhook's time to its TwiML answer. Then the database says what was lost (a webhook answered
with no reply stored, or not answered) and what was duplicated (two inbound rows for one
MessageSid, or replies stored twice). Also: each worker process's resident memory.

Prints one JSON document: per workers and rate, offered, achieved, p50, p99 (ms), errors,
lost, duplicated; and the memory. With ``--rasa``, a Rasa 3.6 server's NLU-only ``/model/parse``
is driven the same way in the same run (bench.rasa_parse), and the ratio of the highest rates
each kept up with is printed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import redis
import requests
from twilio.request_validator import RequestValidator

from bench import open_loop, rasa_parse
from bench.banking77 import write_faq

TOKEN = "bench-twilio-token"
DATA = Path(__file__).resolve().parents[2] / "shared" / "bench" / "banking77"
PG = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/12"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "imaradesk.cli", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(done.stdout + done.stderr)
    return done.stdout


def questions() -> list[str]:
    with (DATA / "test.csv").open(newline="") as f:
        return [row["text"] for row in csv.DictReader(f)]


class Topology:
    def __init__(self, workers: int, tmp: Path) -> None:
        self.schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.schema}"')
        redis.Redis.from_url(REDIS_URL).flushdb()
        self.env = {
            **os.environ,
            "DATABASE_URL": f"{PG}?options=-csearch_path%3D{self.schema}",
            "REDIS_URL": REDIS_URL,
            "IMARADESK_JOB_QUEUE": "redis",
            "IMARADESK_DATA_DIR": str(tmp / f"data-{workers}"),
            "IMARADESK_RATE_LIMITS": "false",
            "HF_HUB_OFFLINE": "1",
        }
        cli(self.env, "org", "create", "bank", "--name", "Bank", "--twilio-auth-token", TOKEN)
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "imaradesk.cli", "up", "--port", str(self.port),
             "--web-workers", str(workers), "--job-workers", "1", "--threads", "8"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        try:
            self._ready(tmp)
        except BaseException:
            # A topology left running would take the next one's jobs from the same Redis.
            self.stop()
            raise

    def _ready(self, tmp: Path) -> None:
        deadline = time.monotonic() + 300
        while True:
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the topology did not start")
            time.sleep(0.5)
        faq = tmp / "banking77_faq.csv"
        write_faq(DATA / "train.csv", faq, shots=10, seed=7)
        cli(self.env, "kb", "import", "--org", "bank", "--timeout", "600", str(faq))

    def memory_mib(self) -> dict[str, float]:
        """Resident memory of each process of the topology (``up`` and all it started), by
        its command line's telling part."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    parents[int(entry.name)] = int(fields[1])
                except (OSError, IndexError, ValueError):
                    continue
        family, grew = {self.process.pid}, True
        while grew:
            grew = False
            for pid, parent in parents.items():
                if parent in family and pid not in family:
                    family.add(pid)
                    grew = True
        sizes: dict[str, float] = {}
        for pid in sorted(family):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            words = [w.decode(errors="replace") for w in command if w]
            name = " ".join(words[3:5]) if "imaradesk.cli" in words else " ".join(words[:2])
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    sizes[f"{pid} {name}"[:60]] = round(int(line.split()[1]) / 1024, 1)
        return sizes

    def counts(self) -> tuple[int, int, int]:
        """(inbound rows, MessageSids stored twice, inbound messages without a reply)."""
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            inbound = conn.execute(
                "SELECT count(*) FROM message WHERE direction = 'INBOUND'"
            ).fetchone()[0]
            twice = conn.execute(
                "SELECT count(*) FROM (SELECT provider_message_id FROM message WHERE direction = "
                "'INBOUND' GROUP BY provider_message_id HAVING count(*) > 1) d"
            ).fetchone()[0]
            unanswered = conn.execute(
                "SELECT count(*) FROM message i WHERE i.direction = 'INBOUND' AND NOT EXISTS "
                "(SELECT 1 FROM message r WHERE r.reply_to_id = i.id)"
            ).fetchone()[0]
        return int(inbound), int(twice), int(unanswered)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')


def drive(topology: Topology, rate: float, seconds: float, texts: list[str], start: int) -> dict:
    url = f"{topology.url}/channels/twilio/bank/messages"
    validator = RequestValidator(TOKEN)

    def send(n: int) -> bool:
        form = {
            "MessageSid": f"SM{start + n:032x}",
            "AccountSid": "AC" + "0" * 32,
            "From": f"whatsapp:+2547{start + n:08d}",
            "To": "whatsapp:+14155238886",
            "Body": texts[(start + n) % len(texts)],
            "NumMedia": "0",
        }
        headers = {"X-Twilio-Signature": validator.compute_signature(url, form)}
        return requests.post(url, data=form, headers=headers, timeout=30).status_code == 200

    return open_loop.drive(rate, seconds, send)


def sustained(steps: list[dict]) -> float:
    """The highest achieved rate of a step that kept up (95% of the offered rate, no errors)."""
    kept = [
        s["achieved_per_s"]
        for s in steps
        if not s["errors"] and s["achieved_per_s"] >= 0.95 * s["offered_per_s"]
    ]
    return max(kept, default=0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--rates", default="10,20,40,60")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--rasa",
        action="store_true",
        help="Also measure a Rasa 3.6 server's /model/parse at the same rates (bench.rasa_parse)"
        " and report the ratio of sustained rates.",
    )
    args = parser.parse_args(argv)
    texts = questions()
    report: dict = {"benchmark": "topology_load", "faq": "banking77, 10 phrasings", "runs": []}
    with tempfile.TemporaryDirectory(prefix="imaradesk-load-") as tmp:
        for workers in (int(w) for w in args.workers.split(",")):
            topology = Topology(workers, Path(tmp))
            try:
                sent = 0
                steps = []
                for rate in (float(r) for r in args.rates.split(",")):
                    step = drive(topology, rate, args.seconds, texts, sent)
                    sent += step["sent"]
                    steps.append(step)
                time.sleep(2)
                inbound, twice, unanswered = topology.counts()
                report["runs"].append(
                    {
                        "web_workers": workers,
                        "steps": steps,
                        "sent": sent,
                        "stored": inbound,
                        "lost": sent - inbound + unanswered,
                        "duplicated": twice,
                        "memory_mib_per_process": topology.memory_mib(),
                    }
                )
            finally:
                topology.stop()
        if args.rasa:
            rates = [float(r) for r in args.rates.split(",")]
            report["rasa"] = rasa_parse.measure(rates, args.seconds, Path(tmp))
            ours = max(sustained(run["steps"]) for run in report["runs"])
            theirs = sustained(report["rasa"]["steps"])
            report["sustained_per_s"] = {"imaradesk_turn": ours, "rasa_parse": theirs}
            report["ratio_turn_to_rasa_parse"] = round(ours / theirs, 2) if theirs else None
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
