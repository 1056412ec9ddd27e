"""JSON errors for every HTTP failure; unexpected ones are logged with their traceback."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from imaradesk.storage.locks import LockTimeout

log = logging.getLogger(__name__)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if request.path.startswith("/console"):
            # People get a page; machines (webhooks, the web chat) get JSON below.
            page = render_template("console/message.html", title=error.name, text=error.description)
            return page, error.code or 500
        description = error.description
        if isinstance(error, RequestEntityTooLarge):
            description = "the request body is too large"
        response = jsonify(error=error.name.lower().replace(" ", "_"), message=description)
        response.status_code = error.code or 500
        # Allow (405), WWW-Authenticate (401), Retry-After (429/503) belong to the answer too.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(LockTimeout)
    def _busy(_error: LockTimeout):
        # Providers retry a 503; the retry is deduplicated by its message id.
        response = jsonify(error="busy", message="the conversation is busy, retry shortly")
        response.status_code = 503
        response.headers["Retry-After"] = "2"
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error")
        response = jsonify(error="internal_error", message="something went wrong on our side")
        response.status_code = 500
        return response
