"""`imaradesk org ai` and `imaradesk org usage`: an organization's own provider and its cost.

The key goes in through an environment variable or a hidden prompt, never argv, and lands
encrypted; the usage report adds up what real calls (to a local fake provider) recorded.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from imaradesk.cli import _Context, main
from imaradesk.storage.db import Database
from tests.fakes.llm_servers import FakeAnthropic
from tests.helpers import Chat, seed_org

KEY = "sk-ant-secret-key-0042"


@pytest.fixture
def cli(make_services, sqlite_database: Database):
    services = make_services(sqlite_database)
    seed_org(services, "acme")

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None):
        return CliRunner().invoke(
            main, list(args), obj=_Context(services), input=input, env=env, catch_exceptions=False
        )

    run.services = services  # type: ignore[attr-defined]
    return run


def raw_key_column(cli) -> str | None:
    with cli.services.database.engine.connect() as conn:
        return conn.execute(
            text("SELECT ai_api_key FROM organization WHERE slug = 'acme'")
        ).scalar()


def test_the_key_from_an_environment_variable_is_stored_encrypted(cli) -> None:
    result = cli(
        "org", "ai", "--org", "acme", "--provider", "anthropic", "--model", "claude-haiku-4-5",
        "--api-key-env", "ACME_AI_KEY", "--generative",
        env={"ACME_AI_KEY": KEY},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert KEY not in result.output
    assert "anthropic (claude-haiku-4-5)" in result.output and "external AI is off" in result.output
    org = cli.services.organizations.by_slug("acme")
    assert (org.ai_provider, org.ai_model, org.ai_api_key, org.generative_answers) == (
        "anthropic",
        "claude-haiku-4-5",
        KEY,
        True,
    )
    raw = raw_key_column(cli)
    assert raw and KEY not in raw


def test_without_an_environment_variable_the_key_is_asked_for_hidden(cli) -> None:
    result = cli(
        "org", "ai", "--org", "acme", "--provider", "openai", "--model", "gpt-4o-mini",
        input=KEY + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "API key" in result.output and KEY not in result.output  # hidden input is not echoed
    assert cli.services.organizations.by_slug("acme").ai_api_key == KEY


def test_there_is_no_option_that_takes_the_key_itself(cli) -> None:
    result = CliRunner().invoke(
        main,
        ["org", "ai", "--org", "acme", "--provider", "openai", "--model", "m", "--api-key", KEY],
        obj=_Context(cli.services),
    )
    assert result.exit_code == 2 and "No such option" in result.output


def test_mistakes_are_refused(cli) -> None:
    missing_env = cli(
        "org", "ai", "--org", "acme", "--provider", "gemini", "--model", "gemini-2.5-flash",
        "--api-key-env", "NOT_SET_ANYWHERE",
    )  # fmt: skip
    assert missing_env.exit_code == 1 and "NOT_SET_ANYWHERE is unset or empty" in missing_env.output
    no_model = cli("org", "ai", "--org", "acme", "--provider", "gemini", input="k\n")
    assert no_model.exit_code == 2 and "--model is required" in no_model.output
    bad_url = cli(
        "org", "ai", "--org", "acme", "--provider", "openai", "--model", "m",
        "--base-url", "ftp://x", input="k\n",
    )  # fmt: skip
    assert bad_url.exit_code == 2 and "http(s) URL" in bad_url.output
    unknown = cli("org", "ai", "--org", "ghost")
    assert unknown.exit_code == 1 and "unknown organization" in unknown.output
    assert cli.services.organizations.by_slug("acme").ai_provider is None


def test_provider_none_removes_the_organizations_provider_and_key(cli) -> None:
    cli(
        "org", "ai", "--org", "acme", "--provider", "openai", "--model", "gpt-4o-mini",
        "--base-url", "https://gateway.example/v1", input="k-1\n",
    )  # fmt: skip
    result = cli("org", "ai", "--org", "acme", "--provider", "none", "--no-generative")
    assert result.exit_code == 0, result.output
    org = cli.services.organizations.by_slug("acme")
    assert (org.ai_provider, org.ai_model, org.ai_api_key, org.ai_base_url) == (None,) * 4
    assert not org.generative_answers
    assert raw_key_column(cli) is None


def test_usage_reports_tokens_per_provider_model_and_day(cli) -> None:
    """Real turns through the dialogue to a fake Anthropic server, on two days."""
    services = cli.services
    with FakeAnthropic(api_key=KEY) as fake:
        fake.answer("Dial *483*1# to see your balance [1].", input_tokens=300, output_tokens=12)
        assert (
            cli(
                "org", "ai", "--org", "acme", "--provider", "anthropic",
                "--model", "claude-haiku-4-5", "--base-url", fake.base_url,
                "--api-key-env", "K", "--generative", env={"K": KEY},
            ).exit_code
            == 0
        )  # fmt: skip
        cli("org", "set", "acme", "--external-ai")
        Chat(services, "acme").send("How do I check my balance?")
        Chat(services, "acme", sender="+254700000002").send("How do I check my balance?")
        services.clock.advance(timedelta(days=1))
        Chat(services, "acme", sender="+254700000003").send("How do I check my balance?")
    result = cli("org", "usage", "--org", "acme")
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.output.splitlines() if "\t" in line]
    assert rows == [
        ["day", "provider", "model", "calls", "failed", "input tokens", "output tokens"],
        ["2026-11-02", "anthropic", "claude-haiku-4-5", "2", "0", "600", "24"],
        ["2026-11-03", "anthropic", "claude-haiku-4-5", "1", "0", "300", "12"],
        ["total", "", "", "3", "0", "900", "36"],
    ]


def test_usage_with_no_calls_says_so(cli) -> None:
    result = cli("org", "usage", "--org", "acme")
    assert result.exit_code == 0 and "No AI calls for acme" in result.output
