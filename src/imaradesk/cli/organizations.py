"""Organizations: create, configure, list."""

from __future__ import annotations

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, main, pass_ctx
from imaradesk.organizations import OrganizationExists
from imaradesk.storage.repositories import InvalidSlug

# -- organizations ---------------------------------------------------------------------------


@main.group()
def org() -> None:
    """Manage organizations."""


@org.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The organization's display name.")
@click.option(
    "--twilio-auth-token", default=None, help="Auth token that signs its Twilio webhooks."
)
@click.option("--privacy-policy-url", default=None, help="Link shown in the privacy notice.")
@pass_ctx
def org_create(
    ctx: _Context,
    slug: str,
    name: str,
    twilio_auth_token: str | None,
    privacy_policy_url: str | None,
) -> None:
    """Create an organization."""
    try:
        created = ctx.services.organizations.create(
            slug,
            name=name,
            twilio_auth_token=twilio_auth_token,
            privacy_policy_url=privacy_policy_url,
        )
    except (OrganizationExists, InvalidSlug) as e:
        raise click.ClickException(str(e)) from e
    console.print(f"Created organization [bold]{created.slug}[/] ({created.name}).")
    console.print(f"Twilio webhook: POST /channels/twilio/{created.slug}/messages")


@org.command("set")
@click.argument("slug")
@click.option("--name", default=None)
@click.option("--twilio-auth-token", default=None)
@click.option("--twilio-account-sid", default=None, help="For agent replies through Twilio's API.")
@click.option(
    "--whatsapp-sender", default=None, help="The sending address, e.g. whatsapp:+14155238886."
)
@click.option("--privacy-policy-url", default=None)
@click.option(
    "--external-ai/--no-external-ai", default=None, help="Let text reach external AI providers."
)
@click.option(
    "--exclude-from-training/--include-in-training",
    default=None,
    help="Keep everything of the organization out of training, evaluation and analytics exports.",
)
@click.option("--retention-days", type=click.IntRange(1, 3650), default=None)
@pass_ctx
def org_set(ctx: _Context, slug: str, **options: object) -> None:
    """Change an organization's settings."""
    services = ctx.services
    org = _org_or_exit(services, slug)
    renames = {"external_ai": "external_ai_allowed"}
    changes = {renames.get(k, k): v for k, v in options.items() if v is not None}
    if not changes:
        raise click.UsageError("nothing to change")
    assert org.id is not None
    services.organizations.update(org.id, **changes)
    console.print(f"Updated {slug}: {', '.join(sorted(changes))}.")


@org.command("list")
@pass_ctx
def org_list(ctx: _Context) -> None:
    """List organizations."""
    for o in ctx.services.organizations.all():
        twilio = "twilio" if o.twilio_auth_token else "-"
        console.print(f"{o.slug}\t{o.name}\t{twilio}\tkb revision {o.kb_revision}")
