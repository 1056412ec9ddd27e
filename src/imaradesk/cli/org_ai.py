"""``imaradesk org ai`` and ``org usage``: an organization's own AI provider and what it costs."""

from __future__ import annotations

import os
from urllib.parse import urlparse

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, pass_ctx
from imaradesk.llm.providers import PROVIDER_NAMES
from imaradesk.llm.usage import UsageLog
from imaradesk.storage.models import Organization


@click.command("ai")
@click.option("--org", "slug", required=True, help="The organization's slug.")
@click.option(
    "--provider",
    type=click.Choice([*PROVIDER_NAMES, "none"]),
    default=None,
    help="The organization's own provider; none removes it (the operator's is used then).",
)
@click.option("--model", default=None, help="The provider's model name, e.g. gpt-4o-mini.")
@click.option(
    "--api-key-env",
    metavar="VAR",
    default=None,
    help="Read the API key from this environment variable; without it you are asked for it.",
)
@click.option(
    "--base-url", default=None, help="The SDK's base URL, for a proxy or gateway (optional)."
)
@click.option(
    "--generative/--no-generative",
    default=None,
    help="Let the AI write answers from the organization's articles.",
)
@pass_ctx
def org_ai(
    ctx: _Context,
    slug: str,
    provider: str | None,
    model: str | None,
    api_key_env: str | None,
    base_url: str | None,
    generative: bool | None,
) -> None:
    """Set an organization's own AI provider (its key is stored encrypted), or show it.

    The key is never taken on the command line, where it would stay in the shell's history
    and the process list.
    """
    services = ctx.services
    organization = _org_or_exit(services, slug)
    changes: dict[str, object] = {}
    if provider == "none":
        if model or api_key_env or base_url:
            raise click.UsageError("--provider none takes no --model, --api-key-env or --base-url")
        changes.update(ai_provider=None, ai_model=None, ai_api_key=None, ai_base_url=None)
    elif provider is not None:
        if not model:
            raise click.UsageError("--model is required with --provider")
        if base_url is not None:
            _check_url(base_url)
        changes.update(
            ai_provider=provider,
            ai_model=model.strip(),
            ai_api_key=_read_api_key(api_key_env),
            ai_base_url=base_url or None,
        )
    elif model or api_key_env or base_url:
        raise click.UsageError("--model, --api-key-env and --base-url go with --provider")
    if generative is not None:
        changes["generative_answers"] = generative
    if changes:
        assert organization.id is not None
        organization = services.organizations.update(organization.id, **changes)
    _print_ai(organization, operator=services.ai.configured)


def _read_api_key(env_var: str | None) -> str:
    if env_var:
        key = os.environ.get(env_var, "").strip()
        if not key:
            raise click.ClickException(f"the environment variable {env_var} is unset or empty")
        return key
    key = click.prompt("API key", hide_input=True, prompt_suffix=" (not shown): ").strip()
    if not key:
        raise click.ClickException("an API key is required")
    return key


def _check_url(url: str) -> None:
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.UsageError(f"--base-url must be an http(s) URL, not {url!r}")


def _print_ai(o: Organization, *, operator: bool) -> None:
    if o.ai_provider:
        where = f" at {o.ai_base_url}" if o.ai_base_url else ""
        key = "key stored encrypted" if o.ai_api_key else "NO KEY: no AI until one is set"
        provider = f"{o.ai_provider} ({o.ai_model}){where}, {key}"
    else:
        provider = "the operator's" if operator else "none (the operator has none either)"
    console.print(f"{o.slug}: AI provider {provider}")
    console.print(f"  generative answers: {'on' if o.generative_answers else 'off'}")
    if not o.external_ai_allowed:
        console.print(
            f"  external AI is off for {o.slug}: nothing is sent to a provider until "
            f"`imaradesk org set {o.slug} --external-ai`"
        )


@click.command("usage")
@click.option("--org", "slug", required=True, help="The organization's slug.")
@click.option("--days", type=click.IntRange(1, 3660), default=30, show_default=True)
@pass_ctx
def org_usage(ctx: _Context, slug: str, days: int) -> None:
    """Tokens the organization's AI calls used, per day, provider and model (UTC days)."""
    services = ctx.services
    organization = _org_or_exit(services, slug)
    assert organization.id is not None
    usage = services.ai.usage or UsageLog(services.database, services.clock)
    totals = usage.totals(organization.id, days=days)
    if not totals:
        console.print(f"No AI calls for {slug} in the last {days} days.")
        return
    # Tab-separated: readable, and easy to feed to a spreadsheet (click keeps the tabs).
    click.echo(f"AI usage of {slug}, last {days} days (UTC)")
    rows: list[tuple[object, ...]] = [
        ("day", "provider", "model", "calls", "failed", "input tokens", "output tokens")
    ]
    rows += [
        (
            t.day.isoformat(),
            t.provider,
            t.model,
            t.calls,
            t.failures,
            t.input_tokens,
            t.output_tokens,
        )
        for t in totals
    ]
    rows.append(
        (
            "total",
            "",
            "",
            sum(t.calls for t in totals),
            sum(t.failures for t in totals),
            sum(t.input_tokens for t in totals),
            sum(t.output_tokens for t in totals),
        )
    )
    for row in rows:
        click.echo("\t".join(str(value) for value in row))
