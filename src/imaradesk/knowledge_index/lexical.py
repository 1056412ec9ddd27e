"""A lexical ranker over phrasings: BM25 (bm25s) on words, next to the dense index.

Embeddings blur rare, exact words: product names ("M-Pesa"), codes ("*483*1#", "KCB-M2"),
Swahili words the English model barely knows. BM25 rewards exactly those words, since rare ones
weigh most. The tokeniser is deliberately language-light so that English and Swahili share it:
casefolding, accents stripped, punctuation dropped, hyphenated and dotted compounds kept also
as one word ("M-Pesa" -> "m", "pesa", "mpesa"), and a light suffix stripper that only touches
English inflections ending in a consonant ("-s", "-ed", "-ing"): Swahili words end in a vowel,
so it leaves them alone (an English stemmer such as Porter's would cut "nataka" or "salio").

The index is persisted beside the FAISS one, sealed the same way, rather than rebuilt on load:
the manifest keeps only digests of the phrasings, and rebuilding would need the texts back from
the database (decrypting every row) in whatever process loads it. The serialised form is plain
arrays (ids, vocabulary, the BM25 weight matrix), loaded without pickle.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Sequence

import bm25s
import numpy as np
import scipy.sparse as sp

from imaradesk.knowledge_index.errors import LexicalIndexError as LexicalIndexError

# bm25s' defaults (Lucene's BM25); phrasings are short, so length normalisation matters little.
K1 = 1.5
B = 0.75
_FORMAT = 2  # 2: says whether it indexes subwords (1 never did)

_WORD = re.compile(r"[^\W_]+")
# Words joined by hyphens, dots or apostrophes ("m-pesa", "e.g", "o'clock"): also kept whole.
_COMPOUND = re.compile(r"[^\W_]+(?:[-.'’][^\W_]+)+")
_VOWELS = frozenset("aeiouy")


def tokenize(text: str, *, subwords: bool = False) -> list[str]:
    """Words of ``text`` as the index sees them (casefolded, accent-free, lightly stemmed).

    With ``subwords``, a long word ending in a vowel also gives its last three and four
    letters: a Swahili verb carries its person, tense and object as prefixes before the root
    ("nikitoa", "kutoa", "ametoa": "toa", withdraw), so its ending is what two forms share.
    Measured on the development half of bench/multilingual: right entry 0.71 -> 0.77 for
    Swahili and Sheng, with the multilingual encoder.
    """
    folded = _strip_accents(unicodedata.normalize("NFKC", text).casefold())
    tokens = [_stem(w) for w in _WORD.findall(folded)]
    for compound in _COMPOUND.findall(folded):
        tokens.append("".join(_WORD.findall(compound)))
    if subwords:
        tokens += [f"~{w[-n:]}" for w in tokens if len(w) >= 5 and w[-1] in _VOWELS for n in (3, 4)]
    return tokens


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _stem(word: str) -> str:
    # Only English inflections; anything ending in a vowel (all native Swahili words) is kept.
    if len(word) <= 3 or word[-1] in _VOWELS or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("ing") and len(word) > 5:
        return word[:-3]
    if word.endswith("ed") and len(word) > 4:
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


class LexicalIndex:
    """BM25 over one organization's phrasings; immutable, rebuilt with the snapshot."""

    def __init__(
        self,
        ids: np.ndarray,
        vocabulary: dict[str, int],
        weights: sp.csr_matrix,
        *,
        subwords: bool = False,
    ):
        # weights: (vocabulary, phrasings) BM25 weight of each word in each phrasing.
        self._ids = ids
        self._vocabulary = vocabulary
        self._weights = weights
        self._subwords = subwords

    @classmethod
    def build(cls, items: Sequence[tuple[int, str]], *, subwords: bool = False) -> LexicalIndex:
        """Index (phrasing id, text) pairs (``subwords``: see ``tokenize``)."""
        ids = np.array([i for i, _ in items], dtype=np.int64)
        corpus = [tokenize(text, subwords=subwords) for _, text in items]
        vocabulary: dict[str, int] = {}
        token_ids = [[vocabulary.setdefault(t, len(vocabulary)) for t in doc] for doc in corpus]
        if not vocabulary:
            return cls(ids, {}, sp.csr_matrix((0, len(ids)), dtype=np.float32), subwords=subwords)
        bm25 = bm25s.BM25(k1=K1, b=B, method="lucene")
        bm25.index((token_ids, vocabulary), create_empty_token=False, show_progress=False)
        s = bm25.scores
        weights = sp.csc_matrix(
            (s["data"], s["indices"], s["indptr"]), shape=(s["num_docs"], len(vocabulary))
        ).T.tocsr()
        return cls(ids, vocabulary, weights.astype(np.float32), subwords=subwords)

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self) -> np.ndarray:
        return self._ids

    def vocabulary(self) -> frozenset[str]:
        return frozenset(self._vocabulary)

    def score_all(self, texts: Sequence[str]) -> np.ndarray:
        """BM25 score of every phrasing for each text: shape (len(texts), len(self))."""
        rows, cols = [], []
        for row, text in enumerate(texts):
            for token in tokenize(text, subwords=self._subwords):
                column = self._vocabulary.get(token)
                if column is not None:
                    rows.append(row)
                    cols.append(column)
        counts = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)),
            shape=(len(texts), len(self._vocabulary)),
        )
        return np.asarray((counts @ self._weights).todense(), dtype=np.float32).reshape(
            len(texts), len(self)
        )

    def search(self, text: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best phrasings for ``text``: (scores, ids); phrasings sharing no word with
        it are left out (id -1), as FAISS marks missing slots."""
        scores = self.score_all([text])[0]
        out_scores = np.zeros(k, dtype=np.float32)
        out_ids = np.full(k, -1, dtype=np.int64)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        hits = hits[np.argsort(-scores[hits], kind="stable")]
        out_scores[: len(hits)] = scores[hits]
        out_ids[: len(hits)] = self._ids[hits]
        return out_scores, out_ids

    def to_bytes(self) -> bytes:
        """The whole index as plain arrays (the caller seals and stores it)."""
        weights = self._weights.tocsr()
        words = sorted(self._vocabulary, key=self._vocabulary.__getitem__)
        buffer = io.BytesIO()
        np.savez(
            buffer,
            format=np.array(_FORMAT),
            subwords=np.array(self._subwords),
            ids=self._ids,
            words=np.array(words, dtype=np.str_) if words else np.zeros(0, dtype="<U1"),
            data=weights.data,
            indices=weights.indices,
            indptr=weights.indptr,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LexicalIndex:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                if int(npz["format"]) not in (1, _FORMAT):
                    raise LexicalIndexError(f"unknown lexical index format {int(npz['format'])}")
                subwords = bool(npz["subwords"]) if "subwords" in npz.files else False
                ids = npz["ids"].astype(np.int64)
                words = npz["words"].tolist()
                weights = sp.csr_matrix(
                    (npz["data"], npz["indices"], npz["indptr"]), shape=(len(words), len(ids))
                )
        except (OSError, ValueError, KeyError) as e:
            raise LexicalIndexError(f"cannot read lexical index: {e}") from e
        return cls(ids, {w: i for i, w in enumerate(words)}, weights, subwords=subwords)
