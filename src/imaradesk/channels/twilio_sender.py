"""Sending WhatsApp messages through Twilio's REST API with the twilio library's Client.

The Client talks to ``api.twilio.com`` unless a base URL is configured (a regional edge, an
egress proxy, or a local server that speaks Twilio's protocol in tests). Each call makes one
request: retrying is delivery's (``delivery.retry``), so that it is done once, for every channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from imaradesk.channels.base import SendFailed

__all__ = ["SendFailed", "SentMessage", "TwilioSender"]


class _RebasedHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no types
    """Sends every request to the configured base URL instead of Twilio's hosts."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._base = urlsplit(base_url)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        url = urlunsplit(
            (
                self._base.scheme,
                self._base.netloc,
                self._base.path.rstrip("/") + parts.path,
                parts.query,
                "",
            )
        )
        return super().request(method, url, *args, **kwargs)


@dataclass(frozen=True)
class SentMessage:
    sid: str
    status: str


class TwilioSender:
    def __init__(self, *, api_base_url: str | None = None, timeout: float = 10.0) -> None:
        self._base_url = api_base_url
        self._timeout = timeout

    def _client(self, account_sid: str, auth_token: str) -> Client:
        http_client = (
            _RebasedHttpClient(self._base_url, self._timeout)
            if self._base_url
            else TwilioHttpClient(timeout=self._timeout)
        )
        return Client(account_sid, auth_token, http_client=http_client)

    def send(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_: str,
        to: str,
        body: str | None = None,
        content_sid: str | None = None,
        status_callback: str | None = None,
    ) -> SentMessage:
        """Create one message.

        Raises:
            SendFailed: Twilio refused the message or could not be reached.
        """
        params: dict[str, Any] = {"from_": from_, "to": to}
        if content_sid:
            params["content_sid"] = content_sid
        else:
            params["body"] = body
        if status_callback:
            params["status_callback"] = status_callback
        try:
            message = self._client(account_sid, auth_token).messages.create(**params)
        except TwilioRestException as e:
            # 4xx other than 429 will not get better by retrying.
            raise SendFailed(
                f"Twilio answered {e.status}",
                code=str(e.code or e.status),
                retryable=e.status >= 500 or e.status == 429,
            ) from e
        except requests.RequestException as e:
            raise SendFailed(f"Twilio unreachable: {type(e).__name__}", code="network") from e
        return SentMessage(str(message.sid), message.status or "queued")
