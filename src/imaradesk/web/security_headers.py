"""Response headers every browser-facing page needs, set in one place."""

from __future__ import annotations

from flask import Flask, Response, request

# Pages where a signed-in agent or a customer's own data is shown: never inside another site's
# frame (clickjacking). The web-chat page stays embeddable: businesses put it on their sites.
_UNFRAMEABLE_BLUEPRINTS = frozenset({"console", "knowledge", "channels", "privacy"})
# Scripts only from our origin (no inline script, so an injected one cannot run); styles may
# be inline (htmx adds its indicator style); media and images are ours (customers' files are
# served from the console itself); forms post only back to us.
CONSOLE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"


def register_security_headers(app: Flask, *, production: bool) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if production:
            # Production is served over HTTPS (behind the proxy): browsers keep to it.
            headers.setdefault("Strict-Transport-Security", HSTS)
        if request.blueprint in _UNFRAMEABLE_BLUEPRINTS:
            headers.setdefault("X-Frame-Options", "DENY")
            headers.setdefault("Content-Security-Policy", CONSOLE_POLICY)
        return response
