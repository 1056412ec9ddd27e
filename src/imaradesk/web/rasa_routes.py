"""The Rasa-compatible REST endpoint: ``POST /channels/rasa/<org>/webhook``.

Public like the web chat: it answers only from the named organization's knowledge, and only a
visitor with a token of ours (``POST /channels/webchat/<org>/visitors``) is heard, sent as
``Authorization: Bearer`` or as the ``sender`` itself (Rasa widgets let the page choose the
sender, not always the headers). A sender string that is not a token is no identity: anyone
could type another visitor's. Widgets usually live on the organization's own site, so the
endpoint allows cross-origin calls; it sets and reads no cookies (so no CSRF either). Rasa's
REST channel has no push, so what an agent wrote since the customer's last message comes with
the next answer.
"""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, Response, abort, jsonify, request

from imaradesk.channels.base import MalformedRequest
from imaradesk.channels.messages import OutboundMessage, ReplyKind
from imaradesk.channels.rasa_rest import MessageTooLong, RasaRestChannel
from imaradesk.storage.models import Organization
from imaradesk.web.common import (
    bearer_token,
    organization_or_404,
    services,
    visitor_or_401,
    within_quota,
)
from imaradesk.web.request_json import loads_request_json

bp = Blueprint("rasa", __name__)
channel = RasaRestChannel()


@bp.after_request
def _allow_widgets_elsewhere(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
    return response


@bp.post("/channels/rasa/<org_slug>/webhook")
def webhook(org_slug: str) -> Response:
    org = organization_or_404(org_slug)
    # Rasa's server reads the body as JSON whatever its Content-Type; widgets rely on that.
    raw = request.get_data(cache=False)
    if not raw.strip():
        abort(400, description='send a JSON object {"sender", "message"}')
    try:
        payload = loads_request_json(raw)
    except ValueError as e:
        abort(400, description=f"the body is not valid JSON: {e}")
    svc = services()
    try:
        messages = channel.parse(payload, org_slug=org.slug, received_at=svc.clock.now())
    except MessageTooLong as e:
        # Not abort(413): the error handler words every 413 as a too-large body.
        too_long = jsonify(error="request_entity_too_large", message=str(e))
        too_long.status_code = 413
        return too_long
    except MalformedRequest as e:
        abort(400, description=str(e))
    sender = messages[0].sender_id
    visitor = visitor_or_401(org, bearer_token() or sender)
    within_quota(svc.quotas.admit_message(org), "messages")
    # The conversation is the token's visitor's, whatever the sender field said.
    messages = [replace(m, sender_id=visitor.address) for m in messages]
    replies: list[OutboundMessage] = []
    for message in messages:
        replies.extend(svc.dialogue.handle(org, message).replies)
    waiting = _agent_messages(org, visitor.address)
    return jsonify(channel.render(waiting + replies, recipient_id=sender))


def _agent_messages(org: Organization, sender: str) -> list[OutboundMessage]:
    """What a person wrote to this sender that they have not received yet; now delivered."""
    rows = services().outbound.poll_waiting(org, channel=channel.name, address=sender)
    return [OutboundMessage(r.body, ReplyKind.HANDOFF) for r in rows]
