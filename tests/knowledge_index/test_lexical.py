"""The BM25 ranker over phrasings: tokenising English and Swahili, ranking, bytes round trip."""

from __future__ import annotations

import numpy as np
import pytest

from imaradesk.knowledge_index.lexical import LexicalIndex, LexicalIndexError, tokenize

PHRASINGS = [
    (11, "How do I reset my M-Pesa PIN?"),
    (12, "How do I check my balance?"),
    (13, "Nataka kujua salio langu"),
    (14, "How do I send money to my family?"),
    (15, "How do I pay with paybill 522533?"),
    (16, "Nimesahau PIN yangu"),
]


def test_tokens_are_casefolded_without_punctuation_and_keep_compounds_whole() -> None:
    """'M-Pesa', 'mpesa' and 'MPESA' must meet, and codes keep their digits."""
    assert tokenize("Reset my M-Pesa PIN!!") == ["reset", "my", "m", "pesa", "pin", "mpesa"]
    assert "mpesa" in tokenize("MPESA") and "mpesa" in tokenize("m-pesa")
    assert tokenize("Dial *483*7#, then 'OK'.") == ["dial", "483", "7", "then", "ok"]
    assert tokenize("Café") == ["cafe"]


def test_swahili_words_are_left_whole_while_english_inflections_are_trimmed() -> None:
    """The light stemmer must not cut Swahili (words end in vowels), unlike an English one."""
    swahili = "nataka kujua salio langu nimesahau pesa nilizotuma kimakosa"
    assert tokenize(swahili) == swahili.split()
    assert tokenize("charges transfers sending requested") == [
        "charge",
        "transfer",
        "send",
        "request",
    ]
    assert tokenize("access status bus this") == ["access", "status", "bus", "this"]


def test_rare_words_outweigh_common_ones() -> None:
    """BM25's point: 'paybill' (one phrasing) decides over 'how do I my' (four)."""
    index = LexicalIndex.build(PHRASINGS)
    scores, ids = index.search("how do I use my paybill", 3)
    assert ids[0] == 15
    assert scores[0] > scores[1] > 0


def test_swahili_query_finds_the_swahili_phrasing() -> None:
    index = LexicalIndex.build(PHRASINGS)
    _, ids = index.search("nimesahau pin", 2)
    assert ids.tolist() == [16, 11]
    _, ids = index.search("salio", 3)
    assert ids.tolist() == [13, -1, -1], "phrasings sharing no word are left out"


def test_score_all_agrees_with_search() -> None:
    index = LexicalIndex.build(PHRASINGS)
    matrix = index.score_all(["my pin", "salio", "nothing here"])
    assert matrix.shape == (3, len(PHRASINGS))
    scores, ids = index.search("my pin", len(PHRASINGS))
    by_id = dict(zip(index.ids().tolist(), matrix[0].tolist(), strict=True))
    for score, phrasing_id in zip(scores, ids, strict=True):
        if phrasing_id >= 0:
            assert by_id[int(phrasing_id)] == pytest.approx(float(score))
    assert not matrix[2].any()


def test_bytes_round_trip_keeps_ids_vocabulary_and_scores() -> None:
    index = LexicalIndex.build(PHRASINGS)
    loaded = LexicalIndex.from_bytes(index.to_bytes())
    assert loaded.ids().tolist() == index.ids().tolist()
    assert loaded.vocabulary() == index.vocabulary()
    queries = ["How do I reset my mpesa pin", "nataka salio", "paybill 522533"]
    np.testing.assert_allclose(loaded.score_all(queries), index.score_all(queries))


def test_an_empty_index_answers_nothing_and_round_trips() -> None:
    for index in (LexicalIndex.build([]), LexicalIndex.build([(1, "?!")])):
        loaded = LexicalIndex.from_bytes(index.to_bytes())
        scores, ids = loaded.search("anything", 2)
        assert ids.tolist() == [-1, -1] and not scores.any()
        assert loaded.score_all(["x"]).shape == (1, len(index))


def test_unreadable_bytes_raise_a_lexical_index_error() -> None:
    with pytest.raises(LexicalIndexError):
        LexicalIndex.from_bytes(b"not an index")
