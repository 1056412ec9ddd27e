"""Signed, dated links whose age our clock tells: tests move time instead of sleeping."""

from __future__ import annotations

from typing import Any

from itsdangerous import TimestampSigner

from imaradesk.runtime.clock import Clock


class ClockedSigner(TimestampSigner):
    """itsdangerous's timestamp signer, dating and checking tokens by ``clock``."""

    def __init__(self, *args: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock.now().timestamp())
