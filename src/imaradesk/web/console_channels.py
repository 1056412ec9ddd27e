"""The channels page of the console (admins): the WhatsApp Cloud API connection, the approved
templates (synced from Meta), and the web chat's embed code.

Secrets are write-only here: the form says whether each is stored, never what it is.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from imaradesk.delivery.template_sync import TemplateSyncError
from imaradesk.tenants.meta_connection import (
    SECRET_FIELDS,
    MetaSettingsInvalid,
    disconnected,
    is_connected,
    meta_changes,
)
from imaradesk.web.common import services
from imaradesk.web.console import _org, roles

bp = Blueprint("channels", __name__, url_prefix="/console/channels")


def _page(error: str | None = None) -> Any:
    org = _org()
    base = request.host_url.rstrip("/")
    return render_template(
        "console/channels.html",
        org=org,
        meta_connected=is_connected(org),
        stored={c: bool(getattr(org, c)) for c in SECRET_FIELDS},
        webhook_url=f"{base}{url_for('meta.notification', org_slug=org.slug)}",
        widget_url=f"{base}{url_for('static', filename='widget.js')}",
        templates=services().outbound.templates(org),
        error=error,
    ), 400 if error else 200


@bp.get("")
@roles("admin")
def page() -> Any:
    return _page()


@bp.post("/meta")
@roles("admin")
def meta() -> Any:
    org = _org()
    form = request.form
    try:
        changes = meta_changes(
            org,
            phone_number_id=form.get("phone_number_id"),
            waba_id=form.get("waba_id"),
            secrets={c: form.get(c, "") for c in SECRET_FIELDS},
        )
    except MetaSettingsInvalid as e:
        return _page(f"{e}. Nothing was changed.")
    services().organizations.update(
        org.id,  # type: ignore[arg-type]
        **changes,  # type: ignore[arg-type]
        fetch_media=form.get("fetch_media") == "on",
    )
    flash("WhatsApp Cloud API settings saved.")
    return redirect(url_for("channels.page"))


@bp.post("/meta/off")
@roles("admin")
def meta_off() -> Any:
    services().organizations.update(_org().id, **disconnected())  # type: ignore[arg-type]
    flash("The WhatsApp Cloud API is disconnected; its number and secrets are forgotten.")
    return redirect(url_for("channels.page"))


@bp.post("/templates/sync")
@roles("admin")
def sync_templates() -> Any:
    try:
        report = services().template_sync.sync(_org())
    except TemplateSyncError as e:
        return _page(f"{e}.")
    flash(
        f"{report.approved} approved at Meta: {report.added} added, {report.updated} updated, "
        f"{report.removed} removed."
    )
    return redirect(url_for("channels.page"))
