"""The customer-service window: some channels (WhatsApp) allow free text only for a while
after the customer's last message; after it, only approved templates."""

from __future__ import annotations

from datetime import datetime, timedelta


def window_open(
    *, last_customer_message_at: datetime | None, now: datetime, window: timedelta | None
) -> bool:
    """Whether free text may go out now; a channel without a window is always open."""
    if window is None:
        return True
    return last_customer_message_at is not None and now - last_customer_message_at <= window
