"""The imaradesk command: organizations, imports, terminal chat."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from imaradesk.cli import _Context, main
from imaradesk.console.accounts import LoginFailed
from imaradesk.storage.db import Database
from imaradesk.storage.repositories import OrgData
from tests.helpers import WALLET_FAQ


@pytest.fixture
def cli(make_services, sqlite_database: Database):
    services = make_services(sqlite_database)

    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(
            main, list(args), obj=_Context(services), input=input, catch_exceptions=False
        )

    run.services = services  # type: ignore[attr-defined]
    return run


def entries(cli) -> list:
    org = cli.services.organizations.by_slug("acme")
    with cli.services.database.read() as session:
        return list(OrgData(session, org.id).entries())


def test_org_create_and_duplicate(cli) -> None:
    result = cli("org", "create", "acme", "--name", "Acme Ltd", "--twilio-auth-token", "tok")
    assert result.exit_code == 0, result.output
    assert "/channels/twilio/acme/messages" in result.output
    again = cli("org", "create", "acme", "--name", "Acme Ltd")
    assert again.exit_code != 0 and "already exists" in again.output
    bad = cli("org", "create", "Not A Slug", "--name", "x")
    assert bad.exit_code != 0 and "invalid organization slug" in bad.output
    assert cli.services.organizations.by_slug("acme").twilio_auth_token == "tok"


def test_agent_create_then_disable_and_an_unknown_account_is_refused(cli) -> None:
    cli("org", "create", "acme", "--name", "Acme")
    created = cli(
        "agent", "create", "--org", "acme", "wanjiru@acme.example",
        input="a long passphrase\na long passphrase\n",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    accounts = cli.services.accounts
    assert accounts.authenticate("wanjiru@acme.example", "a long passphrase").disabled_at is None
    disabled = cli("agent", "disable", "--org", "acme", "wanjiru@acme.example")
    assert disabled.exit_code == 0 and "Disabled" in disabled.output
    with pytest.raises(LoginFailed):
        accounts.authenticate("wanjiru@acme.example", "a long passphrase")
    unknown = cli("agent", "disable", "--org", "acme", "nobody@acme.example")
    assert unknown.exit_code != 0 and "no account" in unknown.output


def test_kb_import_then_reimport_updates(cli, tmp_path: Path) -> None:
    cli("org", "create", "acme", "--name", "Acme")
    faq = tmp_path / "faq.csv"
    faq.write_text(WALLET_FAQ)
    md = tmp_path / "more.md"
    md.write_text("# Hours\n\n## When are you open?\nEvery day, all day.\n")
    first = cli("kb", "import", "--org", "acme", str(faq), str(md))
    assert first.exit_code == 0, first.output
    assert "faq.csv: 4 new" in first.output and "more.md: 1 new" in first.output
    assert "5 entries" in first.output
    second = cli("kb", "import", "--org", "acme", str(faq))
    assert "faq.csv: 0 new, 0 updated, 0 removed" in second.output
    assert len(entries(cli)) == 5


def test_a_malformed_file_fails_alone_with_its_line(cli, tmp_path: Path) -> None:
    """The good file is imported; the bad one is reported with its line and the exit code is 1."""
    cli("org", "create", "acme", "--name", "Acme")
    good = tmp_path / "good.csv"
    good.write_text(WALLET_FAQ)
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer\nHow?,Like this.\nWhy?\n")
    result = cli("kb", "import", "--org", "acme", str(good), str(bad))
    assert result.exit_code == 1
    assert "bad.csv, line 3: expected 2 fields" in result.output
    assert "good.csv: 4 new" in result.output
    assert {e.source for e in entries(cli)} == {"good.csv"}
    unsupported = tmp_path / "notes.exe"
    unsupported.write_bytes(b"MZ")
    refused = cli("kb", "import", "--org", "acme", str(unsupported))
    assert refused.exit_code == 1 and "unsupported file type" in refused.output


def test_import_into_unknown_org_fails_clearly(cli, tmp_path: Path) -> None:
    faq = tmp_path / "faq.csv"
    faq.write_text(WALLET_FAQ)
    result = cli("kb", "import", "--org", "ghost", str(faq))
    assert result.exit_code == 1 and "unknown organization 'ghost'" in result.output


def test_terminal_chat_uses_the_dialogue_manager_and_shows_the_source(cli, tmp_path: Path) -> None:
    cli("org", "create", "acme", "--name", "Acme")
    faq = tmp_path / "faq.csv"
    faq.write_text(WALLET_FAQ)
    cli("kb", "import", "--org", "acme", str(faq))
    result = cli(
        "chat", "--org", "acme", "--as", "0712 345678", input="How do I check my balance?\nagent\n"
    )
    assert result.exit_code == 0, result.output
    assert "as +254712345678 (whatsapp)" in result.output
    assert "Dial *483*1# to see your balance." in result.output
    assert "from entry #" in result.output and "(balance)" in result.output
    assert "handed off to a human" in result.output
    listed = cli("handoff", "list", "--org", "acme")
    handoff_id = listed.output.split()[0].lstrip("#")
    assert "customer_request" in listed.output
    resolved = cli("handoff", "resolve", "--org", "acme", handoff_id)
    assert resolved.exit_code == 0


@pytest.mark.slow
def test_the_installed_console_script_imports_and_chats_with_the_real_model(tmp_path: Path) -> None:
    env = {**os.environ, "IMARADESK_DATA_DIR": str(tmp_path / "var"), "HF_HUB_OFFLINE": "1"}
    env.pop("DATABASE_URL", None)
    script = Path(sys.executable).parent / "imaradesk"

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *args], env=env, input=input, capture_output=True, text=True, timeout=300
        )

    assert run("org", "create", "acme", "--name", "Acme").returncode == 0
    faq = tmp_path / "faq.csv"
    faq.write_text(WALLET_FAQ)
    imported = run("kb", "import", "--org", "acme", str(faq))
    assert imported.returncode == 0, imported.stderr
    chat = run("chat", "--org", "acme", input="how can I see how much money I have\n")
    assert "Dial *483*1# to see your balance." in chat.stdout, chat.stdout + chat.stderr
    assert (tmp_path / "var" / "imaradesk.db").exists()


def test_kb_import_reads_rasa_training_data_as_entries(cli, tmp_path: Path) -> None:
    """nlu.yml intents become entries answered by domain.yml's utter_<intent> responses."""
    cli("org", "create", "acme", "--name", "Acme")
    nlu = tmp_path / "nlu.yml"
    nlu.write_text(
        'version: "3.1"\nnlu:\n- intent: check_balance\n  examples: |\n'
        "    - how much money do I have\n    - show my [M-Pesa](wallet) balance\n"
        "- intent: greet\n  examples: |\n    - hello\n"
    )
    domain = tmp_path / "domain.yml"
    domain.write_text(
        'version: "3.1"\nintents:\n- check_balance\n- greet\nresponses:\n'
        "  utter_check_balance:\n  - text: Dial *483*1# to see your balance.\n"
    )
    result = cli("kb", "import", "--org", "acme", str(nlu), str(domain))
    assert result.exit_code == 0, result.output
    assert "Rasa data" in result.output and "1 new" in result.output
    assert "greet" in result.output, (
        "an intent without a response is reported, not dropped silently"
    )
    [entry] = entries(cli)
    assert (entry.external_id, entry.answer) == (
        "check_balance",
        "Dial *483*1# to see your balance.",
    )


def test_api_tokens_from_the_command_line(cli) -> None:
    """A token printed once opens the organization's API; listed by prefix; revoked, it fails."""
    cli("org", "create", "acme", "--name", "Acme")
    created = cli("token", "create", "--org", "acme", "wiki sync")
    secret = created.output.strip()
    org = cli.services.organizations.by_slug("acme")
    assert cli.services.api_tokens.authenticate(secret) == org.id
    listed = cli("token", "list", "--org", "acme").output
    assert "wiki sync" in listed and secret not in listed and secret[:10] in listed
    assert cli("token", "revoke", "--org", "acme", "1").exit_code == 0
    assert cli.services.api_tokens.authenticate(secret) is None
    assert cli("token", "revoke", "--org", "acme", "99").exit_code == 1


def test_each_served_instance_has_its_own_gunicorn_control_socket(tmp_path: Path) -> None:
    """Two instances on one machine shared gunicorn's per-user control socket, and stopping
    one removed the other's. Each now has its own, beside its data and named by its port, and
    a path too long for a Unix socket falls back to a short one of its own."""
    from imaradesk.cli.serving import control_socket_path

    first = control_socket_path(tmp_path / "a", 5000)
    assert (
        first
        != control_socket_path(tmp_path / "b", 5000)
        != control_socket_path(tmp_path / "a", 5001)
    )
    assert first.startswith(str(tmp_path.resolve())) and first.endswith("gunicorn-5000.ctl")
    deep = tmp_path / ("x" * 120)
    short = control_socket_path(deep, 5000)
    assert len(short) < 100 and short == control_socket_path(deep, 5000)
    assert short != control_socket_path(tmp_path / ("y" * 120), 5000)


@pytest.mark.redis
def test_kb_import_says_when_no_worker_runs_and_stops_waiting(
    make_services, sqlite_database: Database, redis_url: str, tmp_path: Path
) -> None:
    """With the Redis queue and no `imaradesk worker --jobs` running, `kb import` used to wait
    for ever. It says no worker runs, gives up waiting at its deadline (exit 1), and the file
    stays queued for the first worker that starts."""
    from imaradesk.knowledge_index.ingestion import JobView

    services = make_services(sqlite_database, redis_url=redis_url, job_queue="redis")
    for queue in services.jobs.queues:  # type: ignore[attr-defined]
        queue.empty()
    from tests.helpers import seed_org

    org = seed_org(services, "acme")
    faq = tmp_path / "faq.csv"
    faq.write_text("question,answer\nNinawezaje kufungua akaunti?,Tembelea wakala.\n")
    result = CliRunner().invoke(
        main,
        ["kb", "import", "--org", "acme", "--timeout", "2", str(faq)],
        obj=_Context(services),
    )
    assert result.exit_code == 1
    assert "No background worker is running" in result.output
    assert "still not read after 2 s" in result.output
    [(document, job)] = services.ingestion.documents(org.id)
    assert isinstance(job, JobView) and job.status == "queued", "kept for a worker"
    assert services.jobs.depth() >= 1
    for queue in services.jobs.queues:  # type: ignore[attr-defined]
        queue.empty()
