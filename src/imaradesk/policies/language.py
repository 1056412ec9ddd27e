"""Which language a customer writes in: English or Swahili (Sheng counts as Swahili)."""

from __future__ import annotations

import re
import threading
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import lingua

SUPPORTED_LANGUAGES = ("en", "sw")


class LanguageDetector:
    """English or Swahili (lingua); short or unclear messages count as the default."""

    def __init__(self, default: str = "en", min_confidence: float = 0.6) -> None:
        self._default = default
        self._min = min_confidence
        self._lock = threading.Lock()

    @cached_property
    def _detector(self) -> lingua.LanguageDetector:
        from lingua import Language, LanguageDetectorBuilder

        return LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.SWAHILI).build()

    def detect(self, text: str) -> str:
        if len(re.findall(r"\w+", text)) < 2:
            return self._default
        with self._lock:
            confidences = self._detector.compute_language_confidence_values(text)
        best = confidences[0]
        if best.value < self._min:
            return self._default
        return str(best.language.iso_code_639_1.name).lower()

    def warm_up(self) -> None:
        self.detect("habari yako rafiki")
