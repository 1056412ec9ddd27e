"""``imaradesk export``: exports that leave the product."""

from __future__ import annotations

import json

import click

from imaradesk.analytics.exports import daily_counts, training_examples
from imaradesk.cli.base import _Context, err_console, pass_ctx


@click.group("export")
def export() -> None:
    """Exports that leave the product (organizations excluded from training never appear)."""


@export.command("training")
@click.option("--out", type=click.File("w"), default="-", show_default=True)
@pass_ctx
def export_training(ctx: _Context, out) -> None:
    """Redacted customer questions with the entry that answered them, as JSON lines."""
    count = 0
    for example in training_examples(ctx.services.database):
        out.write(json.dumps(example.__dict__, ensure_ascii=False) + "\n")
        count += 1
    err_console.print(f"{count} examples exported.")


@export.command("analytics")
@click.option("--out", type=click.File("w"), default="-", show_default=True)
@pass_ctx
def export_analytics(ctx: _Context, out) -> None:
    """Counts per organization and day, as JSON lines."""
    for row in daily_counts(ctx.services.database):
        out.write(json.dumps(row) + "\n")
