"""The language of the pages customers see (the web chat), through flask-babel.

Templates mark their words with ``_()``; the catalogs are the product's own
(``imaradesk/translations``, see ``runtime.i18n``). A page's language is the one its link
asks for (``?lang=sw``), else the browser's preference among ours, else English.
"""

from __future__ import annotations

from flask import Flask, request
from flask_babel import Babel

from imaradesk.runtime.i18n import CATALOG_DIR, DEFAULT_LANGUAGE, DOMAIN, LANGUAGES


def page_language() -> str:
    """The language of the page being rendered."""
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def register_locale(app: Flask) -> None:
    Babel(
        app,
        locale_selector=page_language,
        default_locale=DEFAULT_LANGUAGE,
        default_domain=DOMAIN,
        default_translation_directories=str(CATALOG_DIR),
    )
