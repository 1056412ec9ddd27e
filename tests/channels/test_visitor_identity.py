"""Visitor tokens and signed customer identities (channels/visitor_identity.py), and
`imaradesk org webchat`, which sets the identity secret (sealed, never from argv)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from imaradesk.channels.visitor_identity import (
    IdentityRefused,
    VisitorRefused,
    VisitorTokens,
    identity_signature,
)
from imaradesk.cli import _Context, main
from imaradesk.runtime.clock import FrozenClock
from imaradesk.storage.db import Database
from tests.helpers import seed_org

SECRET = "service-secret-for-tests"
DAY = 86400


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def tokens(clock) -> VisitorTokens:
    return VisitorTokens(SECRET, max_age_seconds=30 * DAY, clock=clock)


def test_each_new_visitor_gets_an_address_of_its_own(tokens) -> None:
    addresses = {tokens.new_visitor(1)[1].address for _ in range(200)}
    assert len(addresses) == 200
    assert all(a.startswith("web-") and len(a) >= 32 for a in addresses), "not guessable"


def test_a_token_names_its_visitor_for_its_organization_only(tokens) -> None:
    token, visitor = tokens.new_visitor(1)
    assert tokens.verify(token, org_id=1) == visitor
    with pytest.raises(VisitorRefused, match="not valid"):
        tokens.verify(token, org_id=2)


def test_another_services_secret_signs_nothing_here(tokens, clock) -> None:
    elsewhere = VisitorTokens("another-secret", max_age_seconds=30 * DAY, clock=clock)
    token, _ = elsewhere.new_visitor(1)
    with pytest.raises(VisitorRefused, match="not valid"):
        tokens.verify(token, org_id=1)


def test_a_token_expires_and_renewal_keeps_the_visitor(tokens, clock) -> None:
    token, visitor = tokens.new_visitor(1)
    clock.advance(timedelta(days=29))
    renewed, same = tokens.renew(tokens.verify(token, org_id=1))
    assert same == visitor
    clock.advance(timedelta(days=2))
    with pytest.raises(VisitorRefused, match="expired"):
        tokens.verify(token, org_id=1)
    assert tokens.verify(renewed, org_id=1) == visitor, "the renewed one runs from its renewal"


def test_the_identity_hash_is_plain_hmac_sha256_hex(tokens) -> None:
    """What an organization's developers compute on their server, in any language."""
    expected = hmac.new(b"org-secret", b"cust-7", hashlib.sha256).hexdigest()
    assert identity_signature("org-secret", "cust-7") == expected
    token, visitor = tokens.identified(
        1, user_id="cust-7", user_hash=expected.upper(), identity_secret="org-secret"
    )
    assert visitor.address == "user:cust-7" and visitor.identified
    assert tokens.verify(token, org_id=1) == visitor


@pytest.mark.parametrize(
    ("user_id", "secret", "message"),
    [
        ("cust-7", None, "does not sign"),
        ("cust-7", "", "does not sign"),
        ("cust-8", "org-secret", "not the organization's signature"),
        ("", "org-secret", "must be 1-128"),
        ("-leading", "org-secret", "must be 1-128"),
        ("x" * 129, "org-secret", "must be 1-128"),
        ("cust 7", "org-secret", "must be 1-128"),
    ],
)
def test_an_identity_is_refused_unless_the_organization_signed_it(
    tokens, user_id: str, secret: str | None, message: str
) -> None:
    signature = identity_signature("org-secret", "cust-7")
    with pytest.raises(IdentityRefused, match=message):
        tokens.identified(1, user_id=user_id, user_hash=signature, identity_secret=secret)


@pytest.fixture
def cli(make_services, sqlite_database: Database):
    services = make_services(sqlite_database)
    seed_org(services, "acme")

    def run(*args: str, env: dict[str, str] | None = None):
        return CliRunner().invoke(main, list(args), obj=_Context(services), env=env)

    run.services = services  # type: ignore[attr-defined]
    return run


def test_org_webchat_stores_the_secret_sealed_and_never_prints_it(cli) -> None:
    secret = "identity-secret-of-acme-0042"
    result = cli(
        "org",
        "webchat",
        "--org",
        "acme",
        "--identity-secret-env",
        "ACME_ID",
        env={"ACME_ID": secret},
    )
    assert result.exit_code == 0, result.output
    assert secret not in result.output
    assert cli.services.organizations.by_slug("acme").webchat_identity_secret == secret
    with cli.services.database.engine.connect() as conn:
        raw = conn.execute(
            text("SELECT webchat_identity_secret FROM organization WHERE slug = 'acme'")
        ).scalar()
    assert raw and secret not in raw, "sealed at rest"
    assert "set" in cli("org", "webchat", "--org", "acme").output
    removed = cli("org", "webchat", "--org", "acme", "--no-identity-secret")
    assert removed.exit_code == 0
    assert cli.services.organizations.by_slug("acme").webchat_identity_secret is None


def test_org_webchat_generates_a_secret_once_and_refuses_bad_input(cli) -> None:
    generated = cli("org", "webchat", "--org", "acme", "--generate-identity-secret")
    assert generated.exit_code == 0
    secret = cli.services.organizations.by_slug("acme").webchat_identity_secret
    assert secret and len(secret) >= 32 and secret in generated.output
    short = cli("org", "webchat", "--org", "acme", "--identity-secret-env", "S", env={"S": "short"})
    assert short.exit_code != 0 and "at least 16" in short.output
    unset = cli("org", "webchat", "--org", "acme", "--identity-secret-env", "NOT_SET_ANYWHERE")
    assert unset.exit_code != 0 and "empty or not set" in unset.output
    both = cli(
        "org", "webchat", "--org", "acme", "--generate-identity-secret", "--no-identity-secret"
    )
    assert both.exit_code != 0 and "choose one" in both.output
    assert cli.services.organizations.by_slug("acme").webchat_identity_secret == secret
