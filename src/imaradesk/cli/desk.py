"""Handoffs, console accounts, routing rules and templates."""

from __future__ import annotations

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, main, pass_ctx
from imaradesk.console.accounts import AccountError
from imaradesk.console.mailer import MailError
from imaradesk.console.setup import DeskSetup, SetupError
from imaradesk.storage.models import HandoffStatus
from imaradesk.storage.repositories import OrgData

# -- handoffs -------------------------------------------------------------------------------


@main.group()
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


# -- the agent console ---------------------------------------------------------------------------


@main.group()
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


@main.group()
def routing() -> None:
    """How handoffs are routed: topic and language rules."""


@routing.command("add")
@click.option("--org", "org_slug", required=True)
@click.option("--topic", default=None, help="A topic name, e.g. fraud.")
@click.option(
    "--keywords", default="", help="Comma-separated words or phrases that mean this topic."
)
@click.option("--language", type=click.Choice(["en", "sw"]), default=None)
@click.option("--team", default=None)
@click.option("--priority", type=click.IntRange(0, 9), default=0, show_default=True)
@click.option("--always-human", is_flag=True, help="Never answered by the bot.")
@click.option(
    "--example", "examples", multiple=True, help="An example message of the topic (repeatable)."
)
@pass_ctx
def routing_add(
    ctx: _Context,
    org_slug: str,
    topic: str | None,
    keywords: str,
    language: str | None,
    team: str | None,
    priority: int,
    always_human: bool,
    examples: tuple[str, ...],
) -> None:
    """Add a topic rule (keywords and examples to a team) or a language rule."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    setup = DeskSetup(services.database)
    try:
        if topic:
            setup.add_topic_rule(
                org.id,  # type: ignore[arg-type]
                topic=topic,
                keywords=keywords.split(","),
                team=team,
                priority=priority,
                always_human=always_human,
                examples=list(examples),
            )
        elif language and team:
            setup.add_language_rule(org.id, language=language, team=team, priority=priority)  # type: ignore[arg-type]
        else:
            raise click.UsageError("give --topic (with --keywords) or --language with --team")
    except SetupError as e:
        raise click.ClickException(str(e)) from e
    console.print("Rule added.")


@routing.command("list")
@click.option("--org", "org_slug", required=True)
@pass_ctx
def routing_list(ctx: _Context, org_slug: str) -> None:
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    for rule, team in DeskSetup(services.database).rules(org.id):  # type: ignore[arg-type]
        flags = " always-human" if rule.always_human else ""
        console.print(
            f"{rule.position}. {rule.kind} {rule.value}\tteam {team or '-'}"
            f"\tpriority {rule.priority}{flags}\t{', '.join(rule.keywords)}"
        )


@main.command("template")
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
