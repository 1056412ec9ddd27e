"""The Flask app factory: builds the services and registers the blueprints; nothing else."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from imaradesk.services import Services, build_services
from imaradesk.settings import Settings
from imaradesk.web import health, privacy_routes, twilio_routes, webchat_routes
from imaradesk.web.errors import register_error_handlers


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Flask:
    if services is None:
        services = build_services(settings or Settings())
    settings = services.settings
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_request_bytes,
        SECRET_KEY=settings.secret_key.get_secret_value(),
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if settings.trusted_proxy_count:
        n = settings.trusted_proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)  # type: ignore[method-assign]
    app.extensions["imaradesk"] = services
    for blueprint in (health.bp, twilio_routes.bp, webchat_routes.bp, privacy_routes.bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    return app
