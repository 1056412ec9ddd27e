"""Rasa 3.6's NLU-only ``/model/parse`` under the same open-loop load as our whole turn.

    python -m bench.rasa_parse [--rates 20,40,60,80,100] [--seconds 10]

The baseline of ``bench.topology_load --rasa``, runnable alone. Rasa lives in its own Python 3.10
environment (``.rasa-venv``, ``make rasa-env``) and is reached over HTTP only, as the product
does. Its default pipeline (``rasa init``'s: whitespace tokens, regex, lexical and count-vector
features, DIET) is trained on BANKING77's 10 phrasings per intent, the same phrasings our FAQ
is built from (``banking77.write_faq``'s choice, seed 7), for 20 epochs; then ``rasa run
--enable-api`` serves it on loopback and the generator sends the test set's questions to
``/model/parse`` at each rate. Nothing leaves the machine: telemetry is off.

Prints one JSON document: training seconds, and per rate the offered and achieved parses per
second, p50 and p99 in ms, errors.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from bench import open_loop
from bench.banking77 import write_faq

ROOT = Path(__file__).resolve().parents[1]
RASA = Path(os.environ.get("RASA_VENV", ROOT / ".rasa-venv")) / "bin" / "rasa"
DATA = ROOT.parent / "shared" / "bench" / "banking77"
EPOCHS = 20

CONFIG = f"""\
recipe: default.v1
language: en
assistant_id: imaradesk-bench
pipeline:
- name: WhitespaceTokenizer
- name: RegexFeaturizer
- name: LexicalSyntacticFeaturizer
- name: CountVectorsFeaturizer
- name: CountVectorsFeaturizer
  analyzer: char_wb
  min_ngram: 1
  max_ngram: 4
- name: DIETClassifier
  epochs: {EPOCHS}
  constrain_similarities: true
- name: EntitySynonymMapper
- name: FallbackClassifier
  threshold: 0.3
policies: []
"""


def questions() -> list[str]:
    with (DATA / "test.csv").open(newline="") as f:
        return [row["text"] for row in csv.DictReader(f)]


def nlu_yaml(faq: Path) -> str:
    """The FAQ's phrasings as Rasa training data, one intent per category."""
    by_intent: dict[str, list[str]] = {}
    with faq.open(newline="") as f:
        for row in csv.DictReader(f):
            by_intent.setdefault(row["id"], []).append(row["question"])
    lines = ['version: "3.1"', "nlu:"]
    for intent, examples in sorted(by_intent.items()):
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {json.dumps(e)[1:-1]}" for e in examples]
    return "\n".join(lines) + "\n"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(project: Path) -> dict[str, str]:
    return {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "HOME": str(project),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
    }


@contextmanager
def rasa_server(workdir: Path) -> Iterator[tuple[str, float]]:
    """(URL, training seconds) of a Rasa server trained on BANKING77's 10 phrasings."""
    if not RASA.exists():
        raise SystemExit(f"{RASA} is missing: run `make rasa-env` first")
    project = workdir / "rasa"
    project.mkdir()
    faq = workdir / "banking77_faq_rasa.csv"
    write_faq(DATA / "train.csv", faq, shots=10, seed=7)
    (project / "config.yml").write_text(CONFIG)
    (project / "nlu.yml").write_text(nlu_yaml(faq))
    started = time.monotonic()
    trained = subprocess.run(
        [str(RASA), "train", "nlu", "--config", "config.yml", "--nlu", "nlu.yml",
         "--out", "models", "--fixed-model-name", "banking77"],
        cwd=project, env=_env(project), capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    if trained.returncode != 0:
        raise RuntimeError(
            f"rasa train failed:\n{trained.stdout[-2000:]}\n{trained.stderr[-2000:]}"
        )
    train_seconds = time.monotonic() - started
    port = _free_port()
    log = (project / "rasa-run.log").open("wb")
    process = subprocess.Popen(
        [str(RASA), "run", "--enable-api", "-i", "127.0.0.1", "-p", str(port),
         "--model", "models/banking77.tar.gz"],
        cwd=project, env=_env(project), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                status = requests.get(f"{url}/status", timeout=2)
                if status.ok and status.json().get("model_file"):
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("rasa run did not come up")
            time.sleep(1)
        requests.post(f"{url}/model/parse", json={"text": "warm up"}, timeout=30)
        yield url, train_seconds
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def drive_parse(url: str, rate: float, seconds: float, texts: list[str], start: int) -> dict:
    """Open loop, like topology_load.drive: the test set's questions to /model/parse."""

    def parse(n: int) -> bool:
        text = texts[(start + n) % len(texts)]
        return requests.post(f"{url}/model/parse", json={"text": text}, timeout=30).ok

    return open_loop.drive(rate, seconds, parse)


def measure(rates: list[float], seconds: float, workdir: Path) -> dict:
    texts = questions()
    with rasa_server(workdir) as (url, train_seconds):
        steps, sent = [], 0
        for rate in rates:
            step = drive_parse(url, rate, seconds, texts, sent)
            sent += step["sent"]
            steps.append(step)
    return {
        "rasa": "3.6 default pipeline, DIET 20 epochs",
        "train_s": round(train_seconds, 1),
        "steps": steps,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="20,40,60,80,100")
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="imaradesk-rasa-") as tmp:
        report = measure([float(r) for r in args.rates.split(",")], args.seconds, Path(tmp))
    print(json.dumps({"benchmark": "rasa_parse", **report}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
