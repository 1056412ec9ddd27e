"""Password-reset and verification links expire by the injected clock: time is moved, not slept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from imaradesk.console.accounts import RESET_TTL, VERIFY_TTL, AccountError, TokenInvalid
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


def test_a_signup_whose_mail_failed_can_be_tried_again(
    make_services, sqlite_database: Database
) -> None:
    """The mail server was down at sign-up: the account exists but its link never went. The
    same person trying again (same email, same password) gets the link; anyone else trying
    that email is told it is taken, and no second organization appears."""
    from imaradesk.console.mailer import MailError

    smtp = LocalSmtp().start()
    port = smtp.port
    smtp.stop()  # down
    services = make_services(sqlite_database, smtp_host="127.0.0.1", smtp_port=port)
    details = {
        "name": "Achieng",
        "email": "achieng@duka.example",
        "company": "Duka Bora",
        "team_size": "2-10",
        "password": "a long enough password",
    }
    with pytest.raises(MailError):
        services.accounts.signup(**details)
    with pytest.raises(AccountError, match="already exists"):
        services.accounts.signup(**{**details, "password": "somebody else's guess"})
    again = LocalSmtp(port=port).start()  # the mail server is back
    try:
        result = services.accounts.signup(**details)
        link = LocalSmtp.link(again.wait_for("achieng@duka.example"))
    finally:
        again.stop()
    assert "/console/verify/" in link
    assert services.accounts.verify_email(link.rsplit("/", 1)[1]).id == result.account.id
    with services.database.read() as session:
        from sqlmodel import func, select

        from imaradesk.storage.models import Organization

        assert session.exec(select(func.count()).select_from(Organization)).one() == 1
