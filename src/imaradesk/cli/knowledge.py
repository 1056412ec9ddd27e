"""The knowledge base and the terminal chat."""

from __future__ import annotations

import getpass
import uuid
from pathlib import Path

import click
import phonenumbers
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from imaradesk.bot.messages import InboundMessage, ReplyKind
from imaradesk.cli.base import _Context, _org_or_exit, console, err_console, main, pass_ctx
from imaradesk.knowledge_index.documents import ImportFormatError, ParsedDocument, parse_file
from imaradesk.knowledge_index.knowledge_base import ImportReport
from imaradesk.services import Services
from imaradesk.storage.models import Organization
from imaradesk.storage.repositories import OrgData

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
