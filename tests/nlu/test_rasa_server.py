"""Against a real Rasa 3.6 server (its own Python 3.10 environment, .rasa-venv, made by
scripts/rasa-env), trained here on a tiny NLU set and run on loopback: RasaNLU reads its parses,
the dialogue answers with the entry Rasa's intent names where our retrieval alone would not,
and a paused, slow or stopped server leaves the turn to our retrieval.

Nothing reaches the network: telemetry is off, the pipeline (bag of words and a logistic
regression) needs no downloads, and the server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from imaradesk.channels.messages import ReplyKind
from imaradesk.knowledge_index.rasa_data import load_rasa_files
from imaradesk.nlu import NLUUnavailable
from imaradesk.nlu.rasa_http import RasaNLU
from tests.conftest import REQUIRE_SERVICES
from tests.helpers import Chat, seed_org

pytestmark = pytest.mark.rasa

ROOT = Path(__file__).resolve().parents[2]
RASA = Path(os.environ.get("RASA_VENV", ROOT / ".rasa-venv")) / "bin" / "rasa"
STARTUP_SECONDS = 240

CONFIG = """\
recipe: default.v1
language: en
assistant_id: imaradesk-test
pipeline:
- name: WhitespaceTokenizer
- name: CountVectorsFeaturizer
- name: CountVectorsFeaturizer
  analyzer: char_wb
  min_ngram: 2
  max_ngram: 4
- name: LogisticRegressionClassifier
policies: []
"""

# Colloquial phrasings, unlike the FAQ's formal questions below: what Rasa learns from these,
# our retrieval (which only knows the FAQ) cannot match on its own.
NLU = """\
version: "3.1"
nlu:
- intent: check_balance
  examples: |
    - how much cash do I have left
    - what is left in my wallet
    - how much money remains
    - tell me what I have left
    - remaining funds in my [savings](account) account
    - money left over
- intent: reset_pin
  examples: |
    - I forgot my secret number
    - my pin is locked
    - cannot remember the code I type
    - unlock my pin
    - pin blocked again
    - the four digits do not work
- intent: send_money
  examples: |
    - pay my brother in [Kisumu](city)
    - transfer cash to a friend
    - move money to another phone
    - give money to my mum
    - wire funds to someone
    - send cash to my sister
- synonym: savings
  examples: |
    - piggy bank
- lookup: city
  examples: |
    - Nairobi
    - Kisumu
"""

DOMAIN = """\
version: "3.1"
intents: [check_balance, reset_pin, send_money]
responses:
  utter_check_balance:
  - text: Dial *483*1# to see your balance.
  utter_reset_pin:
  - text: Dial *483*7# and follow the prompts to reset your PIN.
  utter_send_money:
  - text: Choose Send Money and enter the number and amount.
"""

FAQ = """id,question,answer
check_balance,How do I check my balance?,Dial *483*1# to see your balance.
reset_pin,How do I reset my PIN?,Dial *483*7# and follow the prompts to reset your PIN.
send_money,How do I send money to another number?,Choose Send Money and enter the number and amount.
fees,How much does it cost to send money?,Sending up to KES 100 is free; above that see the tariff.
"""

COLLOQUIAL = "how much cash do I have left"


def _offline_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "VIRTUAL"))}
    env.update(
        RASA_TELEMETRY_ENABLED="false",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TF_CPP_MIN_LOG_LEVEL="3",
        # Training results and Rasa's global config stay in the test's own directory.
        RASA_CACHE_DIRECTORY=str(home / "cache"),
        HOME=str(home),
        NO_PROXY="*",
    )
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RasaServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    train_seconds: float
    start_seconds: float

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.resume()
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _wait_for_status(server: RasaServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"rasa run exited {server.process.returncode}:\n{_tail(server.log)}")
        try:
            with urllib.request.urlopen(f"{server.url}/status", timeout=2) as response:
                if json.load(response).get("model_file"):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"rasa run did not answer /status in {STARTUP_SECONDS} s:\n{_tail(server.log)}")


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def rasa_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("rasa")
    (project / "config.yml").write_text(CONFIG)
    (project / "nlu.yml").write_text(NLU)
    (project / "domain.yml").write_text(DOMAIN)
    return project


@pytest.fixture(scope="module")
def rasa_server(rasa_project: Path) -> Iterator[RasaServer]:
    if not RASA.exists():
        message = f"{RASA} is missing: run scripts/rasa-env (make rasa-env)"
        if REQUIRE_SERVICES:
            pytest.fail(f"a real Rasa server is required (IMARADESK_REQUIRE_SERVICES=1): {message}")
        pytest.skip(message)
    env = _offline_env(rasa_project)
    started = time.monotonic()
    trained = subprocess.run(
        [str(RASA), "train", "nlu", "--config", "config.yml", "--nlu", "nlu.yml",
         "--out", "models", "--fixed-model-name", "tiny"],
        cwd=rasa_project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    train_seconds = time.monotonic() - started
    if trained.returncode != 0:
        pytest.fail(f"rasa train nlu failed:\n{trained.stdout[-3000:]}\n{trained.stderr[-3000:]}")
    port = _free_port()
    log = rasa_project / "rasa-run.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(RASA), "run", "--enable-api", "-i", "127.0.0.1", "-p", str(port),
             "--model", "models/tiny.tar.gz"],
            cwd=rasa_project, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = RasaServer(f"http://127.0.0.1:{port}", process, log, train_seconds, 0.0)
    try:
        _wait_for_status(server)
        server.start_seconds = time.monotonic() - started
        print(f"rasa: trained in {train_seconds:.1f} s, served in {server.start_seconds:.1f} s")
        yield server
    finally:
        server.stop()
        shutil.rmtree(rasa_project / "cache", ignore_errors=True)


@pytest.fixture
def wallet(make_services, rasa_server: RasaServer):
    services = make_services()
    org = seed_org(services, "wallet", faq_csv=FAQ)
    services.organizations.update(org.id, rasa_url=rasa_server.url)
    return services


def test_rasa_nlu_reads_the_real_servers_parse(rasa_server: RasaServer) -> None:
    result = RasaNLU(rasa_server.url, timeout=10).parse(COLLOQUIAL)
    assert result.intent == "check_balance"
    assert result.confidence > 0.6
    assert {name for name, _ in result.ranking} == {"check_balance", "reset_pin", "send_money"}
    assert result.ranking[0] == ("check_balance", result.confidence)


def test_the_files_rasa_trained_on_import_with_the_intents_it_ranks(
    rasa_server: RasaServer, rasa_project: Path
) -> None:
    """Our loader reads the same nlu.yml and domain.yml the real Rasa trained on; every intent
    Rasa can name is an entry with that external id."""
    imported = load_rasa_files([rasa_project / "domain.yml", rasa_project / "nlu.yml"])
    ids = {d.external_id for doc in imported.documents for d in doc.drafts}
    ranked = RasaNLU(rasa_server.url, timeout=10).parse("hello").ranking
    assert ids == {name for name, _ in ranked}
    assert any("lookup 'city' skipped" in w for w in imported.warnings)


def test_the_dialogue_answers_with_the_entry_rasa_names_where_retrieval_would_not(wallet) -> None:
    org = wallet.organizations.by_slug("wallet")
    retrieval = wallet.knowledge.search(org.id, COLLOQUIAL, revision=org.kb_revision)
    assert not (retrieval.confident and retrieval.best.external_id == "check_balance"), (
        "the proof needs a message our retrieval alone does not answer with check_balance"
    )
    reply = Chat(wallet, "wallet").send(COLLOQUIAL)[-1]
    assert (reply.kind, reply.text) == (ReplyKind.ANSWER, "Dial *483*1# to see your balance.")
    [source] = reply.sources
    assert source.external_id == "check_balance"
    parsed = RasaNLU(wallet.organizations.by_slug("wallet").rasa_url, timeout=10).parse(COLLOQUIAL)
    assert source.score == round(parsed.confidence, 4), "the score is Rasa's confidence"


def test_a_paused_server_times_out_and_retrieval_answers_then_rasa_again(
    make_services,
    rasa_server: RasaServer,
) -> None:
    services = make_services(rasa_timeout_seconds=0.5)
    org = seed_org(services, "wallet", faq_csv=FAQ)
    services.organizations.update(org.id, rasa_url=rasa_server.url)
    chat = Chat(services, "wallet")
    rasa_server.pause()
    try:
        with pytest.raises(NLUUnavailable, match="did not answer within"):
            RasaNLU(rasa_server.url, timeout=0.5).parse(COLLOQUIAL)
        colloquial = chat.send(COLLOQUIAL)[-1]
        formal = chat.send("How do I reset my PIN?")[-1]
    finally:
        rasa_server.resume()
    # Retrieval alone decided: not Rasa's answer to the colloquial question, and the formal
    # question answered from the FAQ with retrieval's own score.
    assert not any(s.external_id == "check_balance" for s in colloquial.sources)
    assert formal.kind is ReplyKind.ANSWER and formal.sources[0].external_id == "reset_pin"
    # Resumed, it answers again.
    assert chat.send(COLLOQUIAL)[-1].sources[0].external_id == "check_balance"


def test_a_tiny_timeout_falls_back_to_retrieval(make_services, rasa_server: RasaServer) -> None:
    services = make_services(rasa_timeout_seconds=0.0005)
    org = seed_org(services, "wallet", faq_csv=FAQ)
    services.organizations.update(org.id, rasa_url=rasa_server.url)
    chat = Chat(services, "wallet")
    assert not any(s.external_id == "check_balance" for s in chat.send(COLLOQUIAL)[-1].sources)
    reply = chat.send("How do I check my balance?")[-1]
    assert reply.kind is ReplyKind.ANSWER and reply.sources[0].external_id == "check_balance"


def test_a_server_stopped_mid_conversation_leaves_the_turns_to_retrieval(
    wallet,
    rasa_server: RasaServer,
) -> None:
    """Runs last: it stops the module's server for good."""
    chat = Chat(wallet, "wallet")
    assert chat.send(COLLOQUIAL)[-1].sources[0].external_id == "check_balance"
    rasa_server.stop()
    assert rasa_server.process.returncode is not None
    with pytest.raises(NLUUnavailable, match="unreachable"):
        RasaNLU(rasa_server.url, timeout=2).parse(COLLOQUIAL)
    after = chat.send(COLLOQUIAL)[-1]
    assert not any(s.external_id == "check_balance" for s in after.sources)
    formal = chat.send("How do I send money to another number?")[-1]
    assert formal.kind is ReplyKind.ANSWER and formal.sources[0].external_id == "send_money"
