"""``imaradesk template``: approved WhatsApp templates, for replies after the 24-hour window."""

from __future__ import annotations

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, pass_ctx
from imaradesk.console.setup import DeskSetup, SetupError


@click.command("template")
@click.option("--org", "org_slug", required=True)
@click.option("--name", required=True)
@click.option(
    "--content-sid", required=True, help="The approved template's Twilio Content SID (HX...)."
)
@click.option("--body", required=True, help="Its text, as agents will see it.")
@pass_ctx
def template_add(ctx: _Context, org_slug: str, name: str, content_sid: str, body: str) -> None:
    """Add an approved WhatsApp template for replies after the 24-hour window."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    try:
        DeskSetup(services.database).add_template(
            org.id, name=name, content_sid=content_sid, body=body
        )  # type: ignore[arg-type]
    except SetupError as e:
        raise click.ClickException(str(e)) from e
    console.print(f"Template {name} added.")
