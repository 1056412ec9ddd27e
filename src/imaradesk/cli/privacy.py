"""Privacy requests, legal holds, retention, account closure, notices, exports."""

from __future__ import annotations

import getpass
import json
import logging
import time

import click

from imaradesk.analytics.exports import daily_counts, training_examples
from imaradesk.cli.base import _Context, _org_or_exit, console, err_console, main, pass_ctx
from imaradesk.cli.organizations import org
from imaradesk.compliance.desk import PrivacyError
from imaradesk.compliance.retention import RetentionError
from imaradesk.services import Services
from imaradesk.storage.models import PrivacyRequestStatus

# -- privacy, holds, retention ------------------------------------------------------------------


@main.group()
def privacy() -> None:
    """Data-protection requests."""


@privacy.command("list")
@click.option("--org", "org_slug", required=True)
@click.option("--overdue", is_flag=True, help="Only requests past their due date.")
@pass_ctx
def privacy_list(ctx: _Context, org_slug: str, overdue: bool) -> None:
    """Open requests by due date, flagged when overdue or nearly due; minors due for review."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    rows = services.privacy.open_requests(org, overdue_only=overdue)
    if not rows:
        console.print("No open requests." if not overdue else "No overdue requests.")
    for request, flag in rows:
        marker = (
            f"[red]{flag.upper()}[/]"
            if flag == "overdue"
            else (f"[yellow]{flag}[/]" if flag else "")
        )
        console.print(
            f"#{request.id}\t{request.right}\t{request.status}"
            f"\treceived {request.received_at:%Y-%m-%d}\tdue {request.due_at:%Y-%m-%d}\t{marker}"
        )
    for contact in services.stewardship.minors_due_for_review(org):
        console.print(
            f"contact #{contact.id}\tminor"
            f"\terasure review due {contact.erasure_review_due:%Y-%m-%d}"
        )


@privacy.command("close")
@click.option("--org", "org_slug", required=True)
@click.argument("request_id", type=int)
@click.option(
    "--status", type=click.Choice(["completed", "refused"]), default="completed", show_default=True
)
@click.option("--note", default=None, help="What was done (no personal data).")
@click.option(
    "--by", "actor", default=lambda: f"admin:{getpass.getuser()}", show_default="admin:<user>"
)
@pass_ctx
def privacy_close(
    ctx: _Context, org_slug: str, request_id: int, status: str, note: str | None, actor: str
) -> None:
    """Record that a person completed or refused a request."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    try:
        services.privacy.set_status(
            org, request_id, PrivacyRequestStatus(status), actor=actor, outcome=note
        )
    except PrivacyError as e:
        raise click.ClickException(str(e)) from e
    console.print(f"Request #{request_id} {status}.")


@privacy.command("erase")
@click.option("--org", "org_slug", required=True)
@click.argument("contact_id", type=int)
@click.option("--yes", is_flag=True)
@click.option(
    "--by", "actor", default=lambda: f"admin:{getpass.getuser()}", show_default="admin:<user>"
)
@pass_ctx
def privacy_erase(ctx: _Context, org_slug: str, contact_id: int, yes: bool, actor: str) -> None:
    """Erase a contact everywhere (e.g. a minor after review, or a request a person handled)."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    if not yes:
        click.confirm(f"Erase contact #{contact_id} of {org_slug}?", abort=True)
    try:
        report = services.privacy.erase(org, contact_id, request_id=None, actor=actor)
    except PrivacyError as e:
        raise click.ClickException(str(e)) from e
    console.print(f"Erased contact #{contact_id}: {report.counts.messages} messages.")


@main.group()
def hold() -> None:
    """Legal holds: data under hold is neither swept nor erased."""


@hold.command("place")
@click.option("--org", "org_slug", required=True)
@click.option(
    "--scope", type=click.Choice(["organization", "contact", "conversation"]), required=True
)
@click.option("--id", "target_id", type=int, default=None, help="Contact or conversation id.")
@click.option("--reason", required=True)
@click.option(
    "--by", "actor", default=lambda: f"admin:{getpass.getuser()}", show_default="admin:<user>"
)
@pass_ctx
def hold_place(
    ctx: _Context, org_slug: str, scope: str, target_id: int | None, reason: str, actor: str
) -> None:
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    try:
        placed = services.stewardship.place_hold(
            org, scope=scope, target_id=target_id, reason=reason, actor=actor
        )
    except RetentionError as e:
        raise click.ClickException(str(e)) from e
    console.print(f"Hold #{placed.id} placed on {scope} {placed.target_id}.")


@hold.command("lift")
@click.option("--org", "org_slug", required=True)
@click.argument("hold_id", type=int)
@click.option(
    "--by", "actor", default=lambda: f"admin:{getpass.getuser()}", show_default="admin:<user>"
)
@pass_ctx
def hold_lift(ctx: _Context, org_slug: str, hold_id: int, actor: str) -> None:
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    try:
        services.stewardship.lift_hold(org, hold_id, actor=actor)
    except RetentionError as e:
        raise click.ClickException(str(e)) from e
    console.print(f"Hold #{hold_id} lifted.")


@hold.command("list")
@click.option("--org", "org_slug", required=True)
@pass_ctx
def hold_list(ctx: _Context, org_slug: str) -> None:
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    for h in services.stewardship.holds(org):
        console.print(
            f"#{h.id}\t{h.scope} {h.target_id}\tby {h.placed_by}"
            f" on {h.placed_at:%Y-%m-%d}\t{h.reason}"
        )


@main.group()
def retention() -> None:
    """Retention of personal data."""


@retention.command("sweep")
@pass_ctx
def retention_sweep(ctx: _Context) -> None:
    """Delete what has passed its retention everywhere, except what is on hold; print counts."""
    report = ctx.services.stewardship.sweep()
    console.print_json(json.dumps(report.as_dict()))


@main.command()
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
    """Run scheduled jobs: the retention sweep (one worker at a time when Redis is configured).

    With --jobs, run the background work the web processes queue instead (IMARADESK_JOB_QUEUE
    =redis): turns of organizations whose answers an LLM writes, and document ingestion.
    """
    services = ctx.services
    if background_jobs:
        _work_on_queues(services, burst=burst)
        return
    while True:
        try:
            with services.locks.hold("job:retention-sweep"):
                report = services.stewardship.sweep()
            err_console.print(json.dumps(report.as_dict()))
        except Exception:  # the worker outlives a bad run; the next one tries again
            logging.getLogger(__name__).exception("retention sweep failed")
        if once:
            return
        time.sleep(interval)


@org.command("close")
@click.argument("slug")
@click.option("--yes", is_flag=True)
@pass_ctx
def org_close(ctx: _Context, slug: str, yes: bool) -> None:
    """Close the account: everything is deleted 30 days later unless reopened."""
    services = ctx.services
    org = _org_or_exit(services, slug)
    if not yes:
        click.confirm(f"Close {slug}? Its data is deleted in 30 days", abort=True)
    due = services.stewardship.close_account(org, actor=f"admin:{getpass.getuser()}")
    console.print(f"{slug} is closed; its data will be deleted on {due:%Y-%m-%d} unless reopened.")


@org.command("reopen")
@click.argument("slug")
@pass_ctx
def org_reopen(ctx: _Context, slug: str) -> None:
    services = ctx.services
    org = _org_or_exit(services, slug)
    try:
        services.stewardship.reopen_account(org, actor=f"admin:{getpass.getuser()}")
    except RetentionError as e:
        raise click.ClickException(str(e)) from e
    console.print(f"{slug} is open again; its deletion is cancelled.")


@org.command("notice")
@click.argument("slug")
@click.option("--text", required=True, help="The notice; {org_name} is replaced by the name.")
@click.option(
    "--minor", is_flag=True, help="A wording fix: returning customers are not asked again."
)
@pass_ctx
def org_notice(ctx: _Context, slug: str, text: str, minor: bool) -> None:
    """Publish a new privacy notice version."""
    services = ctx.services
    org = _org_or_exit(services, slug)
    assert org.id is not None
    version = services.organizations.publish_notice(org.id, text, material=not minor)
    console.print(f"Privacy notice v{version} of {slug} published.")


@main.group()
def contact() -> None:
    """Contacts."""


@contact.command("flag-minor")
@click.option("--org", "org_slug", required=True)
@click.argument("contact_id", type=int)
@pass_ctx
def contact_flag_minor(ctx: _Context, org_slug: str, contact_id: int) -> None:
    """Mark a contact as under 18; schedules the review of their erasure."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    try:
        due = services.stewardship.flag_minor(org, contact_id, actor=f"admin:{getpass.getuser()}")
    except RetentionError as e:
        raise click.ClickException(str(e)) from e
    console.print(f"Contact #{contact_id} flagged as a minor; erasure review due {due:%Y-%m-%d}.")


# -- exports ------------------------------------------------------------------------------


@main.group()
def export() -> None:
    """Exports that leave the product (organizations excluded from training never appear)."""


@export.command("training")
@click.option("--out", type=click.File("w"), default="-", show_default=True)
@pass_ctx
def export_training(ctx: _Context, out) -> None:  # noqa: ANN001
    """Redacted customer questions with the entry that answered them, as JSON lines."""
    count = 0
    for example in training_examples(ctx.services.database):
        out.write(json.dumps(example.__dict__, ensure_ascii=False) + "\n")
        count += 1
    err_console.print(f"{count} examples exported.")


@export.command("analytics")
@click.option("--out", type=click.File("w"), default="-", show_default=True)
@pass_ctx
def export_analytics(ctx: _Context, out) -> None:  # noqa: ANN001
    """Counts per organization and day, as JSON lines."""
    for row in daily_counts(ctx.services.database):
        out.write(json.dumps(row) + "\n")


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
    SimpleWorker(services.jobs.queues, connection=services.redis).work(burst=burst)
