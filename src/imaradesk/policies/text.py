"""Text normalisation shared by the keyword rules."""

from __future__ import annotations

import re
import unicodedata

_PUNCT = re.compile(r"[^\w\s']+", re.UNICODE)
_SPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """Case-fold, strip punctuation and collapse spaces: 'Hi!!  there' -> 'hi there'."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _PUNCT.sub(" ", text)
    return _SPACE.sub(" ", text).strip()
