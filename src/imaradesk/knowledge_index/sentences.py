"""Cutting text into sentences, without cutting after an abbreviation ("Dr. Kamau")."""

from __future__ import annotations

import re

# Words that end in a full stop without ending the sentence when a capital follows ("Dr. Kamau",
# "No. 5", "e.g. Safaricom"). "etc." is left out: it usually does end the sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt no nos vs cf approx dept fig figs inc ltd co corp govt est "
    "tel ref refs vol ch sec art para pp ave rd jan feb mar apr jun jul aug sep sept oct nov dec "
    "eg ie al".split()
)
_DOTTED = re.compile(r"^(?:[^\W\d_]\.)+[^\W\d_]$")  # e.g, i.e, u.s, a.m: letters and dots
_BOUNDARY = re.compile(r"[.!?\u2026\u061f\uff1f]+[\"'\u201d\u2019)\]]*\s+")


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences, keeping abbreviations, initials and decimals whole."""
    text = " ".join(text.split())
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        if end < len(text) and text[end].islower():
            continue  # "e.g. for", "approx. ten": a sentence goes on in lower case
        if match.group().startswith(".") and _is_abbreviation(text[start : match.start()]):
            continue
        sentences.append(text[start:end].strip())
        start = end
    if start < len(text):
        sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def _is_abbreviation(before: str) -> bool:
    words = before.rsplit(None, 1)
    if not words:
        return False
    word = words[-1].lstrip("([\"'\u201c\u2018").casefold()
    if len(word) == 1 and word.isalpha():
        return True  # an initial: "J. Kamau"
    return word in _ABBREVIATIONS or bool(_DOTTED.match(word))


# -- passages ----------------------------------------------------------------------------------
