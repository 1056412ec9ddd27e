"""``imaradesk token``: API tokens for an organization's tools (the console has the same)."""

from __future__ import annotations

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, pass_ctx
from imaradesk.tenants.api_tokens import TokenError


@click.group("token")
def token() -> None:
    """API tokens: bearer tokens for /api/v1, one organization each."""


@token.command("create")
@click.option("--org", "slug", required=True)
@click.argument("name")
@pass_ctx
def token_create(ctx: _Context, slug: str, name: str) -> None:
    """Create a token; it is printed once and only its digest is kept."""
    org = _org_or_exit(ctx.services, slug)
    assert org.id is not None
    try:
        issued = ctx.services.api_tokens.issue(org.id, name)
    except TokenError as e:
        raise click.ClickException(str(e)) from e
    console.print(issued.secret, highlight=False, soft_wrap=True)


@token.command("list")
@click.option("--org", "slug", required=True)
@pass_ctx
def token_list(ctx: _Context, slug: str) -> None:
    org = _org_or_exit(ctx.services, slug)
    assert org.id is not None
    for t in ctx.services.api_tokens.tokens(org.id):
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "live"
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never used"
        console.print(f"#{t.id}\t{t.prefix}…\t{t.name}\t{state}\t{used}", highlight=False)


@token.command("revoke")
@click.option("--org", "slug", required=True)
@click.argument("token_id", type=int)
@pass_ctx
def token_revoke(ctx: _Context, slug: str, token_id: int) -> None:
    org = _org_or_exit(ctx.services, slug)
    assert org.id is not None
    if not ctx.services.api_tokens.revoke(org.id, token_id):
        raise click.ClickException(f"{slug} has no token #{token_id}")
    console.print(f"Token #{token_id} revoked: it no longer opens the API.")
