"""``imaradesk privacy``: data-protection requests."""

from __future__ import annotations

import getpass

import click

from imaradesk.cli.base import _Context, _org_or_exit, console, pass_ctx
from imaradesk.compliance.desk import PrivacyError
from imaradesk.storage.models import PrivacyRequestStatus


@click.group("privacy")
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
