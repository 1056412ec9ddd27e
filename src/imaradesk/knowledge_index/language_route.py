"""Which encoder and which answering rule judge a question, by its language and the FAQ's.

Measured on BANKING77 and on Swahili and Sheng questions (bench/multilingual.py): the English
encoder is the better one for English questions on an English FAQ, the multilingual one for
everything else, and joining their vectors into one is worse than either. A FAQ's calibration
only speaks for questions like its own phrasings: a question in a language the FAQ has no
phrasings in is judged by a fixed rule whose thresholds come from the development set.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from imaradesk.knowledge_index.embedder import Embedder
from imaradesk.knowledge_index.retrieval_types import AnsweringSettings, OrgKnowledge

# A FAQ "has" a language when at least this share of its entries has a phrasing in it.
COVERED_SHARE = 0.5


class Route(StrEnum):
    PRIMARY = "primary"
    MULTILINGUAL = "multilingual"
    CROSS_LINGUAL = "cross_lingual"


@dataclass(frozen=True)
class MultilingualSettings:
    """The multilingual encoder, its answering settings (its similarities run on another
    scale than the main encoder's) and the fixed rule for questions across languages."""

    embedder: Embedder
    answering: AnsweringSettings
    cross_lingual_min_similarity: float
    cross_lingual_min_margin: float


def choose_route(language: str, faq: OrgKnowledge, *, multilingual: bool) -> Route:
    """The route of a question in ``language`` to the FAQ whose main snapshot is ``faq``."""
    if not multilingual:
        return Route.PRIMARY
    # Snapshots built before languages were measured say nothing: they were English.
    english_share = faq.language_share("en") if faq.languages else 1.0
    if language == "en" and english_share >= COVERED_SHARE:
        return Route.PRIMARY
    if faq.language_share(language) >= COVERED_SHARE:
        return Route.MULTILINGUAL
    return Route.CROSS_LINGUAL
