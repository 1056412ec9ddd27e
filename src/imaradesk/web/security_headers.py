"""Response headers every browser-facing page needs, set in one place."""

from __future__ import annotations

from flask import Flask, Response, request

# Pages where a signed-in agent or a customer's own data is shown: never inside another site's
# frame (clickjacking). The web-chat page stays embeddable: businesses put it on their sites.
_UNFRAMEABLE_BLUEPRINTS = frozenset({"console", "knowledge", "privacy"})


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if request.blueprint in _UNFRAMEABLE_BLUEPRINTS:
            headers.setdefault("X-Frame-Options", "DENY")
            headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        return response
