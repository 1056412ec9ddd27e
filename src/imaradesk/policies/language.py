"""Which language a customer writes in, asks for, and gets replies in: English or Swahili.

Sheng and Swahili-English code-switching ("nimeblock card yangu by mistake") count as Swahili:
Kenyan customers mix the two freely, and a reply in Swahili reads right to them, while an English
message with a brand name in it ("my Imara Pesa wallet") stays English.

The reply language of a turn (``reply_language``), in this order:

1. a language the customer asked for ("ongea Kiswahili", "English please", or a rectification
   of their preferred language) wins, and detection never overrides it;
2. otherwise a message plainly written in a language is answered in it (the customer switched);
3. a short or unclear message ("ok", "1", "asante") keeps the language remembered for them;
4. with nothing remembered, a hint the turn has (the language of a greeting like "Mambo"),
   else English.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from imaradesk.policies.text import fold

if TYPE_CHECKING:
    import lingua

SUPPORTED_LANGUAGES = ("en", "sw")

# A word counts as Swahili (or English) evidence when lingua's model of its characters is
# this sure of it on its own. Two-letter words count for Swahili only ("na", "ya", "ni", "wa"
# carry its grammar), and need less: lingua has little to go on in two letters.
_WORD_CONFIDENCE = 0.8
_SHORT_WORD_CONFIDENCE = 0.7
# Swahili verb prefixes on an English stem, Sheng's commonest coinage: nime-block, ku-reset.
_SHENG_VERB = re.compile(
    r"^(?:ni|tu|wa|u|a|i|m|ha|si)(?:me|li|ta|na|sha|ka|ja)(?P<stem>[a-z]{3,})$|"
    r"^(?:ku|kume|haku)(?P<stem2>[a-z]{4,})$"
)
_WORD = re.compile(r"[^\W\d_]+")
_SENTENCE = re.compile(r"[.!?\n]+")
_WORD_CACHE = 50_000


@dataclass(frozen=True)
class WordEvidence:
    swahili: int
    english: int
    strong_swahili: int

    def is_swahili(self) -> bool:
        """Swahili, Sheng or code-switched: two Swahili words at least, a third of the words
        that say anything."""
        return self.swahili >= 2 and self.strong_swahili >= 1 and 2 * self.swahili >= self.english


class LanguageDetector:
    """English or Swahili (lingua, with Sheng and code-switching counted as Swahili)."""

    def __init__(self, default: str = "en", min_confidence: float = 0.6) -> None:
        self._default = default
        self._min = min_confidence
        self._lock = threading.Lock()
        self._word_confidences: dict[str, float] = {}

    @cached_property
    def _detector(self) -> lingua.LanguageDetector:
        from lingua import Language, LanguageDetectorBuilder

        return LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.SWAHILI).build()

    def detect(self, text: str) -> str:
        """The language of ``text``; the default when it is short or unclear."""
        return self.language_of(text) or self._default

    def language_of(self, text: str, *, names: Iterable[str] = ()) -> str | None:
        """The language ``text`` is plainly written in, or None when it is short or unclear.

        ``names`` (the organization's name, say) are left out: "Imara Pesa" is no Swahili.
        """
        left_out = {w.casefold() for name in names for w in _WORD.findall(name)}
        words = [w for w in _words(text) if w not in left_out]
        if len(words) < 2:
            return None
        evidence = self.evidence(words)
        if evidence.is_swahili():
            return "sw"
        with self._lock:
            confidences = self._detector.compute_language_confidence_values(" ".join(words))
        best = confidences[0]
        language = str(best.language.iso_code_639_1.name).lower()
        if best.value < self._min:
            return None
        # Plainly: at least two words of it on their own ("ok ok" is no language at all), and
        # English without Swahili in it ("how do I check balance yangu?" is mixed: unclear).
        if language == "sw" and evidence.strong_swahili == 0:
            return None
        if language == "en" and (evidence.english < 2 or evidence.swahili > 0):
            return None
        return language

    def evidence(self, words: list[str]) -> WordEvidence:
        swahili = english = strong = 0
        for word in words:
            sw = self._swahili_confidence(word)
            if len(word) >= 3 and (sw >= _WORD_CONFIDENCE or self._is_sheng_verb(word)):
                swahili += 1
                strong += 1
            elif len(word) == 2 and sw >= _SHORT_WORD_CONFIDENCE and word not in _NEUTRAL:
                swahili += 1
            elif len(word) >= 3 and 1 - sw >= _WORD_CONFIDENCE:
                english += 1
        return WordEvidence(swahili, english, strong)

    def _is_sheng_verb(self, word: str) -> bool:
        match = _SHENG_VERB.match(word)
        if match is None:
            return False
        stem = match.group("stem") or match.group("stem2")
        return 1 - self._swahili_confidence(stem) >= _WORD_CONFIDENCE

    def _swahili_confidence(self, word: str) -> float:
        known = self._word_confidences.get(word)
        if known is not None:
            return known
        from lingua import Language

        with self._lock:
            confidence = self._detector.compute_language_confidence(word, Language.SWAHILI)
            if len(self._word_confidences) >= _WORD_CACHE:
                self._word_confidences.clear()
            self._word_confidences[word] = float(confidence)
        return float(confidence)

    def warm_up(self) -> None:
        self.detect("habari yako rafiki")


# Two-letter words that read as Swahili to a character model but are English or both.
_NEUTRAL = frozenset({"ok", "am"})


def _words(text: str) -> list[str]:
    """The words of ``text``, case-folded, without names: a capitalised word after the first
    ("my Imara Pesa wallet") is a name, and names say nothing about the language."""
    words = []
    for sentence in _SENTENCE.split(text):
        for position, match in enumerate(_WORD.finditer(sentence)):
            word = match.group()
            if position > 0 and word[:1].isupper() and not word.isupper():
                continue
            words.append(word.casefold())
    return words


# -- asking for a language --------------------------------------------------------------------

_ASK = (
    r"(?:please|pls|plz|kindly|tafadhali|tafathali|naomba|nakuomba|tunaomba|hebu|basi|sasa|"
    r"can you|could you|can we|could we|would you|will you|do you|i want|i would like|i d like|"
    r"i prefer|id prefer|let s|lets|nataka|ningependa|tafadhali naomba|naomba tu)"
)
_VERB = (
    r"(?:speak|talk|reply|write|answer|respond|chat|continue|communicate|switch|change|use|go|"
    r"text|ongea|ongelesha|niongeleshe|niongelee|unijibu|nijibu|jibu|andika|niandikie|"
    r"tuongee|tuendelee|endelea|zungumza|tuzungumze|tumia|badilisha|badili|tuchat)"
)
_TO = r"(?:to me|with me|me|us|na mimi|nami|nasi|back|to|into|in|kwa|na|ya|lugha ya|the|language)"
_AFTER = (
    r"(?:please|pls|plz|tafadhali|only|pekee|tu|instead|badala yake|now|sasa|from now on|"
    r"kuanzia sasa|language|lugha|thanks|thank you|asante)"
)
_NAMES = {
    "sw": r"(?:ki ?swahili|swahili|kiswa)",
    "en": r"(?:english|kiingereza|kingereza|kizungu|kimombo)",
}
_REQUESTS = {
    code: re.compile(rf"^(?:{_ASK} )*(?:{_VERB} )?(?:{_TO} )*{name}(?: {_AFTER})*$", re.IGNORECASE)
    for code, name in _NAMES.items()
}


def requested_language(text: str) -> str | None:
    """The language a message asks the bot to reply in ("ongea Kiswahili", "English please")."""
    folded = fold(text)
    if not folded or len(folded) > 80:
        return None
    for code, pattern in _REQUESTS.items():
        if pattern.match(folded):
            return code
    return None


# -- the reply language of a turn ---------------------------------------------------------------


@dataclass(frozen=True)
class ReplyLanguage:
    """The language of a turn's replies, and what to remember of it for the customer."""

    code: str
    # The customer asked for it (now or before): detection does not change it.
    chosen: bool
    # The language to remember for the customer after this turn, if it changes.
    remember: str | None = None


def reply_language(
    *,
    remembered: str | None,
    chosen: bool,
    seen: str | None,
    hint: str | None = None,
    default: str = "en",
) -> ReplyLanguage:
    """The precedence of the module's docstring.

    Args:
        remembered: the language kept for the customer, if any.
        chosen: whether they asked for ``remembered`` themselves.
        seen: the language this message is plainly written in (None when short or unclear).
        hint: a weaker sign of this message's language (the language of a greeting).
        default: the organization's language when nothing else says.
    """
    if remembered in SUPPORTED_LANGUAGES and chosen:
        return ReplyLanguage(remembered, chosen=True)
    if seen in SUPPORTED_LANGUAGES:
        return ReplyLanguage(seen, chosen=False, remember=seen if seen != remembered else None)
    if remembered in SUPPORTED_LANGUAGES:
        return ReplyLanguage(remembered, chosen=False)
    if hint in SUPPORTED_LANGUAGES:
        return ReplyLanguage(hint, chosen=False, remember=hint)
    return ReplyLanguage(default, chosen=False)
