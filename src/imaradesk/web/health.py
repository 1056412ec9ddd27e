"""Liveness and readiness."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, url_for
from flask.typing import ResponseReturnValue

from imaradesk.storage.liveness import check_database
from imaradesk.web.common import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    svc = services()
    check_database(svc.database)
    if svc.redis is not None:
        svc.redis.ping()
    return jsonify(status="ok")


@bp.get("/")
def home() -> ResponseReturnValue:
    """Where a newcomer lands: the demo chat if there is one, else the console."""
    if services().organizations.by_slug("demo") is not None:
        return redirect(url_for("webchat.page", org_slug="demo"))
    return redirect(url_for("console.login"))
