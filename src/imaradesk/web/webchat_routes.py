"""The JSON web-chat endpoint."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request

from imaradesk.channels.webchat import WebChatChannel
from imaradesk.web.common import converse, organization_or_404

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
    return jsonify(channel.render(converse(channel, payload, org)))
