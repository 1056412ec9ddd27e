"""``imaradesk agent``: console accounts."""

from __future__ import annotations

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, pass_ctx
from imaradesk.console.accounts import AccountError
from imaradesk.console.mailer import MailError


@click.group("agent")
def agent() -> None:
    """Console accounts."""


@agent.command("create")
@click.option("--org", "org_slug", required=True)
@click.argument("email")
@click.option("--name", default=None)
@click.option(
    "--role",
    type=click.Choice(["agent", "admin", "knowledge_manager"]),
    default="agent",
    show_default=True,
)
@click.option("--team", default=None, help="The queue (team) the agent works in; created if new.")
@click.option(
    "--languages", default="en", show_default=True, help="Comma-separated codes, e.g. en,sw."
)
@click.option(
    "--invite", is_flag=True, help="Email an invitation to choose a password instead of asking now."
)
@pass_ctx
def agent_create(
    ctx: _Context,
    org_slug: str,
    email: str,
    name: str | None,
    role: str,
    team: str | None,
    languages: str,
    invite: bool,
) -> None:
    """Create a console account (asks for the password, or emails an invitation)."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    fields = {
        "email": email,
        "name": name or email.split("@")[0],
        "role": role,
        "team": team,
        "languages": [code.strip() for code in languages.split(",") if code.strip()],
    }
    try:
        if invite:
            account = services.accounts.invite(org.id, **fields)  # type: ignore[arg-type]
            console.print(f"Invited {account.email}; they choose their password from the email.")
            return
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        account = services.accounts.create(org.id, password=password, verified=True, **fields)  # type: ignore[arg-type]
    except (AccountError, MailError) as e:
        raise click.ClickException(str(e)) from e
    console.print(f"Created {account.role} {account.email} in {org_slug}.")


@agent.command("disable")
@click.option("--org", "org_slug", required=True)
@click.argument("email")
@pass_ctx
def agent_disable(ctx: _Context, org_slug: str, email: str) -> None:
    """Take an account's access away: no sign-in, and its open sessions end now."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    try:
        account = services.accounts.disable(org.id, email)
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    console.print(f"Disabled {account.email}; their console sessions have ended.")
