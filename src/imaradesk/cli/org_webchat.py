"""``imaradesk org webchat``: the secret that signs an organization's signed-in customers."""

from __future__ import annotations

import os
import secrets

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, pass_ctx


@click.command("webchat")
@click.option("--org", "slug", required=True, help="The organization's slug.")
@click.option(
    "--identity-secret-env",
    metavar="VAR",
    default=None,
    help="Read the identity secret from this environment variable.",
)
@click.option(
    "--generate-identity-secret",
    is_flag=True,
    help="Make a new random identity secret and print it once (for the organization's server).",
)
@click.option(
    "--no-identity-secret",
    is_flag=True,
    help="Remove it: every web-chat visitor is anonymous again.",
)
@pass_ctx
def org_webchat(
    ctx: _Context,
    slug: str,
    identity_secret_env: str | None,
    generate_identity_secret: bool,
    no_identity_secret: bool,
) -> None:
    """Set how the web chat trusts customers signed in on the organization's own site.

    The organization's server sends the widget ``user_id`` and ``user_hash``, the hex
    HMAC-SHA256 of the id under this secret; the widget trades them for a visitor token whose
    conversation follows the customer across devices. The secret is stored encrypted and never
    taken on the command line.
    """
    services = ctx.services
    organization = _org_or_exit(services, slug)
    chosen = sum([identity_secret_env is not None, generate_identity_secret, no_identity_secret])
    if chosen == 0:
        state = "set" if organization.webchat_identity_secret else "not set"
        console.print(f"{slug}: web-chat identity secret {state}.")
        return
    if chosen > 1:
        raise click.UsageError(
            "choose one of --identity-secret-env, --generate-identity-secret, --no-identity-secret"
        )
    assert organization.id is not None
    if no_identity_secret:
        services.organizations.update(organization.id, webchat_identity_secret=None)
        console.print(f"{slug}: identity secret removed; visitors are anonymous.")
        return
    if generate_identity_secret:
        secret = secrets.token_urlsafe(32)
    else:
        assert identity_secret_env is not None
        secret = os.environ.get(identity_secret_env, "").strip()
        if not secret:
            raise click.ClickException(f"${identity_secret_env} is empty or not set")
        if len(secret) < 16:
            raise click.ClickException("an identity secret needs at least 16 characters")
    services.organizations.update(organization.id, webchat_identity_secret=secret)
    if generate_identity_secret:
        # Printed once: it is stored encrypted and never shown again.
        click.echo(secret)
    console.print(f"{slug}: identity secret set; signed-in customers keep their history.")
