"""``imaradesk backup`` and ``imaradesk restore``: encrypted backups of the database."""

from __future__ import annotations

from pathlib import Path

import click

from imaradesk.cli.base import _Context, console, pass_ctx
from imaradesk.services import Services
from imaradesk.storage.backup import BackupError, BackupService


def _backups(services: Services, directory: Path | None) -> BackupService:
    return BackupService(
        services.database,
        directory=directory or services.settings.data_dir / "backups",
        clock=services.clock,
    )


@click.command("backup")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None)
@pass_ctx
def backup(ctx: _Context, directory: Path | None) -> None:
    """Write an encrypted backup (data keys excluded) and drop those older than 30 days."""
    try:
        report = _backups(ctx.services, directory).create()
    except BackupError as e:
        raise click.ClickException(str(e)) from e
    console.print(
        f"Backup written: {report.path} ({report.size / 2**20:.1f} MiB, {report.seconds:.1f} s)."
    )
    for path in report.pruned:
        console.print(f"Removed expired backup {path.name}.")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def restore(ctx: _Context, path: Path, yes: bool) -> None:
    """Replace the database with a backup (stop the service first); live data keys are kept."""
    if not yes:
        click.confirm(f"Replace the database with {path.name}?", abort=True)
    try:
        report = _backups(ctx.services, None).restore(path)
    except BackupError as e:
        raise click.ClickException(str(e)) from e
    console.print(
        f"Restored {path.name} in {report.seconds:.1f} s; kept {report.keys_kept} live data key(s);"
        f" applied {report.erasures_reapplied} erasure(s) made since the backup again."
    )
