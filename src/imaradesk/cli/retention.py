"""``imaradesk retention``: the retention of personal data."""

from __future__ import annotations

import json

import click

from imaradesk.cli.base import _Context, console, pass_ctx


@click.group("retention")
def retention() -> None:
    """Retention of personal data."""


@retention.command("sweep")
@pass_ctx
def retention_sweep(ctx: _Context) -> None:
    """Delete what has passed its retention everywhere, except what is on hold; print counts."""
    report = ctx.services.stewardship.sweep()
    console.print_json(json.dumps(report.as_dict()))
