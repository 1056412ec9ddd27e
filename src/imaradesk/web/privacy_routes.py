"""The customer's own data, behind the short-lived signed link the chat gave them."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, request

from imaradesk.compliance.subject_export import ExportLinkExpired, ExportLinkInvalid, render_html
from imaradesk.storage.encryption import KeyDestroyed
from imaradesk.web.common import services

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
    except ExportLinkExpired as e:
        abort(410, description=f"{e}; ask for your data again in the chat")
    except ExportLinkInvalid:
        abort(404, description="no such export")
    except KeyDestroyed:  # the organization's data was destroyed after the link was made
        abort(410, description="this export no longer exists")
    if request.args.get("format") == "html":
        return Response(render_html(export), mimetype="text/html", headers=_PRIVATE)
    body = json.dumps(export, ensure_ascii=False, indent=2)
    headers = {**_PRIVATE, "Content-Disposition": 'attachment; filename="my-data.json"'}
    return Response(body, mimetype="application/json", headers=headers)
