"""``imaradesk chat``: talk to an organization's bot in the terminal."""

from __future__ import annotations

import getpass
import uuid

import click
import phonenumbers

from imaradesk.channels.messages import InboundMessage, ReplyKind
from imaradesk.cli.base import _Context, _org_or_exit, console, pass_ctx


@click.command("chat")
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
