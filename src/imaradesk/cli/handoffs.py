"""``imaradesk handoff``: see and resolve handoffs from the terminal."""

from __future__ import annotations

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, pass_ctx
from imaradesk.storage.models import HandoffStatus
from imaradesk.storage.repositories import OrgData


@click.group("handoff")
def handoff() -> None:
    """See and resolve handoffs from the terminal (the console at /console does more)."""


@handoff.command("list")
@click.option("--org", "org_slug", required=True)
@click.option("--all", "show_all", is_flag=True, help="Include resolved handoffs.")
@pass_ctx
def handoff_list(ctx: _Context, org_slug: str, show_all: bool) -> None:
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    assert org.id is not None
    with services.database.read() as session:
        rows = OrgData(session, org.id).handoffs(status=None if show_all else HandoffStatus.OPEN)
        for h in rows:
            console.print(
                f"#{h.id}\t{h.status}\t{h.reason}\tconversation {h.conversation_id}\t"
                f"{h.created_at:%Y-%m-%d %H:%M}"
            )


@handoff.command("resolve")
@click.option("--org", "org_slug", required=True)
@click.argument("handoff_id", type=int)
@pass_ctx
def handoff_resolve(ctx: _Context, org_slug: str, handoff_id: int) -> None:
    """Give the conversation back to the bot."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    assert org.id is not None
    with services.database.write() as session:
        resolved = OrgData(session, org.id).resolve_handoff(handoff_id, now=services.clock.now())
    if resolved is None:
        raise click.ClickException(f"no handoff #{handoff_id} in {org_slug}")
    console.print(f"Resolved handoff #{handoff_id}; the bot answers this customer again.")
