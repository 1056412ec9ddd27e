"""Meta's WhatsApp Cloud API webhook: the verification handshake, then signed notifications.

A notification is acknowledged at once and its messages answered from the background turn
worker through the Graph API: Meta waits for no reply in the webhook's answer, and retries a
slow one for days.
"""

from __future__ import annotations

import hmac
import logging
import re

from flask import Blueprint, Response, abort, jsonify, request

from imaradesk.channels.base import MalformedRequest, SignatureInvalid
from imaradesk.channels.messages import Reaction
from imaradesk.channels.meta import CONVERSATION_CHANNEL, MetaCloudChannel, verify_signature
from imaradesk.runtime.metrics import SIGNATURE_FAILURES
from imaradesk.web.common import organization_or_404, services
from imaradesk.web.request_json import loads_request_json

log = logging.getLogger(__name__)
bp = Blueprint("meta", __name__)
channel = MetaCloudChannel()  # parsing only: sending is the registry's
_CHALLENGE = re.compile(r"[A-Za-z0-9_.-]{1,200}")


@bp.get("/channels/meta/<org_slug>/webhook")
def verify(org_slug: str) -> Response:
    """Meta's subscription check: echo ``hub.challenge`` when the verify token is the org's."""
    org = organization_or_404(org_slug)
    if not org.meta_verify_token:
        abort(403, description="the WhatsApp Cloud API is not configured for this organization")
    token = request.args.get("hub.verify_token", "")
    if request.args.get("hub.mode") != "subscribe" or not hmac.compare_digest(
        token.encode(), org.meta_verify_token.encode()
    ):
        abort(403, description="the verify token does not match")
    challenge = request.args.get("hub.challenge", "")
    if not _CHALLENGE.fullmatch(challenge):
        abort(400, description="hub.challenge is missing or malformed")
    return Response(challenge, mimetype="text/plain")


@bp.post("/channels/meta/<org_slug>/webhook")
def notification(org_slug: str) -> tuple[Response, int]:
    org = organization_or_404(org_slug)
    assert org.id is not None
    if not org.meta_app_secret:
        abort(403, description="the WhatsApp Cloud API is not configured for this organization")
    body = request.get_data(cache=False)  # reading it enforces the body size limit (413)
    try:
        verify_signature(
            app_secret=org.meta_app_secret,
            body=body,
            header=request.headers.get("X-Hub-Signature-256"),
        )
    except SignatureInvalid as e:
        SIGNATURE_FAILURES.labels(channel="meta").inc()
        log.warning(
            "rejected a Meta request",
            extra={"org_id": org.id, "reason": str(e), "client": request.remote_addr},
        )
        abort(403, description=str(e))
    try:
        payload = loads_request_json(body)
    except ValueError as e:
        abort(400, description=f"the body is not valid JSON: {e}")
    svc = services()
    try:
        messages = channel.parse(payload, org_slug=org.slug, received_at=svc.clock.now())
        statuses = channel.parse_statuses(payload)
    except MalformedRequest as e:
        abort(400, description=str(e))
    for status in statuses:
        svc.deliveries.record(org.id, CONVERSATION_CHANNEL, status)
    # Before the turns: they must find the contact these identifiers now name.
    for event in channel.parse_events(payload, phone_number_id=org.meta_phone_number_id):
        if isinstance(event, Reaction):
            svc.deliveries.record_reaction(org.id, event)
        else:
            svc.identities.apply(org, event)
    ours = [m for m in messages if m.recipient_id == org.meta_phone_number_id]
    if len(ours) < len(messages):
        # Another number's messages (an app serving several): never this organization's turns.
        log.warning(
            "ignored messages to another WhatsApp number",
            extra={"org_id": org.id, "count": len(messages) - len(ours)},
        )
    for message in ours:
        svc.background_turns.accept(org, message)
    return jsonify(messages=len(ours), statuses=len(statuses)), 200
