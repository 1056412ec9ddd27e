"""The message catalogs: every marked text translated, placeholders kept, compiled files current.

The texts are extracted here as ``make i18n`` extracts them (babel.cfg, babel's own extractors),
so a text marked in code but missing from the Swahili catalog, or a ``.mo`` that was not
recompiled after its ``.po`` changed, fails the suite rather than reaching a customer in English.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from imaradesk.policies.language import SUPPORTED_LANGUAGES
from imaradesk.runtime.i18n import (
    CATALOG_DIR,
    LANGUAGES,
    N_,
    N_plural,
    language_name,
    translate,
    translate_plural,
)

ROOT = Path(__file__).resolve().parents[2]
_BRACE = re.compile(r"\{(\w*)[^{}]*\}")
_PERCENT = re.compile(r"%\((\w+)\)[sd]")


def _po(language: str) -> Catalog:
    with open(CATALOG_DIR / language / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=language)


def _mo(language: str) -> Catalog:
    with open(CATALOG_DIR / language / "LC_MESSAGES" / "messages.mo", "rb") as f:
        return read_mo(f)


def _marked() -> dict[str | tuple[str, str], str]:
    """Every text marked for translation in the source and templates, with where it is."""
    with open(ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f, "babel.cfg")
    found: dict[str | tuple[str, str], str] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        key = message if isinstance(message, str) else (message[0], message[1])
        found[key] = filename
    return found


def _placeholders(text: str) -> set[str]:
    return set(_BRACE.findall(text)) | set(_PERCENT.findall(text))


@pytest.fixture(scope="module")
def marked() -> dict[str | tuple[str, str], str]:
    found = _marked()
    assert len(found) > 60, "the extraction found the product's texts"
    return found


def test_our_catalogs_are_the_languages_we_detect() -> None:
    assert set(LANGUAGES) == set(SUPPORTED_LANGUAGES)
    assert {p.name for p in CATALOG_DIR.iterdir() if p.is_dir()} == set(LANGUAGES)


def test_every_marked_text_has_a_swahili_translation(marked) -> None:
    """No marked text is missing, empty or fuzzy in Swahili, and its placeholders are kept."""
    catalog = _po("sw")
    problems = []
    for key, where in marked.items():
        message = catalog.get(key if isinstance(key, str) else key[0])
        if message is None:
            problems.append(f"{where}: not in the Swahili catalog: {key!r}")
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(forms):
            problems.append(f"{where}: no Swahili text yet: {key!r}")
            continue
        sources = key if isinstance(key, tuple) else (key,)
        wanted = set().union(*(_placeholders(s) for s in sources))
        for form in forms:
            if _placeholders(form) != wanted:
                problems.append(f"{where}: placeholders {wanted} changed in {form!r}")
    assert problems == [], "run `make i18n` and translate:\n" + "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogs_hold_no_text_the_product_no_longer_writes(marked, language: str) -> None:
    ids = {key if isinstance(key, str) else key[0] for key in marked}
    stale = [
        m.id
        for m in _po(language)
        if m.id and (m.id if isinstance(m.id, str) else m.id[0]) not in ids
    ]
    assert stale == [], "run `make i18n` to drop them"


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalogs_match_their_sources(language: str) -> None:
    """The committed .mo says what its .po says (`make i18n` compiles it)."""

    def translations(catalog: Catalog) -> dict[object, object]:
        # Plural forms and their ids as tuples; an untranslated text (the compiler writes the
        # English forms for one) counts as no translation.
        found: dict[object, object] = {}
        for m in catalog:
            ids = tuple(m.id) if isinstance(m.id, list | tuple) else (m.id,)
            forms = tuple(m.string) if isinstance(m.string, list | tuple) else (m.string,)
            if ids[0] and any(forms) and forms != ids and not m.fuzzy:
                found[ids] = forms
        return found

    assert translations(_mo(language)) == translations(_po(language))


def test_english_is_the_message_itself_and_swahili_is_translated() -> None:
    greeting = N_("Hello! How can I help you today?")
    assert translate("en", greeting) == "Hello! How can I help you today?"
    assert translate("sw", greeting) == "Habari! Nikusaidie vipi leo?"
    assert translate("fr", greeting) == "Hello! How can I help you today?", "English otherwise"


def test_placeholders_are_filled_after_translation() -> None:
    note = N_("This answer is only available in {language}:")
    assert translate("sw", note, language="Kiingereza") == (
        "Jibu hili linapatikana kwa Kiingereza pekee:"
    )
    messages = N_plural("{count} message", "{count} messages")
    assert translate_plural("en", messages, 1) == "1 message"
    assert translate_plural("en", messages, 3) == "3 messages"
    assert translate_plural("sw", messages, 1) == "ujumbe 1"
    assert translate_plural("sw", messages, 3) == "jumbe 3"


def test_languages_are_named_in_the_language_of_the_reply() -> None:
    assert language_name("en", in_language="sw") == "Kiingereza"
    assert language_name("sw", in_language="sw") == "Kiswahili"
    assert language_name("sw", in_language="en") == "Swahili"
    assert language_name("en", in_language="en") == "English"
