"""``imaradesk org set --tuning/--no-tuning`` and what ``org list`` says of it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from imaradesk.cli import _Context, main
from imaradesk.storage.compliance_repository import ComplianceData
from imaradesk.storage.db import Database


@pytest.fixture
def cli(make_services, sqlite_database: Database):
    services = make_services(sqlite_database)

    def run(*args: str):
        return CliRunner().invoke(main, list(args), obj=_Context(services), catch_exceptions=False)

    run.services = services  # type: ignore[attr-defined]
    return run


def test_tuning_flag_sets_the_opt_in_bumps_the_revision_and_is_audited(cli) -> None:
    """--tuning turns the opt-in on for an excluded organization (org list shows tuning on),
    makes its index stale and records who did it; --no-tuning turns it off again."""
    cli("org", "create", "acme", "--name", "Acme")
    excluded = cli("org", "set", "acme", "--exclude-from-training")
    assert excluded.exit_code == 0, excluded.output
    assert "tuning off" in cli("org", "list").output
    before = cli.services.organizations.by_slug("acme")

    result = cli("org", "set", "acme", "--tuning")
    assert result.exit_code == 0, result.output
    assert "tuning_opt_in" in result.output
    org = cli.services.organizations.by_slug("acme")
    assert org.tuning_opt_in and org.exclude_from_training
    assert org.kb_revision == before.kb_revision + 1
    assert "tuning on" in cli("org", "list").output
    with cli.services.database.read() as session:
        actions = [e.action for e in ComplianceData(session, org.id).audit_trail()]
    assert actions == ["tuning_opted_in"]

    cli("org", "set", "acme", "--no-tuning")
    assert not cli.services.organizations.by_slug("acme").tuning_opt_in
    assert "tuning off" in cli("org", "list").output


def test_tuning_flag_is_described_in_the_help(cli) -> None:
    """The help says what the flag does and what the default is."""
    shown = " ".join(cli("org", "set", "--help").output.split())
    assert "--tuning / --no-tuning" in shown
    assert "head trained on the organization's own phrasings" in shown
    assert "(default: only organizations not excluded)" in shown
