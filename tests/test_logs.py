"""Logs of a whole conversation hold no message text, names or phone numbers in clear."""

from __future__ import annotations

import io
import logging

from imaradesk.runtime.log_config import configure_logging
from tests.helpers import WebVisitor, post_signed, seed_org, twilio_form

CANARY = "CANARY-LOG-7Q2X"


def test_a_full_conversation_leaves_nothing_personal_in_the_logs(
    make_services, live_server_factory, sqlite_database
) -> None:
    stream = io.StringIO()
    configure_logging(level=logging.DEBUG, stream=stream)
    try:
        services = make_services(sqlite_database)
        seed_org(services, "acme")
        server = live_server_factory(services)
        url = f"{server.url}/channels/twilio/acme/messages"
        sender = "whatsapp:+254799123456"
        for body in (
            f"Hi, my name is Wanjiru Kamau {CANARY}",
            "How do I check my balance?",
            "agent please",
            "STOP",
        ):
            assert (
                post_signed(
                    url, twilio_form(body=body, sender=sender, ProfileName="Wanjiru Kamau")
                ).status_code
                == 200
            )
        assert (
            post_signed(url, twilio_form(body="forged", sender=sender), token="wrong").status_code
            == 403
        )
        WebVisitor(server.url, "acme").send(CANARY, sender="+254799123456")
        # Our own code logging something personal by mistake is still caught on the way out.
        logging.getLogger("imaradesk.test").warning(
            "customer +254 799 123 456 (Wanjiru) wrote %s", "my name is Wanjiru"
        )
    finally:
        logging.getLogger().handlers.clear()
    logs = stream.getvalue()
    assert "turn handled" in logs and "rejected a Twilio request" in logs, (
        "the logs are really captured"
    )
    for secret in (CANARY, "Wanjiru", "Kamau", "799123456", "799 123 456", "check my balance"):
        assert secret not in logs, secret
