"""Sign-in and password reset answer in the same time whether or not the account exists.

Before: a locked account answered in ~10 ms, an unknown one in ~750 ms (bcrypt), and a reset
took ~355 ms for a real account (the mail sent inline) and ~5 ms for an unknown one. Each case
runs interleaved with the others and the medians are compared: a difference that big shows at
any noise, one within 10% does not tell an attacker anything.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from imaradesk.console.accounts import LoginFailed, LoginLocked
from imaradesk.storage.db import Database
from tests.fakes.smtp import LocalSmtp
from tests.helpers import seed_org

PASSWORD = "correct horse battery"
TRIES = 15


def medians(cases: dict[str, Callable[[], object]], tries: int = TRIES) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(tries):
        for name, attempt in cases.items():
            started = time.perf_counter()
            try:
                attempt()
            except (LoginFailed, LoginLocked):
                pass
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


@pytest.fixture
def accounts(make_services, sqlite_database: Database, clock):
    smtp = LocalSmtp().start()
    services = make_services(sqlite_database, smtp_host="127.0.0.1", smtp_port=smtp.port)
    org = seed_org(services, "acme")
    for email in ("known@acme.example", "locked@acme.example"):
        services.accounts.create(
            org.id, email=email, name="A", role="agent", password=PASSWORD, verified=True
        )
    with services.database.write() as session:
        from imaradesk.storage.account_repository import Accounts

        locked = Accounts(session).by_email("locked@acme.example")
        locked.locked_until = clock.now() + timedelta(hours=1)
        session.add(locked)
    yield services
    smtp.stop()


def test_sign_in_costs_the_same_for_unknown_known_and_locked_accounts(accounts) -> None:
    sign_in = accounts.accounts.authenticate
    times = medians(
        {
            "unknown": lambda: sign_in("nobody@acme.example", "a wrong password"),
            "known": lambda: sign_in("known@acme.example", "a wrong password"),
            "locked": lambda: sign_in("locked@acme.example", "a wrong password"),
        }
    )
    slowest, fastest = max(times.values()), min(times.values())
    assert slowest / fastest < 1.10, times


def test_a_reset_request_costs_the_same_with_or_without_an_account(accounts) -> None:
    reset = accounts.accounts.request_reset
    times = medians(
        {
            "unknown": lambda: reset("nobody@acme.example"),
            "known": lambda: reset("known@acme.example"),
        },
        tries=25,
    )
    # Both are a database read now (the mail goes in the background): milliseconds apart at
    # most, where the inline mail made it ~70x.
    assert abs(times["known"] - times["unknown"]) < 0.02, times
