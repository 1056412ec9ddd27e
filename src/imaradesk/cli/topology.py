"""``imaradesk up``: the production topology on this machine, started and stopped together.

N gunicorn web workers (``imaradesk serve --workers N``), M background workers (``imaradesk
worker --jobs``: customers' turns first, then uploads and media) and one sweeper (``imaradesk
worker``: retention, unsent replies and stalled uploads hourly, pending turns every 2 s), all
on PostgreSQL and Redis, run by honcho: their output is interleaved with their names, and when
one of them exits, or on Ctrl-C or SIGTERM, all of them stop (a background worker waits for
Redis rather than exit when Redis restarts). The schema is migrated before any of them starts,
so new code never serves an old schema (upgrades: stop, install, ``imaradesk up``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys

import click

from imaradesk.cli.base import console
from imaradesk.runtime.clock import SystemClock
from imaradesk.services import open_database, prepare_database
from imaradesk.settings import Settings


@click.command("up")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--web-workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--job-workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
def up(host: str, port: int, web_workers: int, job_workers: int, threads: int) -> None:
    """Run the web workers, the background workers and the sweeper, on PostgreSQL and Redis."""
    from honcho.manager import Manager

    settings = Settings()
    if not settings.redis_url or settings.job_queue != "redis":
        raise click.ClickException(
            "the topology shares work through Redis: set IMARADESK_REDIS_URL and "
            "IMARADESK_JOB_QUEUE=redis (imaradesk serve runs the embedded default alone)"
        )
    if settings.resolved_database_url.startswith("sqlite"):
        raise click.ClickException(
            "several processes need PostgreSQL: set DATABASE_URL=postgresql://..."
        )
    # Migrations first, once, before any process serves (no model is loaded for it).
    database = open_database(settings)
    prepare_database(database, SystemClock())
    database.dispose()
    metrics_dir = settings.data_dir.resolve() / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)  # counts of a previous run are not this one's
    metrics_dir.mkdir(parents=True)
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    command = shlex.join([sys.executable, "-m", "imaradesk.cli"])
    manager = Manager()
    manager.add_process(
        "web",
        f"{command} serve --host {shlex.quote(host)} --port {port} "
        f"--workers {web_workers} --threads {threads}",
        env=env,
    )
    for n in range(1, job_workers + 1):
        manager.add_process(f"jobs.{n}", f"{command} worker --jobs", env=env)
    manager.add_process("sweeps", f"{command} worker", env=env)
    console.print(
        f"ImaraDesk on http://{host}:{port}: {web_workers} web worker(s), {job_workers} "
        "background worker(s), 1 sweeper. Ctrl-C stops them all."
    )
    manager.loop()
    sys.exit(manager.returncode)
