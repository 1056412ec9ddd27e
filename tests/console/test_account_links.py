"""Password-reset and verification links expire by the injected clock: time is moved, not slept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from imaradesk.console.accounts import RESET_TTL, VERIFY_TTL, TokenInvalid
from imaradesk.runtime.clock import FrozenClock
from imaradesk.storage.db import Database
from tests.fakes.smtp import LocalSmtp
from tests.helpers import seed_org


def _account(services):
    org = seed_org(services, "acme")
    return services.accounts.create(
        org.id, email="wanjiru@acme.example", name="Wanjiru", role="agent", password="a" * 16
    )


def test_a_reset_link_works_for_an_hour_and_not_a_second_longer(
    make_services, sqlite_database: Database, clock: FrozenClock
) -> None:
    services = make_services(sqlite_database)
    account = _account(services)
    token = services.accounts.reset_token(account)
    clock.advance(timedelta(seconds=RESET_TTL))
    assert services.accounts.account_for_reset(token).id == account.id, "at exactly an hour"
    clock.advance(timedelta(seconds=1))
    with pytest.raises(TokenInvalid, match="expired"):
        services.accounts.account_for_reset(token)


def test_a_verification_link_expires_after_three_days(
    make_services, sqlite_database: Database, clock: FrozenClock
) -> None:
    smtp = LocalSmtp().start()
    try:
        services = make_services(sqlite_database, smtp_host="127.0.0.1", smtp_port=smtp.port)
        account = _account(services)
        services.accounts.send_verification(account)
        token = LocalSmtp.link(smtp.wait_for(account.email)).rsplit("/", 1)[1]
    finally:
        smtp.stop()
    clock.advance(timedelta(seconds=VERIFY_TTL))
    assert services.accounts.verify_email(token).email_verified_at is not None, "at exactly 3 days"
    clock.advance(timedelta(seconds=1))
    with pytest.raises(TokenInvalid, match="expired"):
        services.accounts.verify_email(token)
