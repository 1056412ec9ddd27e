"""``imaradesk org``: organizations, from creation to closing; their AI and Rasa settings."""

from __future__ import annotations

import getpass

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, pass_ctx
from imaradesk.cli.org_ai import org_ai, org_usage
from imaradesk.cli.org_meta import org_meta
from imaradesk.cli.org_webchat import org_webchat
from imaradesk.cli.rasa import org_rasa
from imaradesk.compliance.retention import RetentionError
from imaradesk.knowledge_index.tuning import tuning_allowed
from imaradesk.storage.repositories import InvalidSlug
from imaradesk.tenants.organizations import OrganizationExists


@click.group("org")
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
@click.option(
    "--tuning/--no-tuning",
    default=None,
    help="Fit the answer model through a head trained on the organization's own phrasings even "
    "when it is excluded from training (default: only organizations not excluded).",
)
@click.option("--retention-days", type=click.IntRange(1, 3650), default=None)
@click.option(
    "--quota-messages",
    type=click.IntRange(0, 10**6),
    default=None,
    help="Customer messages per minute (0: the service's default). Signed WhatsApp messages "
    "beyond it are kept and answered when it allows; web chat is asked to retry.",
)
@click.option(
    "--quota-visitors",
    type=click.IntRange(0, 10**7),
    default=None,
    help="New web-chat visitors per hour (0: the service's default).",
)
@click.option(
    "--quota-storage-mb",
    type=click.IntRange(0, 10**7),
    default=None,
    help="Stored messages, media and documents, in MB; uploads are refused beyond it (0: the "
    "service's default).",
)
@pass_ctx
def org_set(ctx: _Context, slug: str, tuning: bool | None, **options: object) -> None:
    """Change an organization's settings."""
    services = ctx.services
    org = _org_or_exit(services, slug)
    renames = {
        "external_ai": "external_ai_allowed",
        "quota_messages": "quota_messages_per_minute",
        "quota_visitors": "quota_visitors_per_hour",
    }
    changes = {renames.get(k, k): v for k, v in options.items() if v is not None}
    for name in ("quota_messages_per_minute", "quota_visitors_per_hour", "quota_storage_mb"):
        if changes.get(name) == 0:
            changes[name] = None  # back to the service's default
    if not changes and tuning is None:
        raise click.UsageError("nothing to change")
    assert org.id is not None
    if changes:
        services.organizations.update(org.id, **changes)
    if tuning is not None:
        # Its own call: lifting an organization's opt-out is audited with who did it.
        actor = f"admin:{getpass.getuser()}"
        services.organizations.set_tuning_opt_in(org.id, tuning, actor=actor)
        changes["tuning_opt_in"] = tuning
    console.print(f"Updated {slug}: {', '.join(sorted(changes))}.")


@org.command("list")
@pass_ctx
def org_list(ctx: _Context) -> None:
    """List organizations."""
    for o in ctx.services.organizations.all():
        twilio = "twilio" if o.twilio_auth_token else "-"
        # Whether its answer model is fitted through the tuning head: the opt-out decides.
        allowed = tuning_allowed(
            exclude_from_training=o.exclude_from_training, tuning_opt_in=o.tuning_opt_in
        )
        tuning = "tuning on" if allowed else "tuning off"
        console.print(f"{o.slug}\t{o.name}\t{twilio}\tkb revision {o.kb_revision}\t{tuning}")


@org.command("close")
@click.argument("slug")
@click.option("--yes", is_flag=True)
@pass_ctx
def org_close(ctx: _Context, slug: str, yes: bool) -> None:
    """Close the account: everything is deleted 30 days later unless reopened."""
    services = ctx.services
    org = _org_or_exit(services, slug)
    if not yes:
        click.confirm(f"Close {slug}? Its data is deleted in 30 days", abort=True)
    due = services.stewardship.close_account(org, actor=f"admin:{getpass.getuser()}")
    console.print(f"{slug} is closed; its data will be deleted on {due:%Y-%m-%d} unless reopened.")


@org.command("reopen")
@click.argument("slug")
@pass_ctx
def org_reopen(ctx: _Context, slug: str) -> None:
    services = ctx.services
    org = _org_or_exit(services, slug)
    try:
        services.stewardship.reopen_account(org, actor=f"admin:{getpass.getuser()}")
    except RetentionError as e:
        raise click.ClickException(str(e)) from e
    console.print(f"{slug} is open again; its deletion is cancelled.")


@org.command("notice")
@click.argument("slug")
@click.option("--text", required=True, help="The notice; {org_name} is replaced by the name.")
@click.option(
    "--minor", is_flag=True, help="A wording fix: returning customers are not asked again."
)
@pass_ctx
def org_notice(ctx: _Context, slug: str, text: str, minor: bool) -> None:
    """Publish a new privacy notice version."""
    services = ctx.services
    org = _org_or_exit(services, slug)
    assert org.id is not None
    version = services.organizations.publish_notice(org.id, text, material=not minor)
    console.print(f"Privacy notice v{version} of {slug} published.")


# Sub-commands that live in modules of their own.
for command in (org_ai, org_usage, org_rasa, org_webchat, org_meta):
    org.add_command(command)
