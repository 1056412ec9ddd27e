"""``imaradesk keys``: master and data keys (encryption at rest)."""

from __future__ import annotations

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, pass_ctx
from imaradesk.storage.encryption import generate_master_key_spec


@click.group("keys")
def keys() -> None:
    """Master and data keys (encryption at rest)."""


@keys.command("generate")
@click.option("--id", "key_id", default=None, help="A name for the key (default: random).")
def keys_generate(key_id: str | None) -> None:
    """Print a new master key for IMARADESK_MASTER_KEYS."""
    click.echo(generate_master_key_spec(key_id))


@keys.command("rotate")
@pass_ctx
def keys_rotate(ctx: _Context) -> None:
    """Re-wrap every data key under the first master key; no row is re-encrypted.

    Configure the new key first and keep the old one after it
    (IMARADESK_MASTER_KEYS=new:...,old:...) on every running process, then run this; the old
    key can be removed once it reports nothing left to re-wrap.
    """
    services = ctx.services
    changed = services.database.keystore.rotate_master()
    current = services.database.keystore.keyring.current.key_id
    console.print(f"Re-wrapped {changed} data key(s) under master key {current!r}.")


@keys.command("destroy")
@click.option("--org", "org_slug", required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def keys_destroy(ctx: _Context, org_slug: str, yes: bool) -> None:
    """Crypto-shred an organization: its data becomes unreadable everywhere, backups included."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    if not yes:
        click.confirm(f"Destroy the data key of {org_slug}? This cannot be undone", abort=True)
    assert org.id is not None
    services.organizations.destroy_data(
        org.id,
        knowledge=services.knowledge,
        state=services.state,
        exports=services.exports,
        uploads=services.ingestion,
    )
    console.print(f"The data key of {org_slug} is destroyed; its data can no longer be read.")
