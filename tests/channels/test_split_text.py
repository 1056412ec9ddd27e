"""Splitting long replies for channels with a length limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imaradesk.channels.base import split_text


def test_short_text_is_untouched() -> None:
    assert split_text("  Hello there.  ", 100) == ["Hello there."]
    assert split_text("", 100) == []


def test_splits_at_sentence_boundaries() -> None:
    text = "One two three. Four five six! Seven eight nine?"
    assert split_text(text, 30) == ["One two three. Four five six!", "Seven eight nine?"]


def test_long_sentence_falls_back_to_words_and_long_word_to_a_cut() -> None:
    assert split_text("aaaa bbbb cccc", 9) == ["aaaa bbbb", "cccc"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        split_text("hi", 0)


@given(
    st.text(alphabet=st.sampled_from("ab .!?\n"), max_size=400),
    st.integers(min_value=1, max_value=60),
)
def test_every_chunk_fits_and_no_word_is_lost(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert all(0 < len(c) <= limit for c in chunks)
    assert "".join("".join(c.split()) for c in chunks) == "".join(text.split())
