"""Transactional email through SMTP."""

from __future__ import annotations

import logging
import smtplib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

log = logging.getLogger(__name__)


class MailError(Exception):
    pass


class Mailer(Protocol):
    def send(self, *, to: str, subject: str, body: str) -> None:
        """Send a plain-text email.

        Raises:
            MailError: the mail server refused it or could not be reached.
        """
        ...


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0


class SmtpMailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    def send(self, *, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self._settings.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        s = self._settings
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
                if s.starttls:
                    smtp.starttls()
                if s.username and s.password:
                    smtp.login(s.username, s.password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as e:
            log.warning("email not sent", extra={"error": type(e).__name__})
            raise MailError(f"could not send email: {type(e).__name__}") from e


class MailQueue:
    """Mail sent from a thread of its own. A request that mails (a password reset) then
    answers in the time of one that does not: the answer does not tell whether the address
    has an account. A failure is logged; the person can ask again."""

    def __init__(self, mailer: Mailer) -> None:
        self._mailer = mailer
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imaradesk-mail")

    def send_later(self, *, to: str, subject: str, body: str) -> None:
        self._pool.submit(self._send, to, subject, body)

    def _send(self, to: str, subject: str, body: str) -> None:
        try:
            self._mailer.send(to=to, subject=subject, body=body)
        except MailError:
            pass  # logged by the mailer, without the address
        except Exception:  # a thread must not die silently
            log.exception("email not sent")
