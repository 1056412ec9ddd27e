"""Long-running processes: ``imaradesk serve``, ``imaradesk demo`` and ``imaradesk worker``."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import click
import redis

from imaradesk.cli.base import _Context, console, err_console, pass_ctx
from imaradesk.demo.seed import (
    DEMO_ADMIN,
    DEMO_NAME,
    DEMO_PASSWORD,
    DEMO_SLUG,
    DEMO_TWILIO_TOKEN,
    seed_demo,
)
from imaradesk.services import Services


@click.command("serve")
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
    ctx.serving_at(host, port)
    _serve(ctx.services, host=host, port=port, threads=threads, workers=workers, dev=dev)


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@pass_ctx
def demo(ctx: _Context, host: str, port: int) -> None:
    """Seed the demo organization (once) and serve it."""
    ctx.serving_at(host, port)
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
        f"  token=$(curl -s -X POST {base}/channels/webchat/{DEMO_SLUG}/visitors"
        " | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])')\n"
        f"  curl -s {base}/channels/webchat/{DEMO_SLUG}/messages \\\n"
        "       -H \"Authorization: Bearer $token\" -H 'Content-Type: application/json' \\\n"
        '       -d \'{"text": "How do I reset my PIN?"}\'\n'
        f"  .venv/bin/imaradesk chat --org {DEMO_SLUG}          (in another terminal)\n"
        f"Agent console: {base}/console  (sign in as {DEMO_ADMIN} / {DEMO_PASSWORD})\n"
        f"Twilio webhook: {base}/channels/twilio/{DEMO_SLUG}/messages "
        f"(auth token {DEMO_TWILIO_TOKEN!r}; set your own with org create)\n",
        highlight=False,
        # Commands to copy: a wrapped line would break them.
        soft_wrap=True,
    )
    _serve(services, host=host, port=port, threads=8, workers=1, dev=False)


# An upload still "processing" after this has lost its worker (RQ's job timeout is an hour).
STALLED_UPLOAD = timedelta(hours=2)
# Replies older than a day are not resent: WhatsApp's service window has closed on them.
RESEND_WITHIN = timedelta(hours=24)
# Seconds between passes over the pending turns (see bot/background_turns).
PENDING_TURNS_EVERY = 2.0


def _metrics_gone(pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def control_socket_path(data_dir: Path, port: int) -> str:
    """This instance's gunicorn control socket: beside its data, named by its port."""
    path = str((data_dir / f"gunicorn-{port}.ctl").resolve())
    if len(path) < _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(path.encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"imaradesk-{digest}.ctl")


# A Unix socket's path has to fit in sockaddr_un (108 bytes on Linux, 104 on macOS).
_MAX_SOCKET_PATH = 100


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

    def start_serving() -> None:
        # On a thread of its own: the main thread of a forked worker inherits OpenMP's thread
        # team from the process it was forked from, whose threads are gone, and the
        # multilingual engine's first parallel step would wait for them forever (libgomp).
        # A new thread starts a team of its own, as the request threads do.
        warm_up = threading.Thread(target=services.warm_up_readers, name="warm-up")
        warm_up.start()
        warm_up.join()
        resume_uploads()

    def resume_uploads() -> None:
        # Uploads a stopped server was reading are read again (with Redis, RQ keeps them). In
        # the process that serves: threads started before a fork would not exist after it.
        if services.settings.job_queue == "thread" and workers == 1:
            resumed = services.ingestion.resume_unfinished()
            if resumed:
                console.print(f"Resumed {resumed} unfinished upload(s).")
        # Replies a stopped server stored but never sent go out now (each worker may try: a
        # reply is claimed by one sender at a time).
        services.outbound.resend_unsent(services.organizations, within=RESEND_WITHIN)
        if services.settings.job_queue == "thread":
            # This process runs its own jobs: it also queues the messages kept for later (with
            # RQ the sweeper, `imaradesk worker`, does).
            threading.Thread(
                target=services.background_turns.resume_forever,
                args=(PENDING_TURNS_EVERY,),
                name="pending-turns",
                daemon=True,
            ).start()

    if dev:
        start_serving()
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
            # The master opened database connections (migrations, warm-up): a forked worker
            # must not use them, or two processes talk over one connection.
            self.cfg.set("post_fork", lambda _server, _worker: _after_fork(services, workers))
            self.cfg.set("post_worker_init", lambda _worker: start_serving())
            # Gunicorn's default control socket is one path per user: a second instance on
            # the machine took it over, and stopping either removed the other's.
            self.cfg.set("control_socket", control_socket_path(services.settings.data_dir, port))

        def load(self):
            return app

    _Gunicorn().run()


def _after_fork(services: Services, workers: int) -> None:
    from imaradesk.knowledge_index.embedder import limit_encoder_threads

    services.database.engine.dispose(close=False)
    threads = services.settings.encoder_threads or max(1, (os.cpu_count() or 1) // workers)
    limit_encoder_threads(threads)


@click.command("worker")
@click.option(
    "--every", "interval", default=3600, show_default=True, type=int, help="Seconds between sweeps."
)
@click.option("--once", is_flag=True, help="Sweep once and exit.")
@click.option(
    "--jobs",
    "background_jobs",
    is_flag=True,
    help="Instead, run queued background work from Redis (RQ): customers' turns, uploads.",
)
@click.option("--burst", is_flag=True, help="With --jobs: stop when the queues are empty.")
@pass_ctx
def worker(ctx: _Context, interval: int, once: bool, background_jobs: bool, burst: bool) -> None:
    """Run scheduled jobs: the retention sweep (one worker at a time when Redis is configured)
    and, every few seconds, queue the customers' messages kept for later (over their
    organization's quota, or whose job was lost with a worker or with Redis).

    With --jobs, run the background work the web processes queue instead (IMARADESK_JOB_QUEUE
    =redis): turns of organizations whose answers an LLM writes, and document ingestion.
    """
    services = ctx.services
    if background_jobs:
        _work_on_queues(services, burst=burst)
        return
    next_sweep = 0.0
    while True:
        if time.monotonic() >= next_sweep:
            next_sweep = time.monotonic() + interval
            _sweep(services)
        if services.settings.job_queue == "redis":
            # Often, not hourly: a message kept over its quota or whose job was lost waits. (On
            # the embedded default the serving process, which runs the turns, does this.)
            try:
                services.background_turns.resume()
            except Exception:  # the database may be away a moment; the next pass tries again
                logging.getLogger(__name__).exception("resuming pending turns failed")
        if once:
            return
        time.sleep(max(0.0, min(PENDING_TURNS_EVERY, next_sweep - time.monotonic())))


def _sweep(services: Services) -> None:
    try:
        with services.locks.hold("job:retention-sweep"):
            report = services.stewardship.sweep()
        err_console.print(json.dumps(report.as_dict()))
        services.outbound.resend_unsent(services.organizations, within=RESEND_WITHIN)
        services.ingestion.fail_stalled(older_than=STALLED_UPLOAD)
    except Exception:  # the worker outlives a bad run; the next one tries again
        logging.getLogger(__name__).exception("retention sweep failed")


def _work_on_queues(services: Services, *, burst: bool) -> None:
    from rq import SimpleWorker

    from imaradesk.runtime.jobs import RQJobQueue
    from imaradesk.services import use_services

    if not isinstance(services.jobs, RQJobQueue) or services.redis is None:
        raise click.ClickException(
            "--jobs needs IMARADESK_JOB_QUEUE=redis and IMARADESK_REDIS_URL: without them the "
            "web process runs its background work itself"
        )
    # Tasks use these services (loaded model, open pools) instead of building their own; a
    # SimpleWorker runs jobs in this process, so they are built once, not once per job.
    use_services(services)
    while True:
        rq_worker = SimpleWorker(services.jobs.queues, connection=services.redis)
        try:
            rq_worker.work(burst=burst)
        except redis.RedisError:
            pass  # Redis went away while the worker registered or left
        # RQ's worker quits when it loses Redis: this process (and its loaded models) waits
        # for Redis instead, or a restart of Redis would stop the whole topology.
        if burst or getattr(rq_worker, "_stop_requested", False):
            return
        logging.getLogger(__name__).warning("lost Redis; taking jobs again in a second")
        time.sleep(1.0)
