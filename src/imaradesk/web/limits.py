"""Rate limits on the public surface (Flask-Limiter: on Redis when configured, in memory on the
embedded default).

Each limit has its key: the client's address (behind a trusted proxy, as ProxyFix reads it),
the web-chat visitor's token, the API token, or an address and an email together. Signed
provider webhooks (Twilio, Meta) have none: Twilio does not honour 429, and a signed message is
deduplicated and answered, never dropped. What an organization may use in all (messages per
minute, visitors per hour, storage) are its quotas (tenants/quotas), counted in the routes.

Sign-in counts only failures, per address and email together: five wrong passwords from one
place stop that place guessing that address for a while, whether or not the account exists (the
answer is the same), and nobody elsewhere can lock its owner out by guessing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, request
from flask_limiter import Limiter

from imaradesk.runtime.metrics import RATE_LIMITED
from imaradesk.settings import Settings
from imaradesk.web.common import bearer_token

KeyFunc = Callable[[], str]


def client_address() -> str:
    return request.remote_addr or "unknown"


def _digest(value: str) -> str:
    # Keys live in Redis: never a token or an email in clear.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def visitor_key() -> str:
    token = bearer_token()
    return f"visitor:{_digest(token)}" if token else f"address:{client_address()}"


def api_token_key() -> str:
    token = bearer_token()
    return f"token:{_digest(token)}" if token else f"address:{client_address()}"


def _email() -> str:
    return request.form.get("email", "").strip().lower()[:254]


def email_key() -> str:
    return f"email:{_digest(_email())}"


def address_and_email_key() -> str:
    return f"signin:{client_address()}:{_digest(_email())}"


def _failed(response: Response) -> bool:
    return response.status_code == 401


@dataclass(frozen=True)
class RouteLimit:
    limit: str
    key: KeyFunc
    methods: tuple[str, ...] | None = None
    only_failures: bool = False
    message: str = "too many requests: slow down and try again shortly"


def route_limits(settings: Settings) -> dict[str, tuple[RouteLimit, ...]]:
    """Endpoint: its limits. Counts are per minute unless the limit says otherwise."""
    chat_turns = (
        RouteLimit(settings.limit_visitor_messages, visitor_key),
        RouteLimit(settings.limit_address_messages, client_address),
    )
    polls = (RouteLimit(settings.limit_visitor_polls, visitor_key),)
    post = ("POST",)
    return {
        "webchat.visitor_token": (RouteLimit(settings.limit_address_visitors, client_address),),
        "webchat.inbound_message": chat_turns,
        "rasa.webhook": chat_turns,
        "webchat.poll": polls,
        "webchat.history": polls,
        "console.login": (
            RouteLimit(
                "5 per 15 minutes",
                address_and_email_key,
                post,
                only_failures=True,
                message="Too many attempts from here: try again in 15 minutes.",
            ),
            RouteLimit(settings.limit_address_signins, client_address, post),
        ),
        "console.reset_request": (
            RouteLimit("3 per hour", email_key, post),
            RouteLimit("10 per hour", client_address, post),
        ),
        "console.signup": (RouteLimit("10 per hour", client_address, post),),
    }


API_PREFIX = "api."


def register_limits(app: Flask, settings: Settings) -> Limiter:
    """Attach the limits to the app's endpoints (after its blueprints are registered)."""
    limiter = Limiter(
        key_func=client_address,
        app=app,
        storage_uri=settings.redis_url or "memory://",
        # Per deployment: the processes of one service share their counts, tests do not.
        key_prefix=f"imaradesk-limits:{_digest(str(settings.data_dir.resolve()))}",
        strategy="moving-window",
        headers_enabled=True,
        enabled=settings.rate_limits,
        # A Redis outage must not take the public surface down with it.
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        on_breach=lambda _limit: RATE_LIMITED.labels(endpoint=request.endpoint or "").inc(),
    )
    limits = route_limits(settings)
    for endpoint, view in list(app.view_functions.items()):
        chosen = limits.get(endpoint)
        if chosen is None and endpoint.startswith(API_PREFIX):
            chosen = (RouteLimit(settings.limit_api_token, api_token_key),)
        for rule in chosen or ():
            view = limiter.limit(
                rule.limit,
                key_func=rule.key,
                methods=list(rule.methods) if rule.methods else None,
                deduct_when=_failed if rule.only_failures else None,
                error_message=rule.message,
            )(view)
        app.view_functions[endpoint] = view
    return limiter
