"""A local SMTP server (aiosmtpd) that keeps what it receives, for sign-up and reset tests."""

from __future__ import annotations

import re
import socket
import time
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller


class _Collector:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


class LocalSmtp:
    def __init__(self, port: int | None = None) -> None:
        """On ``port`` (a server that comes back where it was), else a free one."""
        self._collector = _Collector()
        # aiosmtpd checks its own start by connecting to the port, so it needs a real one.
        if port is None:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        self.port = port
        self._controller = Controller(self._collector, hostname="127.0.0.1", port=self.port)

    def start(self) -> LocalSmtp:
        self._controller.start()
        return self

    @property
    def messages(self) -> list[Message]:
        return self._collector.messages

    def wait_for(self, to: str, *, count: int = 1, timeout: float = 10) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            matching = [m for m in self.messages if m["To"] == to]
            if len(matching) >= count:
                return matching[count - 1]
            time.sleep(0.05)
        raise AssertionError(f"no email {count} to {to}")

    @staticmethod
    def link(message: Message) -> str:
        body = message.get_payload(decode=True).decode()
        return re.search(r"https?://\S+", body).group(0)

    def stop(self) -> None:
        self._controller.stop()
