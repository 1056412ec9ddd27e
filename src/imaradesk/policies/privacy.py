"""Recognising data-protection requests in customers' own words, in English and Swahili.

A request names an action on the customer's own data: see or send it (access, portability),
correct it (rectification), stop processing it with AI or analytics (restriction, objection),
allow it again (lift), or erase it. Rules, not a model: they must work for restricted contacts
and be predictable for a regulator. Also here: what a request about someone else looks like,
how long each right may take, and what counts as a "yes".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from imaradesk.policies.text import fold


class PrivacyRight(StrEnum):
    ACCESS = "access"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"
    LIFT_RESTRICTION = "lift_restriction"
    ERASURE = "erasure"


# Deadlines our policy promises (30 days); organizations may set shorter ones per right, since
# Kenyan regulations cite 7 days for access, rectification and erasure.
DEFAULT_DUE_DAYS = {right.value: 30 for right in PrivacyRight}
NEARLY_DUE = timedelta(days=2)

_DATA = (
    r"(?:data|information|info|details|records?|messages?|chats?|conversations?|chat history|"
    r"message history|personal data|everything|all of it|profile|"
    r"taarifa|data|maelezo|rekodi|ujumbe|jumbe|mazungumzo|kila kitu)"
)
# Erasing an account or a number is erasure; "give me my account balance" is not access.
_ERASABLE = rf"(?:{_DATA}|account|number|namba|akaunti|yote)"
# "the data of 0733...", "the messages of my husband": a request, though not about oneself.
_OF_SOMEONE = (
    r"(?:data|information|details|records|messages|chats|account) (?:of|for|about|belonging to) "
    r"(?:my (?:husband|wife|son|daughter|brother|sister|mother|mum|mom|father|dad|friend|boss|child)|"
    r"\+?\d[\d -]{6,}|another|someone|this number|that number|the number)"
)

_ERASURE = [
    rf"\b(?:delete|erase|remove|wipe|destroy|clear|purge)\b.*\bmy\b.*\b{_ERASABLE}\b",
    r"\b(?:delete|erase|wipe|destroy|purge)\b.*\b(?:everything|all (?:the )?(?:data|information))\b",
    r"\b(?:delete|erase|remove|wipe)\s+(?:me|my account|everything|all of it)\b",
    r"\bforget (?:me|about me|my (?:number|data|details))\b",
    rf"\b(?:delete|erase|remove|wipe)\b.*\b{_OF_SOMEONE}",
    rf"\bmy\b.*\b{_ERASABLE}\b.*\b(?:deleted|erased|removed|wiped)\b",
    r"\bright to (?:be forgotten|erasure)\b",
    r"\bdon'?t (?:keep|store|hold) (?:my|any of my) (?:data|information|messages|details)\b",
    rf"\b(?:futa|futeni|fute|mfute|mufute|ondoa|ondoeni|mwondoe)\b.*\b{_ERASABLE}\b",
    r"\b(?:futa|futeni)\s+(?:yote|kila kitu|akaunti yangu|namba yangu)\b",
    r"\bnisahau\b|\bnifute\b",
]
_ACCESS = [
    rf"\b(?:send|give|show|email|export|download|share)\b(?: me)?\b.*\bmy\b.*\b{_DATA}\b",
    r"\b(?:send|give|show|email|export)\b.*\b(?:everything|all (?:the )?(?:data|information)) (?:you (?:have|hold|keep))\b",
    r"\bwhat (?:data|information|info|details|do you (?:have|hold|know|keep|store))\b.*\b(?:about|on|of) me\b",
    r"\bwhat (?:personal )?(?:data|information|info|details) do you (?:have|hold|keep|store)\b",
    r"\b(?:copy|export|download) of (?:my|all my) (?:data|information|messages|details|chats?)\b",
    r"\b(?:access|see|view|get) (?:to )?(?:my|all my) (?:personal )?(?:data|information|messages|details|records)\b",
    r"\bsubject access request\b|\bdata portability\b",
    rf"\b(?:send|give|show|email|export)\b.*\b{_OF_SOMEONE}",
    rf"\b(?:nitumie|nipe|nionyeshe|nipatie|tuma)\b.*\b{_DATA}\b",
    r"\bmna (?:taarifa|data|habari) gani (?:kunihusu|zangu|yangu)\b",
    r"\b(?:nataka|naomba) (?:kuona |kupata )?(?:nakala ya )?(?:taarifa|data|maelezo|ujumbe) (?:yangu|zangu|wangu|kunihusu|mlizo nazo)\b",
]
_RESTRICTION = [
    r"\b(?:stop|don'?t|do not|quit|never)\b.*\b(?:using|use|process(?:ing)?|train(?:ing)?|analy[sz]e|analy[sz]ing)\b.*\b(?:ai|a\.i\.|artificial intelligence|bots?|machine learning|training|analytics|models?|algorithms?)\b",
    r"\b(?:stop|don'?t|do not)\b.*\b(?:processing|analy[sz]ing|profiling)\b.*\b(?:my|me)\b",
    r"\bi (?:object|opt out) (?:to|of|from)\b.*\b(?:processing|ai|analytics|training|profiling|data)\b",
    r"\b(?:restrict|limit) (?:the )?processing\b",
    r"\bno (?:ai|bots?) (?:for|on|with) (?:my|me)\b",
    r"\b(?:usitumie|msitumie|acheni kutumia|acha kutumia)\b.*\b(?:data|taarifa|ujumbe|jumbe|mazungumzo)\b",
    r"\b(?:usitumie|msitumie|acheni kutumia|acha kutumia)\b.*\b(?:ai|akili bandia|roboti|bot)\b",
    r"\bsitaki\b.*\b(?:ai|akili bandia|roboti|bot)\b",
]
_LIFT = [
    r"\b(?:you can|you may|feel free to|ok to|okay to|allowed to)\b.*\b(?:use|process)\b.*\b(?:my|me)\b.*\b(?:again|ai|data|messages)\b",
    r"\b(?:lift|remove|cancel|end|undo)\b.*\b(?:restriction|objection)\b",
    r"\b(?:start|resume) (?:using|processing) my (?:data|messages|information)(?: again)?\b",
    r"\bmnaweza kutumia (?:data|taarifa|ujumbe) (?:yangu|zangu) tena\b",
]
_RECTIFICATION = [
    r"\bmy (?:name|names|email|e-mail|email address|language|surname|first name|last name)\b.*\b(?:is wrong|are wrong|is incorrect|is misspelt|is misspelled|is spelt wrong|is not correct|has a typo)\b",
    r"\b(?:change|correct|update|fix|edit)\b.*\bmy (?:name|names|email|e-mail|email address|language|surname|details|profile)\b",
    r"\b(?:wrong|incorrect) (?:name|email|spelling)\b",
    r"\bi (?:prefer|want to use|would like to use) (?:english|swahili|kiswahili)\b",
    r"\bjina (?:langu|yangu) (?:si sahihi|limekosewa|ni kosa|limeandikwa vibaya)\b",
    r"\b(?:badilisha|rekebisha|sahihisha|badili)\b.*\b(?:jina|barua pepe|email|lugha)\b",
    r"\b(?:napendelea|nataka) (?:kiswahili|kiingereza|english|swahili)\b",
]
_OTHER_PERSON = [
    r"\b(?:my|our) (?:husband|wife|son|daughter|brother|sister|mother|mum|mom|father|dad|friend|boss|employee|colleague|child|kid|neighbour|neighbor)'?s\b",
    r"\b(?:another|other|different|someone else'?s) (?:person|customer|number|account|phone)\b",
    r"\b(?:for|of|about|belonging to) (?:my )?(?:husband|wife|son|daughter|brother|sister|mother|mum|mom|father|dad|friend|boss|child)\b",
    r"\b(?:namba nyingine|mtu mwingine|ya mume wangu|ya mke wangu|ya mtoto wangu|ya rafiki yangu)\b",
]
_YES = frozenset(
    {
        "yes",
        "y",
        "yes please",
        "yes delete",
        "yes erase",
        "ndio",
        "ndiyo",
        "sawa",
        "confirm",
        "i confirm",
        "naam",
        "yeah",
        "yep",
    }
)
_NO = frozenset(
    {"no", "n", "cancel", "hapana", "la", "sitaki", "no thanks", "don't", "dont", "stop"}
)

_LANGUAGES = {"english": "en", "kiingereza": "en", "swahili": "sw", "kiswahili": "sw"}
_NAME_VALUE = re.compile(
    r"(?i)(?:(?:it'?s|it is|should be|correct (?:one|name) is|my (?:correct |real |right )?name is|"
    r"ni|jina (?:langu|sahihi) ni|naitwa)\s+)([A-Za-zÀ-ÿ'’-]{2,}(?:\s+[A-Za-zÀ-ÿ'’-]{2,}){0,2})\s*[.!]?\s*$"
)
_EMAIL_VALUE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_LIKE = re.compile(r"(?:\+?\d[\d\s-]{7,}\d)")


def _compile(patterns: list[str]) -> list[re.Pattern[str]]:
    return [re.compile(p) for p in patterns]


_RULES: list[tuple[PrivacyRight, list[re.Pattern[str]]]] = [
    # Order matters: "stop using my data for AI" is restriction, not erasure; "you can use my
    # data again" is lifting, not access.
    (PrivacyRight.LIFT_RESTRICTION, _compile(_LIFT)),
    (PrivacyRight.RESTRICTION, _compile(_RESTRICTION)),
    (PrivacyRight.RECTIFICATION, _compile(_RECTIFICATION)),
    (PrivacyRight.ERASURE, _compile(_ERASURE)),
    (PrivacyRight.ACCESS, _compile(_ACCESS)),
]
_OTHER_PERSON_RE = _compile(_OTHER_PERSON)


@dataclass(frozen=True)
class PrivacyIntent:
    right: PrivacyRight
    about_someone_else: bool


def recognise(text: str, *, own_number: str | None = None) -> PrivacyIntent | None:
    """The data-protection request in ``text``, if it is one."""
    folded = fold(text)
    if not folded or len(folded) > 400:
        return None
    for right, patterns in _RULES:
        if any(p.search(folded) for p in patterns):
            return PrivacyIntent(right, about_someone_else(text, own_number=own_number))
    return None


def about_someone_else(text: str, *, own_number: str | None = None) -> bool:
    """The request concerns another person, or a phone number other than the sender's."""
    folded = fold(text)
    if any(p.search(folded) for p in _OTHER_PERSON_RE):
        return True
    own = re.sub(r"\D", "", own_number or "")[-9:]
    for match in _PHONE_LIKE.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if not own or digits[-9:] != own:
            return True
    return False


def is_yes(text: str) -> bool:
    return fold(text) in _YES


def is_no(text: str) -> bool:
    return fold(text) in _NO


@dataclass(frozen=True)
class Correction:
    field: str  # "display_name", "email" or "preferred_language"
    value: str


def parse_correction(text: str) -> Correction | None:
    """The profile field and new value a rectification names, if it names one we can apply."""
    email = _EMAIL_VALUE.search(text)
    if email and re.search(r"(?i)e-?mail|barua pepe", text):
        return Correction("email", email.group())
    folded = fold(text)
    for word, code in _LANGUAGES.items():
        if re.search(rf"\b(?:prefer|use|language|lugha|napendelea|nataka)\b.*\b{word}\b", folded):
            return Correction("preferred_language", code)
    if re.search(r"(?i)\b(?:name|names|jina|majina|naitwa)\b", text):
        match = _NAME_VALUE.search(text.strip())
        if match:
            return Correction("display_name", match.group(1).strip())
    return None


def due_at(
    right: PrivacyRight, received_at: datetime, overrides: dict[str, int] | None
) -> datetime:
    days = (overrides or {}).get(right.value, DEFAULT_DUE_DAYS[right.value])
    return received_at + timedelta(days=days)
