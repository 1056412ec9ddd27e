"""``imaradesk routing``: the topic and language rules that route handoffs."""

from __future__ import annotations

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, pass_ctx
from imaradesk.console.setup import DeskSetup, SetupError


@click.group("routing")
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
