"""``imaradesk hold``: legal holds, under which data is neither swept nor erased."""

from __future__ import annotations

import getpass

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, pass_ctx
from imaradesk.compliance.retention import RetentionError


@click.group("hold")
def hold() -> None:
    """Legal holds: data under hold is neither swept nor erased."""


@hold.command("place")
@click.option("--org", "org_slug", required=True)
@click.option(
    "--scope", type=click.Choice(["organization", "contact", "conversation"]), required=True
)
@click.option("--id", "target_id", type=int, default=None, help="Contact or conversation id.")
@click.option("--reason", required=True)
@click.option(
    "--by", "actor", default=lambda: f"admin:{getpass.getuser()}", show_default="admin:<user>"
)
@pass_ctx
def hold_place(
    ctx: _Context, org_slug: str, scope: str, target_id: int | None, reason: str, actor: str
) -> None:
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    try:
        placed = services.stewardship.place_hold(
            org, scope=scope, target_id=target_id, reason=reason, actor=actor
        )
    except RetentionError as e:
        raise click.ClickException(str(e)) from e
    console.print(f"Hold #{placed.id} placed on {scope} {placed.target_id}.")


@hold.command("lift")
@click.option("--org", "org_slug", required=True)
@click.argument("hold_id", type=int)
@click.option(
    "--by", "actor", default=lambda: f"admin:{getpass.getuser()}", show_default="admin:<user>"
)
@pass_ctx
def hold_lift(ctx: _Context, org_slug: str, hold_id: int, actor: str) -> None:
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    try:
        services.stewardship.lift_hold(org, hold_id, actor=actor)
    except RetentionError as e:
        raise click.ClickException(str(e)) from e
    console.print(f"Hold #{hold_id} lifted.")


@hold.command("list")
@click.option("--org", "org_slug", required=True)
@pass_ctx
def hold_list(ctx: _Context, org_slug: str) -> None:
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    for h in services.stewardship.holds(org):
        console.print(
            f"#{h.id}\t{h.scope} {h.target_id}\tby {h.placed_by}"
            f" on {h.placed_at:%Y-%m-%d}\t{h.reason}"
        )
