"""Twilio webhooks: inbound WhatsApp/SMS messages and delivery status callbacks."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, request, url_for
from werkzeug.datastructures import ImmutableMultiDict

from imaradesk.channels.base import MalformedRequest, SignatureInvalid
from imaradesk.channels.twilio import TwilioChannel, parse_status, verify_signature
from imaradesk.runtime.metrics import SIGNATURE_FAILURES
from imaradesk.storage.models import Organization
from imaradesk.web.common import converse, organization_or_404, public_url, services

log = logging.getLogger(__name__)
bp = Blueprint("twilio", __name__)
channel = TwilioChannel()


def _verified_form(org: Organization) -> ImmutableMultiDict[str, str]:
    if not org.twilio_auth_token:
        abort(403, description="the Twilio channel is not configured for this organization")
    form = request.form  # reading it enforces the body size limit (413)
    try:
        verify_signature(
            auth_token=org.twilio_auth_token,
            url=public_url(),
            params=form,
            signature=request.headers.get("X-Twilio-Signature"),
            signature_settings=request.headers.get("X-Twilio-Webhooks-Signature-Settings"),
        )
    except SignatureInvalid as e:
        SIGNATURE_FAILURES.labels(channel="twilio").inc()
        log.warning(
            "rejected a Twilio request",
            extra={"org_id": org.id, "reason": str(e), "client": request.remote_addr},
        )
        abort(403, description=str(e))
    account = form.get("AccountSid")
    if org.twilio_account_sid and account and account != org.twilio_account_sid:
        # Signed with this organization's token but sent for another account: not ours.
        abort(403, description="the request is for another Twilio account")
    return form


@bp.post("/channels/twilio/<org_slug>/messages")
def inbound_message(org_slug: str) -> Response:
    org = organization_or_404(org_slug)
    form = _verified_form(org)
    svc = services()
    slowly = svc.dialogue.writes_slowly(org)
    # Over the organization's quota the message is kept and answered when the quota allows.
    later = svc.background_turns.over_quota(org, _conversation_channel(form))
    if slowly or later is not None:
        # An LLM may take seconds: acknowledge now, answer through the REST API from a worker.
        try:
            messages = channel.parse(form, org_slug=org.slug, received_at=svc.clock.now())
        except MalformedRequest as e:
            abort(400, description=str(e))
        for message in messages:
            svc.background_turns.submit(org, message, not_before=later)
        return Response(channel.render([]), mimetype="application/xml")
    replies = converse(channel, form, org)
    status_url = public_url(url_for("twilio.delivery_status", org_slug=org.slug))
    return Response(channel.render(replies, status_url=status_url), mimetype="application/xml")


@bp.post("/channels/twilio/<org_slug>/status")
def delivery_status(org_slug: str) -> Response:
    org = organization_or_404(org_slug)
    form = _verified_form(org)
    try:
        callback = parse_status(form, request.args)
    except MalformedRequest as e:
        abort(400, description=str(e))
    assert org.id is not None
    services().deliveries.record(org.id, _conversation_channel(form), callback)
    return Response(status=204)


def _conversation_channel(form: ImmutableMultiDict[str, str]) -> str:
    # Either party of a WhatsApp message is a whatsapp: address; SMS numbers are bare.
    parties = f"{form.get('From', '')} {form.get('To', '')}"
    return "whatsapp" if "whatsapp:" in parties else "sms"
