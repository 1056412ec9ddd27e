"""Helpers shared by the blueprints."""

from __future__ import annotations

import math
from typing import Any

from flask import abort, current_app, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import TooManyRequests, Unauthorized

from imaradesk.channels.base import Channel, MalformedRequest
from imaradesk.channels.messages import OutboundMessage
from imaradesk.channels.visitor_identity import Visitor, VisitorRefused
from imaradesk.runtime.metrics import RATE_LIMITED
from imaradesk.services import Services
from imaradesk.storage.models import Organization
from imaradesk.tenants.quotas import Admission


def services() -> Services:
    return current_app.extensions["imaradesk"]


def organization_or_404(slug: str) -> Organization:
    org = services().organizations.by_slug(slug)
    if org is None:
        abort(404, description=f"unknown organization {slug!r}")
    if org.data_destroyed_at is not None:
        abort(410, description=f"organization {slug!r} no longer exists")
    return org


def public_url(path_and_query: str | None = None) -> str:
    """The URL as the provider called it, for signature checks and callback URLs.

    A configured public base URL wins; otherwise the request's own URL, which reflects
    X-Forwarded-* headers only when a trusted proxy count is configured (ProxyFix).
    """
    if path_and_query is None:
        query = request.query_string.decode("latin-1")
        path_and_query = request.path + (f"?{query}" if query else "")
    base = services().settings.public_base_url
    if base:
        return base.rstrip("/") + path_and_query
    return request.host_url.rstrip("/") + path_and_query


def converse(channel: Channel, payload: Any, org: Organization) -> list[OutboundMessage]:
    """Parse a provider payload (400 if unusable) and let the bot answer every message in it."""
    svc = services()
    try:
        messages = channel.parse(payload, org_slug=org.slug, received_at=svc.clock.now())
    except MalformedRequest as e:
        abort(400, description=str(e))
    replies: list[OutboundMessage] = []
    for message in messages:
        replies.extend(svc.dialogue.handle(org, message).replies)
    return replies


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header, if the request has one."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def visitor_or_401(org: Organization, token: str | None) -> Visitor:
    """The web-chat or Rasa REST visitor ``token`` names; 401 unless it is ours and the org's."""
    assert org.id is not None
    if not token:
        raise _unauthorized(
            f"a visitor token is required: POST /channels/webchat/{org.slug}/visitors gives one"
        )
    try:
        return services().visitors.verify(token, org_id=org.id)
    except VisitorRefused as e:
        raise _unauthorized(str(e)) from e


def _unauthorized(description: str) -> Unauthorized:
    return Unauthorized(description, www_authenticate=WWWAuthenticate("bearer"))


def within_quota(admission: Admission, what: str) -> None:
    """Refuse with 429 and Retry-After when an organization's quota has no room (clients that
    can retry only: signed provider messages are kept instead)."""
    if admission.allowed:
        return
    RATE_LIMITED.labels(endpoint=request.endpoint or "").inc()
    raise TooManyRequests(
        f"this organization's {what} quota is used up for now: retry shortly",
        retry_after=max(1, math.ceil(admission.retry_after.total_seconds())),
    )
