"""``imaradesk contact``: contacts."""

from __future__ import annotations

import getpass

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, pass_ctx
from imaradesk.compliance.retention import RetentionError


@click.group("contact")
def contact() -> None:
    """Contacts."""


@contact.command("flag-minor")
@click.option("--org", "org_slug", required=True)
@click.argument("contact_id", type=int)
@pass_ctx
def contact_flag_minor(ctx: _Context, org_slug: str, contact_id: int) -> None:
    """Mark a contact as under 18; schedules the review of their erasure."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    try:
        due = services.stewardship.flag_minor(org, contact_id, actor=f"admin:{getpass.getuser()}")
    except RetentionError as e:
        raise click.ClickException(str(e)) from e
    console.print(f"Contact #{contact_id} flagged as a minor; erasure review due {due:%Y-%m-%d}.")
