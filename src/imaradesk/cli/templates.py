"""``imaradesk template``: approved WhatsApp templates, for replies after the 24-hour window."""

from __future__ import annotations

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, pass_ctx
from imaradesk.console.setup import DeskSetup, SetupError
from imaradesk.delivery.template_sync import TemplateSyncError


@click.command("template")
@click.option("--org", "org_slug", required=True)
@click.option(
    "--sync",
    is_flag=True,
    help="Bring the approved templates over from Meta (WhatsApp Cloud API), replacing the "
    "Meta templates listed before.",
)
@click.option("--name", default=None)
@click.option(
    "--content-sid", default=None, help="The approved template's Twilio Content SID (HX...)."
)
@click.option("--body", default=None, help="Its text, as agents will see it.")
@pass_ctx
def template_add(
    ctx: _Context,
    org_slug: str,
    sync: bool,
    name: str | None,
    content_sid: str | None,
    body: str | None,
) -> None:
    """Add an approved Twilio template, or sync Meta's, for replies after the 24-hour window."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    if sync:
        try:
            report = services.template_sync.sync(org)
        except TemplateSyncError as e:
            raise click.ClickException(str(e)) from e
        console.print(
            f"{report.approved} approved at Meta: {report.added} added, {report.updated} "
            f"updated, {report.removed} removed"
            + (f", {report.skipped} skipped (name too long)" if report.skipped else "")
            + "."
        )
        return
    if not (name and content_sid and body):
        raise click.UsageError("give --name, --content-sid and --body, or --sync")
    try:
        DeskSetup(services.database).add_template(
            org.id,  # type: ignore[arg-type]
            name=name,
            content_sid=content_sid,
            body=body,
        )
    except SetupError as e:
        raise click.ClickException(str(e)) from e
    console.print(f"Template {name} added.")
