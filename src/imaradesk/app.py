"""The Flask app factory: builds the services and registers the blueprints; nothing else."""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask_openapi3 import Info, OpenAPI
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from imaradesk.services import Services, build_services
from imaradesk.settings import Settings
from imaradesk.web import (
    console,
    console_channels,
    console_knowledge,
    health,
    meta_routes,
    metrics_routes,
    privacy_routes,
    twilio_routes,
    webchat_routes,
)
from imaradesk.web.api import api
from imaradesk.web.errors import register_error_handlers
from imaradesk.web.limits import register_limits
from imaradesk.web.locale import register_locale
from imaradesk.web.metrics_routes import register_metrics
from imaradesk.web.rasa_routes import bp as rasa_bp
from imaradesk.web.request_json import RequestJSONProvider
from imaradesk.web.security_headers import register_security_headers
from imaradesk.web.waiting_polls import WaitingPolls

_UPLOAD_ENDPOINTS = frozenset({"knowledge.page", "api.upload_document"})


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Flask:
    if services is None:
        services = build_services(settings or Settings())
    settings = services.settings
    app = OpenAPI(
        __name__,
        static_folder="web/static",
        info=Info(title="ImaraDesk API", version="1"),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        doc_ui=False,
    )
    app.json = RequestJSONProvider(app)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_request_bytes,
        SECRET_KEY=services.signing_secret,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.environment == "production",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.environment == "production",
        WTF_CSRF_TIME_LIMIT=8 * 3600,
    )
    if settings.trusted_proxy_count:
        n = settings.trusted_proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)  # type: ignore[method-assign]
    app.extensions["imaradesk"] = services
    app.extensions["imaradesk_waiting_polls"] = WaitingPolls(
        capacity=settings.webchat_waiting_polls, max_wait=settings.webchat_poll_wait_seconds
    )

    @app.before_request
    def _upload_limit() -> None:
        # Registered before CSRF, which reads the form: FAQ uploads may exceed the usual limit.
        if request.endpoint in _UPLOAD_ENDPOINTS and request.method == "POST":
            request.max_content_length = settings.max_upload_bytes + 64 * 1024
            # Werkzeug also holds unparsed multipart data under the form memory limit.
            request.max_form_memory_size = settings.max_upload_bytes + 64 * 1024

    csrf = CSRFProtect(app)
    # Providers and widgets authenticate by signature or not at all; people use forms.
    public = (
        health.bp,
        twilio_routes.bp,
        meta_routes.bp,
        webchat_routes.bp,
        privacy_routes.bp,
        rasa_bp,
    )
    for machine_facing in public:
        csrf.exempt(machine_facing)
        app.register_blueprint(machine_facing)
    # Tokens, not cookies, authenticate the API: no CSRF to guard against there.
    csrf.exempt(api)
    app.register_api(api)

    app.add_url_rule(
        "/api/v1/openapi.json", "openapi_document", lambda: jsonify(app.api_doc), methods=["GET"]
    )

    console.login_manager.init_app(app)
    app.register_blueprint(console.bp)
    app.register_blueprint(console_knowledge.bp)
    app.register_blueprint(console_channels.bp)
    register_error_handlers(app)
    register_security_headers(app, production=settings.environment == "production")
    register_locale(app)
    register_metrics(app)
    app.register_blueprint(metrics_routes.bp)
    # Last: it wraps every registered view. Kept: the wrapped views hold it only weakly, and a
    # disabled limiter is not kept by Flask-Limiter itself.
    app.extensions["imaradesk_limiter"] = register_limits(app, settings)
    return app
