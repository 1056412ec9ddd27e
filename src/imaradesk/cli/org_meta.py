"""``imaradesk org meta``: an organization's WhatsApp number on Meta's Cloud API."""

from __future__ import annotations

import getpass
import os

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, pass_ctx
from imaradesk.tenants.meta_connection import (
    MetaSettingsInvalid,
    disconnected,
    is_connected,
    meta_changes,
)

_SECRETS = {
    "meta_app_secret": ("app_secret_env", "App secret (signs Meta's webhooks)"),
    "meta_access_token": ("access_token_env", "Access token (Graph API)"),
    "meta_verify_token": ("verify_token_env", "Verify token (webhook handshake)"),
}


@click.command("meta")
@click.option("--org", "slug", required=True, help="The organization's slug.")
@click.option("--phone-number-id", default=None, help="The WhatsApp number's id at Meta.")
@click.option("--waba-id", default=None, help="The WhatsApp Business Account id.")
@click.option("--app-secret-env", metavar="VAR", default=None)
@click.option("--access-token-env", metavar="VAR", default=None)
@click.option("--verify-token-env", metavar="VAR", default=None)
@click.option(
    "--fetch-media/--no-fetch-media",
    default=None,
    help="Keep customers' media files (sealed) so agents can play voice notes in the console.",
)
@click.option("--off", is_flag=True, help="Disconnect: forget the number and every secret.")
@pass_ctx
def org_meta(
    ctx: _Context,
    slug: str,
    phone_number_id: str | None,
    waba_id: str | None,
    fetch_media: bool | None,
    off: bool,
    **secret_envs: str | None,
) -> None:
    """Connect an organization's WhatsApp number through Meta's Cloud API, or show it.

    Secrets come from the named environment variables or, when a number is being connected
    without them, a hidden prompt: never from the command line. They are stored encrypted.
    Meta's webhook URL is then /channels/meta/SLUG/webhook.
    """
    services = ctx.services
    organization = _org_or_exit(services, slug)
    assert organization.id is not None
    if off:
        services.organizations.update(organization.id, **disconnected())  # type: ignore[arg-type]
        console.print(f"{slug}: the WhatsApp Cloud API is disconnected.")
        return
    if fetch_media is not None:
        services.organizations.update(organization.id, fetch_media=fetch_media)
        console.print(f"{slug}: customers' media {'kept' if fetch_media else 'not kept'}.")
    if phone_number_id is None and waba_id is None and not any(secret_envs.values()):
        if fetch_media is not None:
            return
        state = (
            f"number {organization.meta_phone_number_id}"
            if is_connected(organization)
            else "not connected"
        )
        console.print(f"{slug}: WhatsApp Cloud API {state}.")
        return
    secrets: dict[str, str] = {}
    for column, (option, label) in _SECRETS.items():
        variable = secret_envs.get(option)
        if variable:
            value = os.environ.get(variable, "").strip()
            if not value:
                raise click.ClickException(f"${variable} is empty or not set")
        elif phone_number_id is not None and not getattr(organization, column):
            value = getpass.getpass(f"{label}: ").strip()
            if not value:
                raise click.ClickException(f"{label} is required")
        else:
            continue
        secrets[column] = value
    try:
        changes = meta_changes(
            organization, phone_number_id=phone_number_id, waba_id=waba_id, secrets=secrets
        )
    except MetaSettingsInvalid as e:
        raise click.BadParameter(str(e)) from e
    services.organizations.update(organization.id, **changes)  # type: ignore[arg-type]
    console.print(
        f"{slug}: WhatsApp Cloud API set ({', '.join(sorted(changes))}). "
        f"Webhook: POST /channels/meta/{slug}/webhook"
    )
