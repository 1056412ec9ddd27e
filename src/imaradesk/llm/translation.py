"""What the agent console shows of a customer message's language, and its machine translation.

Each customer message gets the language it is plainly written in (the shared detector; an
unclear one gets no label). An agent may ask for an English translation of a message in another
language, only where the AI gateway lets this organization's text leave and the contact has not
restricted processing; the gateway redacts the text, restores the originals in the answer and
records the call's usage. Nothing is stored: a translation is asked for each time it is wanted.

Errors::

    TranslationError         no translation
     ├── TranslationRefused  this organization or contact keeps its text from AI providers
     └── TranslationFailed   the provider failed, or answered with something unusable
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from imaradesk.llm.gateway import AIGateway
from imaradesk.policies.language import LanguageDetector
from imaradesk.storage.models import Contact, Direction, Message, Organization

PURPOSE = "translation"
TARGET_LANGUAGE = "en"
# How agents read a language's name: Swahili speakers' own word for theirs.
LABELS = {"en": "English", "sw": "Kiswahili"}
# Longer messages are cut, not refused: the agent still sees the gist, at a bounded cost.
MAX_SOURCE_CHARS = 2000
_MAX_TOKENS = 800

SYSTEM_PROMPT = """\
You translate messages that customers of {org} wrote in Swahili, Sheng or a mix of Swahili and \
English into plain English, for a support agent.
- Reply with the English translation only: no notes, no quotes, no answer to the customer.
- Keep the customer's meaning and tone; do not add or leave out anything.
- Placeholders such as [PHONE_1] stand for the customer's details; leave them as they are.\
"""

# A placeholder the model made up (the gateway puts back the real ones before we see the text).
_PLACEHOLDER = re.compile(r"\[[A-Z]+(?:_[A-Z]+)*_\d+\]")


class TranslationError(Exception):
    pass


class TranslationRefused(TranslationError):
    pass


class TranslationFailed(TranslationError):
    pass


class TranslationOffer(StrEnum):
    """Whether the console offers translation in a conversation, and if not, why."""

    OFFERED = "offered"
    # The organization keeps its data from AI providers, or has none configured: say nothing.
    NO_AI = "no_ai"
    # The contact restricted processing of their data: the agent is told why there is none.
    RESTRICTED = "restricted"


@dataclass(frozen=True)
class MessageLanguage:
    code: str
    label: str

    @property
    def translatable(self) -> bool:
        return self.code != TARGET_LANGUAGE


@dataclass(frozen=True)
class ThreadLanguages:
    """The languages of a conversation's customer messages and what may be done with them."""

    by_message: dict[int, MessageLanguage]
    offer: TranslationOffer

    def of(self, message_id: int | None) -> MessageLanguage | None:
        return self.by_message.get(message_id) if message_id is not None else None


@dataclass(frozen=True)
class Translation:
    text: str
    # How many personal details the provider saw only as placeholders.
    redacted_values: int


class MessageTranslator:
    """Labels customer messages with their language and translates them through the gateway."""

    def __init__(self, gateway: AIGateway, languages: LanguageDetector) -> None:
        self._gateway = gateway
        self._languages = languages

    def language_of(self, org: Organization, text: str) -> MessageLanguage | None:
        """The language ``text`` is plainly written in; None when short or unclear."""
        # The organization's own name ("Imara Pesa") says nothing about the customer's language.
        code = self._languages.language_of(text, names=(org.name,))
        if code is None:
            return None
        return MessageLanguage(code, LABELS.get(code, code))

    def offer(self, org: Organization, contact: Contact) -> TranslationOffer:
        # The gateway's own decision, asked twice only to tell the agent which one said no.
        if not self._gateway.allowed_for(org):
            return TranslationOffer.NO_AI
        if not self._gateway.allowed_for(org, contact_restricted=contact.restricted):
            return TranslationOffer.RESTRICTED
        return TranslationOffer.OFFERED

    def thread(
        self, org: Organization, contact: Contact, messages: Sequence[Message]
    ) -> ThreadLanguages:
        """The language of each customer message with a text, and the translation offer."""
        labels: dict[int, MessageLanguage] = {}
        for message in messages:
            if message.direction != Direction.INBOUND or message.id is None or not message.body:
                continue
            language = self.language_of(org, message.body)
            if language is not None:
                labels[message.id] = language
        return ThreadLanguages(labels, self.offer(org, contact))

    def translate(self, org: Organization, contact: Contact, message: Message) -> Translation:
        """The customer message in English.

        Raises:
            TranslationRefused: the organization or the contact keeps this text from AI.
            TranslationFailed: the provider failed or its answer was unusable.
        """
        if message.direction != Direction.INBOUND or not message.body.strip():
            raise TranslationFailed("only a customer's written message can be translated")
        if self.offer(org, contact) is not TranslationOffer.OFFERED:
            raise TranslationRefused("this text may not be sent to an AI provider")
        call = self._gateway.call(
            org,
            purpose=PURPOSE,
            system=SYSTEM_PROMPT.format(org=org.name),
            prompt=message.body[:MAX_SOURCE_CHARS],
            names=_names(contact),
            contact_restricted=contact.restricted,
            max_tokens=_MAX_TOKENS,
        )
        if call is None:  # the gateway changed its mind between the check and the call
            raise TranslationRefused("this text may not be sent to an AI provider")
        text = (call.text or "").strip()
        usable = bool(text) and not _PLACEHOLDER.search(text)
        outcome = None if call.text is None else ("ok" if usable else "rejected")
        self._gateway.record(org, call, purpose=PURPOSE, outcome=outcome)
        if not usable:
            raise TranslationFailed(f"no usable translation ({call.failure or 'rejected'})")
        return Translation(text, call.redacted_values)


def _names(contact: Contact) -> Iterable[str]:
    """Names the redactor should hide even without a cue ("my name is") before them."""
    return [contact.display_name] if contact.display_name else []
