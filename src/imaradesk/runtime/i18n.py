"""The product's own words in the customer's language, from gettext message catalogs.

A text is marked where it is written, ``N_("I'm connecting you ...")``, and translated when the
turn knows its reply language, ``translate("sw", HANDOFF_REPLY)``. The English text is the
message id, so a marked text reads as what it says. Placeholders are ``{name}`` (str.format),
filled after translation.

The catalogs are ``imaradesk/translations/<lang>/LC_MESSAGES/messages.po`` (English is the
source; Swahili is written as a Kenyan company writes to its customers). ``make i18n`` extracts
the marked texts (babel.cfg), updates the catalogs and compiles them. The compiled ``.mo`` files
are committed beside their ``.po`` rather than compiled at load time: gettext and flask-babel
read them as they are, a fresh clone or an installed wheel needs no build step, and
``tests/runtime/test_i18n.py`` fails when a ``.mo`` no longer matches its ``.po``.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel import Locale
from babel.support import Translations

CATALOG_DIR = Path(__file__).resolve().parent.parent / "translations"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"
# The languages we write to customers in: each has a catalog.
LANGUAGES = ("en", "sw")


@dataclass(frozen=True)
class LazyText:
    """A text marked for translation: its English words, translated once the language is known."""

    msgid: str

    def __str__(self) -> str:
        return self.msgid


@dataclass(frozen=True)
class LazyPlural:
    """A text with a singular and a plural form, chosen by a count once the language is known."""

    singular: str
    plural: str


def N_(message: str) -> LazyText:
    """Mark ``message`` for translation; ``translate`` gives its words in a language."""
    return LazyText(message)


def N_plural(singular: str, plural: str) -> LazyPlural:
    """Mark a text with a singular and a plural form for translation."""
    return LazyPlural(singular, plural)


def supported(language: str | None) -> str:
    """``language`` if we write in it, else the default."""
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


@cache
def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalog of ``language`` (English falls back to the message ids)."""
    return Translations.load(str(CATALOG_DIR), [supported(language)], DOMAIN)


def translate(language: str, text: LazyText, /, **params: object) -> str:
    """``text`` in ``language`` (the English words where the catalog has none), filled in."""
    words = catalog(language).gettext(text.msgid)
    return words.format(**params) if params else words


def translate_plural(language: str, text: LazyPlural, count: int, /, **params: object) -> str:
    """The form of ``text`` for ``count`` in ``language``; ``{count}`` is filled in too."""
    words = catalog(language).ngettext(text.singular, text.plural, count)
    return words.format(count=count, **params)


def language_name(code: str, *, in_language: str) -> str:
    """What ``in_language`` calls the language ``code`` ("Kiingereza" for en, in Swahili)."""
    name = Locale.parse(supported(in_language)).languages.get(code)
    return name if name else code
