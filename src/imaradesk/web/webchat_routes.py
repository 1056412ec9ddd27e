"""The JSON web-chat endpoint."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request

from imaradesk.channels.base import MalformedRequest
from imaradesk.channels.webchat import WebChatChannel
from imaradesk.web.common import organization_or_404, services

bp = Blueprint("webchat", __name__)
channel = WebChatChannel()


@bp.post("/channels/webchat/<org_slug>/messages")
def inbound_message(org_slug: str) -> Response:
    org = organization_or_404(org_slug)
    if not request.is_json:
        abort(400, description="send JSON with Content-Type: application/json")
    payload = request.get_json(silent=True)
    if payload is None:
        abort(400, description="the body is not valid JSON")
    svc = services()
    try:
        messages = channel.parse(payload, org_slug=org.slug, received_at=svc.clock.now())
    except MalformedRequest as e:
        abort(400, description=str(e))
    replies = []
    for message in messages:
        replies.extend(svc.dialogue.handle(org, message).replies)
    return jsonify(channel.render(replies))
