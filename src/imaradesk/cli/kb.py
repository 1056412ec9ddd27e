"""``imaradesk kb``: an organization's knowledge base (FAQ files, documents, Rasa data)."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.progress import BarColumn, Progress, TextColumn

from imaradesk.cli.base import _Context, _org_or_exit, console, err_console, pass_ctx
from imaradesk.knowledge_index.documents import ImportFormatError
from imaradesk.knowledge_index.ingestion import INGEST_TASK, JobView, UploadRejected
from imaradesk.knowledge_index.rasa_data import is_rasa_path, load_rasa_files
from imaradesk.services import Services
from imaradesk.storage.models import DocumentStatus, Organization
from imaradesk.storage.repositories import EntryConflict, OrgData


@click.group("kb")
def kb() -> None:
    """Manage an organization's knowledge base."""


@kb.command("import")
@click.option("--org", "org_slug", required=True, help="Organization slug.")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--timeout",
    default=900,
    show_default=True,
    type=click.IntRange(1, 86400),
    help="Seconds to wait for the files to be read before giving up waiting.",
)
@pass_ctx
def kb_import(ctx: _Context, org_slug: str, files: tuple[Path, ...], timeout: int) -> None:
    """Import FAQ files and documents, or Rasa training data.

    CSV (question,answer[,id,category]), Markdown, HTML, text, PDF and DOCX files are read like
    uploads in the console, each as its own background job with progress; a file that cannot
    be read fails alone and leaves the others. Rasa files (nlu.yml, domain.yml, rules, stories)
    are read together, one entry per intent with a response.
    """
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    assert org.id is not None
    rasa_files = tuple(p for p in files if is_rasa_path(p))
    documents = tuple(p for p in files if not is_rasa_path(p))
    failed = 0
    if rasa_files:
        failed += _import_rasa(services, org, rasa_files)
    if documents:
        failed += _ingest_with_progress(services, org.id, documents, timeout=timeout)
    with services.database.read() as session:
        data = OrgData(session, org.id)
        entries, phrasings = len(data.entries(enabled_only=True)), len(data.phrasings())
    console.print(f"The knowledge base now has {entries} entries and {phrasings} phrasings.")
    if failed:
        raise click.exceptions.Exit(1)


def _import_rasa(services: Services, org: Organization, paths: tuple[Path, ...]) -> int:
    try:
        rasa = load_rasa_files(paths)
    except ImportFormatError as e:
        err_console.print(f"[red]{e}[/] (nothing was imported from the Rasa files)")
        return 1
    for warning in rasa.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
    assert org.id is not None
    try:
        report = services.knowledge.import_documents(org.id, rasa.documents)
    except EntryConflict as e:
        err_console.print(f"[red]{e}[/] (nothing was imported from the Rasa files)")
        return 1
    change = report.change
    console.print(
        f"Rasa data ({', '.join(report.sources)}): {change.created} new, {change.updated} "
        f"updated, {change.unchanged} unchanged, {change.removed} removed."
    )
    return 0


def _ingest_with_progress(
    services: Services, org_id: int, paths: tuple[Path, ...], *, timeout: int
) -> int:
    """Queue every file as a job and follow the job records until each ends (or ``timeout``:
    the jobs stay queued, and a worker reads them when one runs)."""
    uploads = []
    for path in paths:
        data = path.read_bytes()
        try:
            services.ingestion.check(path.name, data)
        except UploadRejected as e:
            raise click.ClickException(f"{e} (nothing was imported)") from e
        uploads.append((path.name, data))
    jobs = []
    for name, data in uploads:
        job = services.ingestion.create_job(org_id, name, data, uploaded_by="cli")
        services.jobs.enqueue(INGEST_TASK, org_id=org_id, job_id=job.id)
        jobs.append(job)
    if services.jobs.workers_listening() == 0:
        err_console.print(
            "[yellow]No background worker is running (imaradesk worker --jobs): the files "
            "are queued and will be read when one starts.[/]"
        )
    deadline = time.monotonic() + timeout
    finished: dict[int, JobView] = {}
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[stage]}"),
        console=err_console,
        disable=not err_console.is_terminal,
        transient=True,
    ) as progress:
        bars = {
            job.id: progress.add_task(job.document_name, total=100, stage="queued") for job in jobs
        }
        while len(finished) < len(jobs):
            for job in jobs:
                current = services.ingestion.job(org_id, job.id)
                if job.id in finished or current is None:
                    continue
                stage = current.stage
                if current.total and not current.finished:
                    stage = f"{stage} {current.done}/{current.total}"
                progress.update(bars[job.id], completed=current.percent, stage=stage)
                if current.finished:
                    finished[job.id] = current
            if len(finished) < len(jobs):
                if time.monotonic() > deadline:
                    raise click.ClickException(
                        f"{len(jobs) - len(finished)} file(s) still not read after {timeout} s: "
                        "they stay queued (is `imaradesk worker --jobs` running?); see "
                        "`imaradesk kb list` or the console for their progress"
                    )
                time.sleep(0.2)
    failed = 0
    for job in jobs:
        result = finished[job.id]
        if result.status == DocumentStatus.FAILED:
            failed += 1
            err_console.print(f"[red]{result.error}[/] (this file was not imported)")
        else:
            console.print(
                f"{result.document_name}: {result.created} new, {result.updated} updated, "
                f"{result.removed} removed."
            )
    return failed


@kb.command("list")
@click.option("--org", "org_slug", required=True)
@pass_ctx
def kb_list(ctx: _Context, org_slug: str) -> None:
    """List the entries of a knowledge base."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    assert org.id is not None
    with services.database.read() as session:
        for entry in OrgData(session, org.id).entries():
            console.print(
                f"#{entry.id}\t{entry.external_id}\t{entry.category or '-'}\t{entry.question}"
            )
