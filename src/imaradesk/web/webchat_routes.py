"""The JSON web-chat endpoints and the ready-made chat page.

Every read and write of a conversation needs the visitor token of
``POST /channels/webchat/<org>/visitors`` (channels/visitor_identity.py) as
``Authorization: Bearer``: the token, not a ``sender`` the client names, says whose
conversation it is. Widgets run on the organization's own site, so these endpoints allow
cross-origin calls; they set and read no cookies, so a foreign page gains nothing by calling
them without the token.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from imaradesk.channels.visitor_identity import IdentityRefused
from imaradesk.channels.webchat import WebChatChannel
from imaradesk.runtime.i18n import LANGUAGES, N_, language_name, translate
from imaradesk.storage.models import Direction, Message
from imaradesk.web.common import (
    bearer_token,
    converse,
    organization_or_404,
    services,
    visitor_or_401,
    within_quota,
)
from imaradesk.web.locale import page_language
from imaradesk.web.waiting_polls import WaitingPolls

bp = Blueprint("webchat", __name__)
channel = WebChatChannel()
# What a reloaded chat shows again: enough for the conversation so far, bounded for the server.
HISTORY_LIMIT = 100
# The words of the embeddable widget (static/widget.js), from the product's catalogs.
WIDGET_WORDS = {
    "launcher": N_("Chat"),
    "open": N_("Open the chat with {organization}"),
    "close": N_("Close the chat"),
    "title": N_("Chat with {organization}"),
    "message": N_("Your message"),
    "placeholder": N_("Ask a question…"),
    "send": N_("Send"),
    "failed": N_("Something went wrong."),
    "source": N_("from:"),
}


@bp.after_request
def _allow_widgets_elsewhere(response: Response) -> Response:
    if request.path.startswith("/channels/webchat/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
    return response


@bp.post("/channels/webchat/<org_slug>/visitors")
def visitor_token(org_slug: str) -> tuple[Response, int]:
    """A visitor token: new, renewed (with the current one as bearer), or for a customer the
    organization's server vouches for (``{"user_id", "user_hash"}``)."""
    org = organization_or_404(org_slug)
    assert org.id is not None
    tokens = services().visitors
    payload = _json_object(required=False)
    if "user_id" in payload or "user_hash" in payload:
        user_id, user_hash = payload.get("user_id"), payload.get("user_hash")
        if not isinstance(user_id, str) or not isinstance(user_hash, str):
            abort(400, description='"user_id" and "user_hash" must both be strings')
        try:
            token, visitor = tokens.identified(
                org.id,
                user_id=user_id,
                user_hash=user_hash,
                identity_secret=org.webchat_identity_secret,
            )
        except IdentityRefused as e:
            abort(403, description=str(e))
    elif (current := bearer_token()) is not None:
        token, visitor = tokens.renew(visitor_or_401(org, current))
    else:
        within_quota(services().quotas.admit_visitor(org), "new visitors")
        token, visitor = tokens.new_visitor(org.id)
    body = {"token": token, "expires_in": tokens.max_age_seconds, "identified": visitor.identified}
    return jsonify(body), 201


@bp.post("/channels/webchat/<org_slug>/messages")
def inbound_message(org_slug: str) -> Response:
    org = organization_or_404(org_slug)
    visitor = visitor_or_401(org, bearer_token())
    payload = _json_object(required=True)
    within_quota(services().quotas.admit_message(org), "messages")
    # Whatever "sender" the client wrote, the conversation is the token's.
    payload["sender"] = visitor.address
    return jsonify(channel.render(converse(channel, payload, org)))


@bp.get("/channels/webchat/<org_slug>/messages")
def poll(org_slug: str) -> Response:
    """What a person wrote to this visitor since ``after`` (a message id); with ``wait``
    (seconds), the poll waits for it (web/waiting_polls.py)."""
    org = organization_or_404(org_slug)
    visitor = visitor_or_401(org, bearer_token())
    after = request.args.get("after", "0")
    wait = request.args.get("wait", "0")
    if not re.fullmatch(r"[0-9]{1,18}", after):
        abort(400, description='"after" must be a message id')
    if not re.fullmatch(r"[0-9]{1,3}", wait):
        abort(400, description='"wait" must be a number of seconds')
    outbound = services().outbound

    def fetch() -> list[Message]:
        return outbound.poll_since(
            org, channel=channel.name, address=visitor.address, after_id=int(after)
        )

    polls: WaitingPolls = current_app.extensions["imaradesk_waiting_polls"]
    messages, waited = polls.collect(fetch, wait=float(wait))
    return jsonify({"messages": [_shown(m) for m in messages], "waited": waited})


@bp.get("/channels/webchat/<org_slug>/history")
def history(org_slug: str) -> Response:
    """The visitor's conversation so far, oldest first (the last messages of it)."""
    org = organization_or_404(org_slug)
    visitor = visitor_or_401(org, bearer_token())
    messages = services().outbound.history(
        org, channel=channel.name, address=visitor.address, limit=HISTORY_LIMIT
    )
    return jsonify({"messages": [_shown(m) for m in messages]})


@bp.get("/channels/webchat/<org_slug>/widget")
def widget(org_slug: str) -> Response:
    """What the embeddable widget writes, in the visitor's language (their browser's, or
    ``?lang=``); public: it names only the organization."""
    org = organization_or_404(org_slug)
    language = page_language()
    words = {
        key: translate(language, text, organization=org.name) for key, text in WIDGET_WORDS.items()
    }
    return jsonify({"organization": org.name, "language": language, "strings": words})


@bp.get("/chat/<org_slug>")
def page(org_slug: str) -> str:
    """A ready-made web chat for the organization's site (or to try the bot)."""
    org = organization_or_404(org_slug)
    # Each language offered under its own name: "English", "Kiswahili".
    languages = [(code, language_name(code, in_language=code)) for code in LANGUAGES]
    return render_template("webchat.html", org=org, language=page_language(), languages=languages)


def _shown(message: Message) -> dict[str, Any]:
    if message.direction == Direction.INBOUND:
        author = "you"
    else:
        author = "agent" if message.agent_id else "assistant"
    return {"id": message.id, "text": message.body, "kind": message.kind, "from": author}


def _json_object(*, required: bool) -> dict[str, Any]:
    """The request's JSON object (400 when it is not one); an empty body is ``{}`` unless
    ``required``."""
    if not required and not request.get_data(cache=True).strip():
        return {}
    if not request.is_json:
        abort(400, description="send JSON with Content-Type: application/json")
    payload = request.get_json(silent=True)
    if payload is None:
        abort(400, description="the body is not valid JSON")
    if not isinstance(payload, dict):
        abort(400, description="the body must be a JSON object")
    return dict(payload)
