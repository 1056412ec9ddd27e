"""Finding personal data in Kenyan customer messages and replacing it with placeholders.

Detects phone numbers (``phonenumbers``, Kenya as the default region), email addresses, KRA
PINs (validated with ``python-stdnum``), M-Pesa transaction codes, national ID numbers (only
next to words that say they are one, since any 8 digits could be an amount), and names (after
"my name is", "naitwa", "jina langu ni" and the like, and names the caller already knows, such
as the WhatsApp profile name). The same value always gets the same placeholder within one
text, and ``Redaction.restore`` puts the originals back into a reply written with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import phonenumbers
from stdnum.ke import pin as kra_pin

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_KRA_PIN = re.compile(r"(?i)\b[ap]\d{9}[a-z]\b")
_MPESA_CANDIDATE = re.compile(r"(?i)\b[a-z][a-z0-9]{9}\b")
_MPESA_CONTEXT = re.compile(
    r"(?i)\b(m-?pesa|mpesa|confirmed|transaction|trans(?:action)? (?:id|code)|code|ref(?:erence)?|"
    r"muamala|namba ya muamala|receipt|risiti)\b"
)
_NATIONAL_ID = re.compile(
    r"(?i)(?:\bid\b|\bi\.d\.?|national id|id (?:no|number|namba)|kitambulisho(?: changu)?|"
    r"namba ya (?:id|kitambulisho)|nambari ya kitambulisho)"
    r"[\s:#.\-]*(?:(?:no|number|namba|ni|is)\b[\s:#.\-]*)?(\d{7,8})\b"
)
_NAME_CUE = re.compile(
    r"(?i)\b(?:my name is|my names are|name:|names:|i am called|call me|this is|"
    r"naitwa|jina langu ni|majina yangu ni|mimi ni|it'?s)\s+"
)
_NAME_WORD = re.compile(r"[A-Za-zÀ-ÿ'’-]{2,}")
# Words that follow a cue but are not names ("this is urgent", "mimi ni mteja").
_NOT_NAMES = frozenset(
    """
    a an the and or but not my your our urgent wrong correct right about from for to at on in is
    was be been very so too just also please here there it that this what who when where why how
    mteja na wa ya kwa ni sio si tu pia hapa sasa leo mimi wewe yeye sisi nyinyi wao customer
    calling writing asking trying going happy sad angry fine ok okay sorry new old same different
    """.split()
)
_MAX_NAME_WORDS = 3


@dataclass(frozen=True)
class Redaction:
    text: str
    replacements: dict[str, str] = field(default_factory=dict)

    def restore(self, text: str) -> str:
        """Put the original values back where a reply uses the placeholders."""
        for placeholder, original in self.replacements.items():
            text = text.replace(placeholder, original)
        return text

    @property
    def found(self) -> bool:
        return bool(self.replacements)


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str


class Redactor:
    def __init__(self, *, region: str = "KE") -> None:
        self._region = region

    def redact(self, text: str, *, names: Iterable[str] = ()) -> Redaction:
        spans = self._find(text, names)
        if not spans:
            return Redaction(text)
        counters: dict[str, int] = {}
        by_value: dict[tuple[str, str], str] = {}
        replacements: dict[str, str] = {}
        out: list[str] = []
        last = 0
        for span in spans:
            original = text[span.start : span.end]
            key = (span.kind, original.casefold())
            placeholder = by_value.get(key)
            if placeholder is None:
                counters[span.kind] = counters.get(span.kind, 0) + 1
                placeholder = f"[{span.kind}_{counters[span.kind]}]"
                by_value[key] = placeholder
                replacements[placeholder] = original
            out.append(text[last : span.start])
            out.append(placeholder)
            last = span.end
        out.append(text[last:])
        return Redaction("".join(out), replacements)

    def _find(self, text: str, names: Iterable[str]) -> list[_Span]:
        candidates: list[_Span] = []
        candidates += [_Span(m.start(), m.end(), "EMAIL") for m in _EMAIL.finditer(text)]
        candidates += [
            _Span(m.start(), m.end(), "KRA_PIN")
            for m in _KRA_PIN.finditer(text)
            if kra_pin.is_valid(m.group().upper())
        ]
        candidates += self._phones(text)
        candidates += [
            _Span(m.start(1), m.end(1), "ID_NUMBER") for m in _NATIONAL_ID.finditer(text)
        ]
        has_context = bool(_MPESA_CONTEXT.search(text))
        for m in _MPESA_CANDIDATE.finditer(text):
            token = m.group()
            digits = sum(c.isdigit() for c in token)
            letters = sum(c.isalpha() for c in token)
            if digits >= 2 and letters >= 3 and (token.isupper() or has_context):
                candidates.append(_Span(m.start(), m.end(), "MPESA_CODE"))
        candidates += self._names(text, names)
        return _non_overlapping(candidates)

    def _phones(self, text: str) -> list[_Span]:
        spans = []
        for match in phonenumbers.PhoneNumberMatcher(text, self._region):
            spans.append(_Span(match.start, match.end, "PHONE"))
        return spans

    def _names(self, text: str, known: Iterable[str]) -> list[_Span]:
        spans = []
        for cue in _NAME_CUE.finditer(text):
            position = cue.end()
            words = 0
            end = position
            for word in _NAME_WORD.finditer(text, position):
                gap = text[end : word.start()]
                if words and gap.strip():
                    break
                if word.group().casefold() in _NOT_NAMES:
                    break
                end = word.end()
                words += 1
                if words == _MAX_NAME_WORDS:
                    break
            if words:
                spans.append(_Span(position, end, "NAME"))
        for name in known:
            for part in {p for p in re.split(r"\s+", name.strip()) if len(p) >= 3}:
                if part.casefold() in _NOT_NAMES:
                    continue
                for m in re.finditer(rf"(?i)(?<!\w){re.escape(part)}(?!\w)", text):
                    spans.append(_Span(m.start(), m.end(), "NAME"))
        return spans


def _non_overlapping(spans: list[_Span]) -> list[_Span]:
    """Keep the earliest, then longest, span wherever spans overlap."""
    chosen: list[_Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        if chosen and span.start < chosen[-1].end:
            continue
        chosen.append(span)
    return chosen
