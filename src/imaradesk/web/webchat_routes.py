"""The JSON web-chat endpoint."""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, jsonify, render_template, request

from imaradesk.channels.webchat import WebChatChannel
from imaradesk.runtime.i18n import LANGUAGES, language_name
from imaradesk.web.common import converse, organization_or_404, services
from imaradesk.web.locale import page_language

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


@bp.get("/channels/webchat/<org_slug>/messages")
def poll(org_slug: str) -> Response:
    """What a person wrote to this visitor since ``after`` (a message id)."""
    org = organization_or_404(org_slug)
    sender = request.args.get("sender", "").strip()
    after = request.args.get("after", "0")
    if not sender or len(sender) > 200:
        abort(400, description='"sender" is required')
    if not re.fullmatch(r"[0-9]{1,18}", after):
        abort(400, description='"after" must be a message id')
    messages = services().outbound.poll_since(
        org, channel=channel.name, address=sender, after_id=int(after)
    )
    return jsonify(
        {
            "messages": [
                {
                    "id": m.id,
                    "text": m.body,
                    "kind": m.kind,
                    "from": "agent" if m.agent_id else "assistant",
                }
                for m in messages
            ]
        }
    )


@bp.get("/chat/<org_slug>")
def page(org_slug: str) -> str:
    """A ready-made web chat for the organization's site (or to try the bot)."""
    org = organization_or_404(org_slug)
    # Each language offered under its own name: "English", "Kiswahili".
    languages = [(code, language_name(code, in_language=code)) for code in LANGUAGES]
    return render_template("webchat.html", org=org, language=page_language(), languages=languages)
