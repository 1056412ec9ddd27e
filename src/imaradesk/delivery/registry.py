"""Which adapter carries each conversation channel, and the account it sends with.

``services.py`` registers every adapter once; delivery looks an adapter up by the conversation's
channel ("whatsapp", "webchat", ...) and reads its capabilities, never its name. Adding a
channel is one adapter module and one ``register`` call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from imaradesk.channels.base import Channel, ProviderAccount
from imaradesk.storage.models import Organization

AccountOf = Callable[[Organization], ProviderAccount | None]


def _no_account(_org: Organization) -> ProviderAccount | None:
    return None


class UnknownChannel(LookupError):
    """No adapter is registered for a conversation channel."""


@dataclass(frozen=True)
class Registration:
    adapter: Channel
    # The organization's account at the provider; pull channels need none.
    account_of: AccountOf = _no_account


class ChannelRegistry:
    def __init__(self) -> None:
        self._by_channel: dict[str, Registration] = {}

    def register(self, adapter: Channel, *, account_of: AccountOf = _no_account) -> None:
        """Let ``adapter`` carry every conversation channel it says it serves."""
        registration = Registration(adapter, account_of)
        for channel in adapter.capabilities.serves:
            if channel in self._by_channel:
                raise ValueError(f"conversation channel {channel!r} is registered twice")
            self._by_channel[channel] = registration

    def for_channel(self, channel: str) -> Registration:
        """The adapter carrying a conversation channel.

        Raises:
            UnknownChannel: nothing is registered for it.
        """
        try:
            return self._by_channel[channel]
        except KeyError:
            raise UnknownChannel(f"no channel adapter delivers to {channel!r}") from None

    def channels(self) -> tuple[str, ...]:
        return tuple(self._by_channel)
