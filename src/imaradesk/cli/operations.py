"""Backups, keys and serving."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, main, pass_ctx
from imaradesk.demo.seed import (
    DEMO_ADMIN,
    DEMO_NAME,
    DEMO_PASSWORD,
    DEMO_SLUG,
    DEMO_TWILIO_TOKEN,
    seed_demo,
)
from imaradesk.services import Services
from imaradesk.storage.backup import BackupError, BackupService
from imaradesk.storage.encryption import generate_master_key_spec

# -- backups --------------------------------------------------------------------------------


def _backups(services: Services, directory: Path | None) -> BackupService:
    return BackupService(
        services.database,
        directory=directory or services.settings.data_dir / "backups",
        clock=services.clock,
    )


@main.command()
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


@main.command()
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


# -- keys ---------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Master and data keys (encryption at rest)."""


@keys.command("generate")
@click.option("--id", "key_id", default=None, help="A name for the key (default: random).")
def keys_generate(key_id: str | None) -> None:
    """Print a new master key for IMARADESK_MASTER_KEYS."""
    click.echo(generate_master_key_spec(key_id))


@keys.command("rotate")
@pass_ctx
def keys_rotate(ctx: _Context) -> None:
    """Re-wrap every data key under the first master key; no row is re-encrypted.

    Configure the new key first and keep the old one after it
    (IMARADESK_MASTER_KEYS=new:...,old:...) on every running process, then run this; the old
    key can be removed once it reports nothing left to re-wrap.
    """
    services = ctx.services
    changed = services.database.keystore.rotate_master()
    current = services.database.keystore.keyring.current.key_id
    console.print(f"Re-wrapped {changed} data key(s) under master key {current!r}.")


@keys.command("destroy")
@click.option("--org", "org_slug", required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def keys_destroy(ctx: _Context, org_slug: str, yes: bool) -> None:
    """Crypto-shred an organization: its data becomes unreadable everywhere, backups included."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    if not yes:
        click.confirm(f"Destroy the data key of {org_slug}? This cannot be undone", abort=True)
    assert org.id is not None
    services.organizations.destroy_data(
        org.id,
        knowledge=services.knowledge,
        state=services.state,
        exports=services.exports,
        uploads=services.ingestion,
    )
    console.print(f"The data key of {org_slug} is destroyed; its data can no longer be read.")


# -- serving ------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=int,
    help="Processes; more than one needs Redis.",
)
@click.option("--dev", is_flag=True, help="Use Flask's development server.")
@pass_ctx
def serve(ctx: _Context, host: str, port: int, threads: int, workers: int, dev: bool) -> None:
    """Serve the webhooks and APIs."""
    _serve(ctx.services, host=host, port=port, threads=threads, workers=workers, dev=dev)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@pass_ctx
def demo(ctx: _Context, host: str, port: int) -> None:
    """Seed the demo organization (once) and serve it."""
    services = ctx.services
    if services.settings.environment == "production":
        # The demo admin's password is published in the README.
        raise click.ClickException("the demo is not for production: use `imaradesk serve`")
    seed_demo(services)
    base = f"http://{host}:{port}"
    console.print(
        f"\n[bold]ImaraDesk is running on {base}[/] with the demo organization "
        f"[bold]{DEMO_SLUG}[/] ({DEMO_NAME}, a mobile-money wallet).\n"
        "Try it:\n"
        f"  open {base}/chat/{DEMO_SLUG} in a browser, or\n"
        f"  curl -s {base}/channels/webchat/{DEMO_SLUG}/messages \\\n"
        "       -H 'Content-Type: application/json' \\\n"
        '       -d \'{"sender": "me", "text": "How do I reset my PIN?"}\'\n'
        f"  .venv/bin/imaradesk chat --org {DEMO_SLUG}          (in another terminal)\n"
        f"Agent console: {base}/console  (sign in as {DEMO_ADMIN} / {DEMO_PASSWORD})\n"
        f"Twilio webhook: {base}/channels/twilio/{DEMO_SLUG}/messages "
        f"(auth token {DEMO_TWILIO_TOKEN!r}; set your own with org create)\n",
        highlight=False,
    )
    _serve(services, host=host, port=port, threads=8, workers=1, dev=False)


def _serve(
    services: Services, *, host: str, port: int, threads: int, workers: int, dev: bool
) -> None:
    from imaradesk.app import create_app

    if workers > 1 and not services.settings.redis_url:
        raise click.ClickException(
            "more than one worker needs Redis (set REDIS_URL) for shared locks"
        )
    # Load the model before the first customer waits for it.
    services.embedder.embed(["warm up"])
    app = create_app(services=services)

    def resume_uploads() -> None:
        # Uploads a stopped server was reading are read again (with Redis, RQ keeps them). In
        # the process that serves: threads started before a fork would not exist after it.
        if services.settings.job_queue == "thread" and workers == 1:
            resumed = services.ingestion.resume_unfinished()
            if resumed:
                console.print(f"Resumed {resumed} unfinished upload(s).")

    if dev:
        resume_uploads()
        app.run(host=host, port=port, threaded=True)
        return
    from gunicorn.app.base import BaseApplication

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", threads)
            self.cfg.set("workers", workers)
            self.cfg.set("timeout", 60)
            self.cfg.set("accesslog", None)
            self.cfg.set("post_worker_init", lambda _worker: resume_uploads())

        def load(self):  # noqa: ANN202
            return app

    _Gunicorn().run()


if __name__ == "__main__":
    sys.exit(main())
