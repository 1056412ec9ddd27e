"""The ``imaradesk`` command."""

from __future__ import annotations

import getpass
import json
import logging
import sys
import time
import uuid
from pathlib import Path

import click
import phonenumbers
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from imaradesk.backup import BackupError, BackupService
from imaradesk.bot.messages import InboundMessage, ReplyKind
from imaradesk.compliance.desk import PrivacyError
from imaradesk.compliance.retention import RetentionError
from imaradesk.console.accounts import AccountError
from imaradesk.console.mailer import MailError
from imaradesk.console.setup import DeskSetup, SetupError
from imaradesk.demo.seed import (
    DEMO_ADMIN,
    DEMO_NAME,
    DEMO_PASSWORD,
    DEMO_SLUG,
    DEMO_TWILIO_TOKEN,
    seed_demo,
)
from imaradesk.exports import daily_counts, training_examples
from imaradesk.knowledge_index.documents import ImportFormatError, ParsedDocument, parse_file
from imaradesk.knowledge_index.knowledge_base import ImportReport
from imaradesk.log_config import configure_logging
from imaradesk.organizations import OrganizationExists
from imaradesk.services import Services, build_services
from imaradesk.settings import Settings
from imaradesk.storage.encryption import MasterKeyError, generate_master_key_spec
from imaradesk.storage.models import HandoffStatus, Organization, PrivacyRequestStatus
from imaradesk.storage.repositories import InvalidSlug, OrgData

console = Console()
err_console = Console(stderr=True)


class _Context:
    """Builds the services on first use, so that commands which need no model load none."""

    def __init__(self, services: Services | None = None) -> None:
        self._services = services

    @property
    def services(self) -> Services:
        if self._services is None:
            try:
                self._services = build_services(Settings())
            except MasterKeyError as e:
                raise click.ClickException(f"cannot start: {e}") from e
            except ValidationError as e:
                raise click.ClickException(f"invalid configuration: {e}") from e
        return self._services


pass_ctx = click.make_pass_decorator(_Context, ensure=True)


def _org_or_exit(services: Services, slug: str) -> Organization:
    org = services.organizations.by_slug(slug)
    if org is None:
        raise click.ClickException(
            f"unknown organization {slug!r} (create it with: imaradesk org create)"
        )
    return org


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """ImaraDesk: a WhatsApp-first AI customer-support desk."""
    configure_logging(level=logging.INFO if verbose else logging.WARNING)


# -- organizations ---------------------------------------------------------------------------


@main.group()
def org() -> None:
    """Manage organizations."""


@org.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The organization's display name.")
@click.option(
    "--twilio-auth-token", default=None, help="Auth token that signs its Twilio webhooks."
)
@click.option("--privacy-policy-url", default=None, help="Link shown in the privacy notice.")
@pass_ctx
def org_create(
    ctx: _Context,
    slug: str,
    name: str,
    twilio_auth_token: str | None,
    privacy_policy_url: str | None,
) -> None:
    """Create an organization."""
    try:
        created = ctx.services.organizations.create(
            slug,
            name=name,
            twilio_auth_token=twilio_auth_token,
            privacy_policy_url=privacy_policy_url,
        )
    except (OrganizationExists, InvalidSlug) as e:
        raise click.ClickException(str(e)) from e
    console.print(f"Created organization [bold]{created.slug}[/] ({created.name}).")
    console.print(f"Twilio webhook: POST /channels/twilio/{created.slug}/messages")


@org.command("set")
@click.argument("slug")
@click.option("--name", default=None)
@click.option("--twilio-auth-token", default=None)
@click.option("--twilio-account-sid", default=None, help="For agent replies through Twilio's API.")
@click.option(
    "--whatsapp-sender", default=None, help="The sending address, e.g. whatsapp:+14155238886."
)
@click.option("--privacy-policy-url", default=None)
@click.option(
    "--external-ai/--no-external-ai", default=None, help="Let text reach external AI providers."
)
@click.option(
    "--exclude-from-training/--include-in-training",
    default=None,
    help="Keep everything of the organization out of training, evaluation and analytics exports.",
)
@click.option("--retention-days", type=click.IntRange(1, 3650), default=None)
@pass_ctx
def org_set(ctx: _Context, slug: str, **options: object) -> None:
    """Change an organization's settings."""
    services = ctx.services
    org = _org_or_exit(services, slug)
    renames = {"external_ai": "external_ai_allowed"}
    changes = {renames.get(k, k): v for k, v in options.items() if v is not None}
    if not changes:
        raise click.UsageError("nothing to change")
    assert org.id is not None
    services.organizations.update(org.id, **changes)
    console.print(f"Updated {slug}: {', '.join(sorted(changes))}.")


@org.command("list")
@pass_ctx
def org_list(ctx: _Context) -> None:
    """List organizations."""
    for o in ctx.services.organizations.all():
        twilio = "twilio" if o.twilio_auth_token else "-"
        console.print(f"{o.slug}\t{o.name}\t{twilio}\tkb revision {o.kb_revision}")


# -- knowledge base --------------------------------------------------------------------------


@main.group()
def kb() -> None:
    """Manage an organization's knowledge base."""


@kb.command("import")
@click.option("--org", "org_slug", required=True, help="Organization slug.")
@click.option(
    "--keep-missing",
    is_flag=True,
    help="Keep entries that an earlier import of the same file had but this one lacks.",
)
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@pass_ctx
def kb_import(ctx: _Context, org_slug: str, keep_missing: bool, files: tuple[Path, ...]) -> None:
    """Import FAQ files (CSV with question,answer[,id,category]; Markdown with ## questions).

    Every file is checked before anything is written: one malformed file imports nothing.
    """
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    documents = _parse_all(files)
    report = _import_with_progress(services, org, documents, prune_missing=not keep_missing)
    _print_import_report(report)


def _parse_all(files: tuple[Path, ...]) -> list[ParsedDocument]:
    documents = []
    for path in files:
        try:
            documents.append(parse_file(path))
        except ImportFormatError as e:
            raise click.ClickException(f"{e} (nothing was imported)") from e
    return documents


def _import_with_progress(
    services: Services, org: Organization, documents: list[ParsedDocument], *, prune_missing: bool
) -> ImportReport:
    assert org.id is not None
    total_phrasings = sum(d.phrasing_count for d in documents)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=total_phrasings < 200 or not err_console.is_terminal,
        transient=True,
    ) as progress:
        task = progress.add_task("Embedding phrasings", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, total=total, advance=done)

        return services.knowledge.import_documents(
            org.id, documents, prune_missing=prune_missing, progress=advance
        )


def _print_import_report(report: ImportReport) -> None:
    change = report.change
    console.print(
        f"Imported {', '.join(report.sources)}: {change.created} new, {change.updated} updated, "
        f"{change.unchanged} unchanged, {change.removed} removed. "
        f"The knowledge base now has {report.entries} entries and {report.phrasings} phrasings "
        f"({report.seconds:.1f} s)."
    )
    training = report.training
    if training.method == "calibrated_classifier":
        console.print(
            f"Answer model: classifier calibrated on {training.held_out} held-out phrasings; "
            f"it would answer {training.held_out_answer_rate:.0%} of them with "
            f"{training.held_out_wrong_rate:.1%} wrong."
        )
    else:
        console.print(
            "Answer model: similarity and margin (add more phrasings per entry, e.g. rows sharing "
            "an id, to let the bot calibrate itself on your questions)."
        )


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


# -- chat ---------------------------------------------------------------------------------


@main.command()
@click.option("--org", "org_slug", required=True)
@click.option("--as", "phone", default=None, help="Chat as this WhatsApp number (E.164 or Kenyan).")
@pass_ctx
def chat(ctx: _Context, org_slug: str, phone: str | None) -> None:
    """Chat in the terminal through the same dialogue manager as WhatsApp."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    if phone:
        channel, sender = "whatsapp", _e164(phone)
    else:
        channel, sender = "cli", f"local-{getpass.getuser()}"
    console.print(f"[dim]Chatting with {org.name} as {sender} ({channel}). Ctrl-D to quit.[/]")
    services.embedder.embed(["warm up"])
    while True:
        try:
            text = console.input("[bold cyan]you>[/] ")
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if not text.strip():
            continue
        current = services.organizations.by_slug(org_slug) or org
        inbound = InboundMessage(
            org_slug=current.slug,
            channel=channel,
            sender_id=sender,
            provider_message_id=f"cli-{uuid.uuid4()}",
            received_at=services.clock.now(),
            text=text,
        )
        turn = services.dialogue.handle(current, inbound)
        if not turn.replies:
            console.print("[dim](no reply)[/]")
        for reply in turn.replies:
            style = "dim" if reply.kind is ReplyKind.PRIVACY_NOTICE else ""
            console.print(
                f"[bold green]bot>[/] [{style}]{reply.text}[/]"
                if style
                else f"[bold green]bot>[/] {reply.text}",
                highlight=False,
            )
            for source in reply.sources:
                console.print(
                    f"     [dim]from entry #{source.entry_id} ({source.external_id}): "
                    f"{source.question!r}, score {source.score:.2f}[/]",
                    highlight=False,
                )
            if reply.handoff:
                console.print("     [yellow]handed off to a human[/]")


def _e164(phone: str) -> str:
    try:
        number = phonenumbers.parse(phone, "KE")
    except phonenumbers.NumberParseException as e:
        raise click.BadParameter(f"not a phone number: {phone}") from e
    if not phonenumbers.is_possible_number(number):
        raise click.BadParameter(f"not a possible phone number: {phone}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# -- handoffs -------------------------------------------------------------------------------


@main.group()
def handoff() -> None:
    """See and resolve handoffs (until the agent console exists)."""


@handoff.command("list")
@click.option("--org", "org_slug", required=True)
@click.option("--all", "show_all", is_flag=True, help="Include resolved handoffs.")
@pass_ctx
def handoff_list(ctx: _Context, org_slug: str, show_all: bool) -> None:
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    assert org.id is not None
    with services.database.read() as session:
        rows = OrgData(session, org.id).handoffs(status=None if show_all else HandoffStatus.OPEN)
        for h in rows:
            console.print(
                f"#{h.id}\t{h.status}\t{h.reason}\tconversation {h.conversation_id}\t"
                f"{h.created_at:%Y-%m-%d %H:%M}"
            )


@handoff.command("resolve")
@click.option("--org", "org_slug", required=True)
@click.argument("handoff_id", type=int)
@pass_ctx
def handoff_resolve(ctx: _Context, org_slug: str, handoff_id: int) -> None:
    """Give the conversation back to the bot."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    assert org.id is not None
    with services.database.write() as session:
        resolved = OrgData(session, org.id).resolve_handoff(handoff_id, now=services.clock.now())
    if resolved is None:
        raise click.ClickException(f"no handoff #{handoff_id} in {org_slug}")
    console.print(f"Resolved handoff #{handoff_id}; the bot answers this customer again.")


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
@pass_ctx
def worker(ctx: _Context, interval: int, once: bool) -> None:
    """Run scheduled jobs: the retention sweep (one worker at a time when Redis is configured)."""
    services = ctx.services
    while True:
        with services.locks.hold("job:retention-sweep"):
            report = services.stewardship.sweep()
        err_console.print(json.dumps(report.as_dict()))
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


# -- the agent console ---------------------------------------------------------------------------


@main.group()
def agent() -> None:
    """Console accounts."""


@agent.command("create")
@click.option("--org", "org_slug", required=True)
@click.argument("email")
@click.option("--name", default=None)
@click.option(
    "--role",
    type=click.Choice(["agent", "admin", "knowledge_manager"]),
    default="agent",
    show_default=True,
)
@click.option("--team", default=None, help="The queue (team) the agent works in; created if new.")
@click.option(
    "--languages", default="en", show_default=True, help="Comma-separated codes, e.g. en,sw."
)
@click.option(
    "--invite", is_flag=True, help="Email an invitation to choose a password instead of asking now."
)
@pass_ctx
def agent_create(
    ctx: _Context,
    org_slug: str,
    email: str,
    name: str | None,
    role: str,
    team: str | None,
    languages: str,
    invite: bool,
) -> None:
    """Create a console account (asks for the password, or emails an invitation)."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    fields = {
        "email": email,
        "name": name or email.split("@")[0],
        "role": role,
        "team": team,
        "languages": [code.strip() for code in languages.split(",") if code.strip()],
    }
    try:
        if invite:
            account = services.accounts.invite(org.id, **fields)  # type: ignore[arg-type]
            console.print(f"Invited {account.email}; they choose their password from the email.")
            return
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        account = services.accounts.create(org.id, password=password, verified=True, **fields)  # type: ignore[arg-type]
    except (AccountError, MailError) as e:
        raise click.ClickException(str(e)) from e
    console.print(f"Created {account.role} {account.email} in {org_slug}.")


@main.group()
def routing() -> None:
    """How handoffs are routed: topic and language rules."""


@routing.command("add")
@click.option("--org", "org_slug", required=True)
@click.option("--topic", default=None, help="A topic name, e.g. fraud.")
@click.option(
    "--keywords", default="", help="Comma-separated words or phrases that mean this topic."
)
@click.option("--language", type=click.Choice(["en", "sw"]), default=None)
@click.option("--team", default=None)
@click.option("--priority", type=click.IntRange(0, 9), default=0, show_default=True)
@click.option("--always-human", is_flag=True, help="Never answered by the bot.")
@click.option(
    "--example", "examples", multiple=True, help="An example message of the topic (repeatable)."
)
@pass_ctx
def routing_add(
    ctx: _Context,
    org_slug: str,
    topic: str | None,
    keywords: str,
    language: str | None,
    team: str | None,
    priority: int,
    always_human: bool,
    examples: tuple[str, ...],
) -> None:
    """Add a topic rule (keywords and examples to a team) or a language rule."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    setup = DeskSetup(services.database)
    try:
        if topic:
            setup.add_topic_rule(
                org.id,  # type: ignore[arg-type]
                topic=topic,
                keywords=keywords.split(","),
                team=team,
                priority=priority,
                always_human=always_human,
                examples=list(examples),
            )
        elif language and team:
            setup.add_language_rule(org.id, language=language, team=team, priority=priority)  # type: ignore[arg-type]
        else:
            raise click.UsageError("give --topic (with --keywords) or --language with --team")
    except SetupError as e:
        raise click.ClickException(str(e)) from e
    console.print("Rule added.")


@routing.command("list")
@click.option("--org", "org_slug", required=True)
@pass_ctx
def routing_list(ctx: _Context, org_slug: str) -> None:
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    for rule, team in DeskSetup(services.database).rules(org.id):  # type: ignore[arg-type]
        flags = " always-human" if rule.always_human else ""
        console.print(
            f"{rule.position}. {rule.kind} {rule.value}\tteam {team or '-'}"
            f"\tpriority {rule.priority}{flags}\t{', '.join(rule.keywords)}"
        )


@main.command("template")
@click.option("--org", "org_slug", required=True)
@click.option("--name", required=True)
@click.option(
    "--content-sid", required=True, help="The approved template's Twilio Content SID (HX...)."
)
@click.option("--body", required=True, help="Its text, as agents will see it.")
@pass_ctx
def template_add(ctx: _Context, org_slug: str, name: str, content_sid: str, body: str) -> None:
    """Add an approved WhatsApp template for replies after the 24-hour window."""
    services = ctx.services
    org = _org_or_exit(services, org_slug)
    try:
        DeskSetup(services.database).add_template(
            org.id, name=name, content_sid=content_sid, body=body
        )  # type: ignore[arg-type]
    except SetupError as e:
        raise click.ClickException(str(e)) from e
    console.print(f"Template {name} added.")


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
    services.organizations.destroy_data(org.id, knowledge=services.knowledge, state=services.state)
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
    seed_demo(services)
    base = f"http://{host}:{port}"
    console.print(
        f"\n[bold]ImaraDesk is running on {base}[/] with the demo organization "
        f"[bold]{DEMO_SLUG}[/] ({DEMO_NAME}, a mobile-money wallet).\n"
        "Try it:\n"
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
    if dev:
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

        def load(self):  # noqa: ANN202
            return app

    _Gunicorn().run()


if __name__ == "__main__":
    sys.exit(main())
