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
from typing import Literal

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

# The vocabulary, in case-folded text (see policies.text.fold). English, Swahili and Sheng.
# A request needs both an action and an object that is the customer's own personal data:
# "delete my data" is a request, "delete yesterday's transaction" is not.

# Things that merely sound like data: "data bundles", statements, transactions.
_NOT_PERSONAL = re.compile(
    r"\b(?:data bundles?|bundles?|internet data|data plan|statement|salio|balance|transactions?|"
    r"muamala|miamala|payment|malipo|pin|app|application|loan|mkopo)\b"
)
_PERSONAL_DATA = re.compile(
    r"\b(?:(?:my|all my|any of my) (?:personal )?(?:data|information|info|details|records|particulars|profile|"
    r"messages|chats|conversations|chat history)|personal (?:data|information|info|details)|"
    r"(?:data|information|info|details|records|everything|anything) (?:you|u|ya|imara pesa) "
    r"(?:have|hold|keep|store|collected|holds|has)|"
    r"(?:data|information|info|details|everything|anything) (?:about|on|of) me|"
    r"every piece of (?:personal )?(?:data|information|info)|"
    r"(?:taarifa|data|maelezo|rekodi|ujumbe|jumbe|mazungumzo) (?:zangu|yangu|wangu|binafsi|zote|kunihusu)|"
    r"(?:taarifa|data|maelezo) (?:\w+ )?(?:mlizo ?nazo|mnazo|mko nazo|juu yangu|kunihusu)|"
    r"kila kitu (?:kunihusu|juu yangu|mlicho nacho)|wasifu wangu|"
    # "what information do you guys have stored on me", "mna data gani kunihusu"
    r"(?:data|information|info|details|taarifa|everything|anything|kila kitu)\b[^.?!]{0,40}"
    r"\b(?:about me|on me|of me|kunihusu|juu yangu)|"
    r"(?:data|information|info|details) (?:do )?(?:you|u) (?:guys )?(?:have|hold|keep|store|collect))\b"
)
_ACCOUNT = re.compile(
    r"\b(?:my (?:\w+ ){0,2}account|account yangu|akaunti yangu|my number|namba yangu|my profile)\b"
)
_AI = re.compile(
    r"\b(?:ai|a\.i|artificial intelligence|bots?|chat ?bot|robot|roboti|analytics|analysis|uchambuzi|"
    r"machine learning|training|train|models?|automated|automation|algorithms?|profiling|processing|"
    r"analys\w*|analyz\w*|"
    r"process|kuchakata|uchakataji|akili bandia|mashine)\b"
)
_ACCESS_VERB = re.compile(
    r"\b(?:send|give|show|see|view|get|obtain|receive|copy|export|download|access|request|email|"
    r"forward|provide|share with me|what|which|nitumie|nitumieni|nipe|nipeni|nipatie|tuma|tumeni|"
    r"kuona|kupata|nakala|nionyeshe|onyesha|nione|pata|gani|want|need|nataka|naomba|ningependa|"
    r"nahitaji|ninahitaji)\b"
)
# Past participles count only with the customer's data or account as what is deleted:
# "money has been removed from my account" is not a request.
_ERASED_MINE = re.compile(
    r"\bmy (?:\w+ ){0,3}(?:account|data|information|info|details|number|profile)\b[^.!?]{0,30}"
    r"\b(?:deleted|erased|removed|wiped)\b"
)
_ERASE_VERB = re.compile(
    r"\b(?:delete|erase|remove|wipe|destroy|purge|forget|get rid of|"
    r"futa|kufuta|kufutwa|ifute|zifute|futwe|ifutwe|zifutwe|fute|futeni|mfute|mzifute|ondoa|"
    r"kuondoa|ondoeni|ondolewe|ziondoe)\b"
)
_DONT_KEEP = re.compile(
    r"\b(?:(?:no longer|don'?t|do not) want (?:you|u|imara pesa) to (?:have|keep|hold|store)|"
    r"(?:stop|quit) (?:keeping|storing|holding)|forget (?:me|about me|everything about me)|"
    r"right to (?:be forgotten|erasure)|sitaki (?:mwe na|muwe na|mbaki na)|"
    r"don'?t (?:keep|store|hold) (?:my|any of my)|nisahau|nifute kabisa)\b"
)
_STOP_VERB = re.compile(
    r"\b(?:stop|don'?t|do not|quit|no longer|opt (?:me )?out|object|objection|refuse|restrict|limit|"
    r"exclude|keep (?:my \w+ )?out|napinga|pinga|zuia|acheni|acha|msitumie|usitumie|sitaki|kataa|"
    r"nakataa|msichakate|usichakate)\b"
)
_ALLOW = re.compile(
    r"\b(?:you can|u can|you may|feel free|go ahead|ok to|okay to|fine with|i'?m fine|allowed?|"
    r"allowing|permit|re ?-?enable|turn (?:it |that )?back on|resume|start using|withdraw (?:my )?objection|"
    r"lift|remove (?:the |my )?(?:restriction|objection|block)|cancel (?:the |my )?(?:restriction|objection)|"
    r"mnaweza|unaweza|naruhusu|ruhusu|nimekubali|nakubali|ondoeni zuio|ondoa zuio)\b"
)
_AGAIN = re.compile(r"\b(?:again|now|back|once more|tena|sasa|re ?-?enable|resume)\b")
_NO_AI = re.compile(r"\bno (?:more )?(?:ai|bots?|robots?|analytics)\b")
_LANGUAGE_PREFERENCE = re.compile(
    r"\b(?:i prefer|prefer|napendelea|lugha ninayopendelea)\b.*\b(?:english|swahili|kiswahili|kiingereza)\b"
)
_FIELD = re.compile(
    r"\b(?:my|ur|your records have my|records have my) (?:\w+ )?(?:name|names|surname|first name|last name|"
    r"middle name|email|e-mail|email address|date of birth|dob|birth ?date|address|language|"
    r"preferred language|id number|national id|gender|details|profile)\b|"
    r"\b(?:jina|majina|barua pepe|email|lugha|tarehe ya kuzaliwa|anwani|wasifu) "
    r"(?:yangu|langu|wangu|ninayopendelea|kwa system|iko)\b|"
    r"\b(?:jina|majina) (?:\w+ )?(?:si sahihi|limekosewa|imekosewa)\b"
)
_WRONG = re.compile(
    r"\b(?:wrong|incorrect|mistake|misspel\w*|spelt|typo|not correct|outdated|out of date|inaccurate|"
    r"si sahihi|imekosewa|limekosewa|kosa|imeandikwa vibaya|iko wrong|haiko sawa)\b"
)
_CHANGE = re.compile(
    r"\b(?:change|correct|update|fix|amend|edit|rectify|badilisha|badilisheni|mbadilishe|rekebisha|"
    r"rekebisheni|mnirekebishie|sahihisha|sahihisheni|prefer|napendelea|ninayopendelea)\b"
)
# "the data of 0733...", "the messages of my husband": a request, though not about oneself.
_RELATIVE = (
    r"(?:husband|wife|son|daughter|brother|sister|mother|mum|mom|father|dad|friend|boss|child)"
)
_OF_SOMEONE = re.compile(
    r"\b(?:data|information|details|records|messages|chats|account) (?:of|for|about|belonging to) "
    rf"(?:my {_RELATIVE}|\+?\d[\d -]{{6,}}|another|someone|this number|that number|the number)"
    rf"|\bmy {_RELATIVE}'?s (?:personal )?(?:data|information|info|details|records|messages|chats|account)\b"
)
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
        "confirm",
        "i confirm",
        "naam",
        "yeah",
        "yep",
    }
)
_NO = frozenset(
    # Not "stop": STOP always opts out (and so also drops the pending erasure).
    {"no", "n", "cancel", "hapana", "la", "sitaki", "no thanks", "don't", "dont"}
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


_OTHER_PERSON_RE = _compile(_OTHER_PERSON)


def _classify(folded: str) -> PrivacyRight | None:
    personal = bool(_PERSONAL_DATA.search(folded)) or bool(_OF_SOMEONE.search(folded))
    everything = personal or bool(_ACCOUNT.search(folded))
    ai = bool(_AI.search(folded))
    mine = personal or any(w in folded.split() for w in ("my", "me", "yangu", "zangu", "wangu"))
    undoing = bool(_AGAIN.search(folded)) or any(
        w in folded for w in ("objection", "zuio", "restriction")
    )
    # Lifting first: "you can use my data with AI again" also mentions AI and data.
    if _ALLOW.search(folded) and (ai or personal) and undoing:
        return PrivacyRight.LIFT_RESTRICTION
    if (_STOP_VERB.search(folded) and ai and mine) or _NO_AI.search(folded):
        return PrivacyRight.RESTRICTION
    if _FIELD.search(folded) and (_WRONG.search(folded) or _CHANGE.search(folded)):
        return PrivacyRight.RECTIFICATION
    if _LANGUAGE_PREFERENCE.search(folded):
        return PrivacyRight.RECTIFICATION
    about_transactions = bool(_NOT_PERSONAL.search(_without_personal(folded)))
    erase = bool(_ERASE_VERB.search(folded)) or bool(_ERASED_MINE.search(folded))
    if _DONT_KEEP.search(folded) or (erase and everything and not about_transactions):
        return PrivacyRight.ERASURE
    if _ACCESS_VERB.search(folded) and personal and not about_transactions:
        return PrivacyRight.ACCESS
    return None


def _without_personal(folded: str) -> str:
    # "delete my account and my data" names personal data; "delete my transaction" does not.
    return _PERSONAL_DATA.sub(" ", _ACCOUNT.sub(" ", folded))


@dataclass(frozen=True)
class PrivacyIntent:
    right: PrivacyRight
    about_someone_else: bool
    # "delete my account" names the account but no data: closing it may be what is meant.
    account_only: bool = False


def recognise(text: str, *, own_number: str | None = None) -> PrivacyIntent | None:
    """The data-protection request in ``text``, if it is one."""
    folded = fold(text)
    if not folded or len(folded) > 400:
        return None
    right = _classify(folded)
    if right is None:
        return None
    account_only = (
        right is PrivacyRight.ERASURE
        and not _PERSONAL_DATA.search(folded)
        and not _DONT_KEEP.search(folded)
        and bool(_ACCOUNT.search(folded))
    )
    return PrivacyIntent(right, about_someone_else(text, own_number=own_number), account_only)


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
    field: Literal["display_name", "email", "preferred_language"]
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


class PrivacyEffectKind(StrEnum):
    """What the privacy desk must do once a turn that touched a data-protection request is stored."""

    REQUEST_ERASURE = "request_erasure"  # ask for YES; the request waits for it
    ERASE = "erase"  # YES: erase everything now
    ERASURE_BLOCKED = "erasure_blocked"  # YES, but a legal hold covers the data
    CANCEL = "cancel"  # NO: keep the data
    ACCESS = "access"  # an export link was sent
    ACCESS_NOTHING = "access_nothing"  # nothing held yet to export
    RECTIFY = "rectify"  # a correction we can apply ourselves
    RECTIFY_BY_HUMAN = "rectify_by_human"  # a correction a person must make
    RESTRICT = "restrict"
    LIFT = "lift"
    REFUSE = "refuse"  # a request about another person or number


@dataclass(frozen=True)
class PrivacyEffect:
    kind: PrivacyEffectKind
    right: PrivacyRight
    request_id: int | None = None
    correction: Correction | None = None
