"""``imaradesk org rasa``: point an organization at the Rasa server it already runs, or stop."""

from __future__ import annotations

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, pass_ctx
from imaradesk.nlu.base import NLUError
from imaradesk.nlu.rasa_http import RasaNLU
from imaradesk.storage.models import Organization

MAX_URL = 500  # Organization.rasa_url's column


@click.command("rasa")
@click.option("--org", "slug", required=True, help="The organization's slug.")
@click.option("--url", default=None, help="The Rasa server's base URL (rasa run --enable-api).")
@click.option("--off", is_flag=True, help="Stop asking a Rasa server; our retrieval answers alone.")
@click.option("--check", is_flag=True, help="Ask the server to parse a test message before saving.")
@pass_ctx
def org_rasa(ctx: _Context, slug: str, url: str | None, off: bool, check: bool) -> None:
    """Ask an organization's Rasa server for intents (POST <url>/model/parse)."""
    if off == (url is not None):
        raise click.UsageError("give either --url URL or --off")
    services = ctx.services
    found: Organization = _org_or_exit(services, slug)
    assert found.id is not None
    if off:
        services.organizations.update(found.id, rasa_url=None)
        console.print(f"{slug}: no Rasa server; our own retrieval answers.")
        return
    assert url is not None
    url = url.strip()
    if len(url) > MAX_URL:
        raise click.BadParameter(f"longer than {MAX_URL} characters", param_hint="--url")
    settings = services.settings
    try:
        nlu = RasaNLU(url, timeout=settings.rasa_timeout_seconds)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--url") from e
    if check:
        try:
            result = nlu.parse("hello")
        except NLUError as e:
            raise click.ClickException(f"the Rasa server did not parse a test message: {e}") from e
        console.print(f"Rasa answered: intent {result.intent!r} ({result.confidence:.2f}).")
    services.organizations.update(found.id, rasa_url=url)
    console.print(
        f"{slug}: asking {nlu.url.split('?')[0]} for intents; an intent naming an entry "
        f"(its external id) "
        f"answers when at least {settings.rasa_min_confidence:.2f} sure, within "
        f"{settings.rasa_timeout_seconds:g} s, otherwise our retrieval does."
    )
