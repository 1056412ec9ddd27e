"""The customer's own data, behind the short-lived signed link the chat gave them."""

from __future__ import annotations

import json

from flask import Blueprint, Response, render_template, request

from imaradesk.compliance.subject_export import ExportLinkExpired, ExportLinkInvalid, render_html
from imaradesk.storage.encryption import KeyDestroyed
from imaradesk.web.common import services
from imaradesk.web.locale import page_language

bp = Blueprint("privacy", __name__)
_PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


@bp.get("/privacy/exports/<token>")
def subject_export(token: str) -> Response:
    try:
        _org_id, export = services().exports.read(token)
    except ExportLinkExpired:
        return _gone(expired=True)
    except ExportLinkInvalid:
        return _gone(expired=False)
    except KeyDestroyed:  # the organization's data was destroyed after the link was made
        return _gone(expired=True)
    if request.args.get("format") == "html":
        return Response(render_html(export), mimetype="text/html", headers=_PRIVATE)
    body = json.dumps(export, ensure_ascii=False, indent=2)
    headers = {**_PRIVATE, "Content-Disposition": 'attachment; filename="my-data.json"'}
    return Response(body, mimetype="application/json", headers=headers)


def _gone(*, expired: bool) -> Response:
    """A customer followed a dead link: say so in their language (a page, not JSON)."""
    page = render_template("privacy/link_gone.html", expired=expired, language=page_language())
    return Response(page, status=410 if expired else 404, mimetype="text/html", headers=_PRIVATE)
