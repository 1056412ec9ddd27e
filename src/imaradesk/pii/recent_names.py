"""Names recently seen on channels (WhatsApp profile names), so logs can redact them anywhere.

A name without a cue ("my name is") cannot be told from any other word, but one the channel
has told us about can. Kept in memory only, bounded, least recently seen forgotten first.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

MAX_NAMES = 2000


class RecentNames:
    def __init__(self, limit: int = MAX_NAMES) -> None:
        self._limit = limit
        self._names: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def add(self, name: str | None) -> None:
        if not name:
            return
        parts = [p for p in re.split(r"\s+", name.strip()) if len(p) >= 3]
        with self._lock:
            for part in parts:
                key = part.casefold()
                self._names.pop(key, None)
                self._names[key] = None
                while len(self._names) > self._limit:
                    self._names.popitem(last=False)
            self._pattern = None

    def redact(self, text: str) -> str:
        with self._lock:
            if not self._names:
                return text
            if self._pattern is None:
                alternatives = "|".join(
                    re.escape(n) for n in sorted(self._names, key=len, reverse=True)
                )
                self._pattern = re.compile(rf"(?i)(?<!\w)(?:{alternatives})(?!\w)")
            pattern = self._pattern
        return pattern.sub("[NAME]", text)

    def forget_all(self) -> None:
        with self._lock:
            self._names.clear()
            self._pattern = None


recent_names = RecentNames()
