"""BM25 over the sentence windows: built in batches, saved as bm25s files, read memory-mapped."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from index.retrieval.ranked import EMPTY, Ranked, Rows, Scores, best_first
from index.storage.bm25 import K1, B, idf


class KeywordFiles(NamedTuple):
    """The file names of one saved keyword index (bm25s' layout, with our names)."""

    data: str
    indices: str
    indptr: str
    vocab: str
    params: str

    @classmethod
    def named(cls, stem: str) -> KeywordFiles:
        """Return the names used for a generation, e.g. stem "keywords.2026...-ab12cd34"."""
        return cls(
            f"{stem}.data.npy",
            f"{stem}.indices.npy",
            f"{stem}.indptr.npy",
            f"{stem}.vocab.json",
            f"{stem}.params.json",
        )

    def arguments(self) -> dict[str, str]:
        """Return the names as the keyword arguments of bm25s' save and load."""
        return {
            "data_name": self.data,
            "indices_name": self.indices,
            "indptr_name": self.indptr,
            "vocab_name": self.vocab,
            "params_name": self.params,
        }


class KeywordIndex:
    """BM25 (Lucene variant, as bm25s scores it) with top-k and exact scores for given rows."""

    def __init__(
        self,
        vocabulary: dict[str, int],
        data: NDArray[np.float32],
        indices: NDArray[np.int32],
        indptr: NDArray[np.int64],
        size: int,
    ) -> None:
        # A column per term (CSC): rows holding the term, ascending, with their BM25 weight.
        # Plain views of memory-mapped arrays: slicing an np.memmap is several times slower.
        self.vocabulary = vocabulary
        self.data = np.asarray(data)
        self.indices = np.asarray(indices)
        self.indptr = np.asarray(indptr)
        self.size = size

    def known(self, query_terms: Iterable[str]) -> list[str]:
        """Return the query terms that occur somewhere in the corpus."""
        return [term for term in query_terms if term in self.vocabulary]

    def _columns(self, query_terms: Sequence[str]) -> list[tuple[int, int]]:
        # A repeated query term counts each time, as in bm25s.
        ids = [self.vocabulary[t] for t in query_terms if t in self.vocabulary]
        return [(int(self.indptr[i]), int(self.indptr[i + 1])) for i in ids]

    def top(self, query_terms: Sequence[str], k: int) -> Ranked:
        """Return the `k` best rows for the query terms, touching only their postings."""
        columns = [(a, b) for a, b in self._columns(query_terms) if b > a]
        if not columns or k <= 0:
            return EMPTY
        rows = np.concatenate([self.indices[a:b] for a, b in columns]).astype(np.int64)
        weights = np.concatenate([self.data[a:b] for a, b in columns])
        if len(columns) > 1:
            rows, inverse = np.unique(rows, return_inverse=True)
            weights = np.bincount(inverse, weights=weights).astype(np.float32)
        return best_first(rows, np.asarray(weights, dtype=np.float32), k)

    def scores_at(self, query_terms: Sequence[str], rows: Rows) -> Scores:
        """Return the exact BM25 score of each given row."""
        scores = np.zeros(len(rows), dtype=np.float32)
        for a, b in self._columns(query_terms):
            column = self.indices[a:b]
            if not len(column):
                continue
            place = np.minimum(np.searchsorted(column, rows), len(column) - 1)
            found = column[place] == rows
            scores[found] += self.data[a:b][place[found]]
        return scores

    def all_scores(self, query_terms: Sequence[str]) -> Scores:
        """Return the score of every row (tests and small corpora only: it is O(rows))."""
        return self.scores_at(query_terms, np.arange(self.size, dtype=np.int64))

    def save(self, folder: Path, files: KeywordFiles) -> None:
        """Write the index in bm25s' format, so `bm25s.BM25.load(mmap=True)` reads it too."""
        import bm25s

        model = bm25s.BM25(k1=K1, b=B, method="lucene")
        model.scores = {
            "data": np.asarray(self.data),
            "indices": np.asarray(self.indices),
            "indptr": np.asarray(self.indptr),
            "num_docs": self.size,
        }
        model.vocab_dict = self.vocabulary
        model.nonoccurrence_array = None  # set by bm25s' own indexing, which we do not run
        model.corpus = None
        model.save(folder, show_progress=False, **files.arguments())

    @classmethod
    def load(cls, folder: Path, files: KeywordFiles) -> KeywordIndex:
        """Map a saved index: the postings stay on disk until a query reads them."""
        import bm25s

        model = bm25s.BM25.load(folder, mmap=True, **files.arguments())
        scores = model.scores
        return cls(
            dict(model.vocab_dict),
            scores["data"],
            scores["indices"],
            scores["indptr"],
            int(scores["num_docs"]),
        )


class KeywordBuilder:
    """Collect term counts unit by unit (rows in order), then weigh them into a KeywordIndex."""

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = {}
        self._rows: list[NDArray[np.int32]] = []
        self._terms: list[NDArray[np.int32]] = []
        self._counts: list[NDArray[np.float32]] = []
        self._lengths: list[int] = []

    def add(self, units: Iterable[Sequence[str]]) -> None:
        """Add a batch of units, each given as its analysed terms."""
        rows: list[int] = []
        term_ids: list[int] = []
        counts: list[int] = []
        for unit in units:
            row = len(self._lengths)
            self._lengths.append(len(unit))
            for term, count in Counter(unit).items():
                rows.append(row)
                term_ids.append(self.vocabulary.setdefault(term, len(self.vocabulary)))
                counts.append(count)
        # Arrays per batch, not Python lists for the whole corpus: memory stays near the index's.
        self._rows.append(np.asarray(rows, dtype=np.int32))
        self._terms.append(np.asarray(term_ids, dtype=np.int32))
        self._counts.append(np.asarray(counts, dtype=np.float32))

    def build(self) -> KeywordIndex:
        """Weigh every posting by BM25 and lay them out a column per term."""
        size = len(self._lengths)
        rows = np.concatenate(self._rows) if self._rows else np.zeros(0, np.int32)
        term_ids = np.concatenate(self._terms) if self._terms else np.zeros(0, np.int32)
        counts = np.concatenate(self._counts) if self._counts else np.zeros(0, np.float32)
        self._rows, self._terms, self._counts = [], [], []
        lengths = np.asarray(self._lengths, dtype=np.float32)
        average = float(lengths.mean()) if size and lengths.sum() else 1.0
        frequency = np.bincount(term_ids, minlength=len(self.vocabulary)).astype(np.float64)
        idf = np.log1p((size - frequency + 0.5) / (frequency + 0.5)).astype(np.float32)
        norm = K1 * ((1 - B) + B * lengths[rows] / average) if size else np.zeros(0)
        weights = (idf[term_ids] * counts / (norm + counts)).astype(np.float32)
        # A stable sort by term keeps each column's rows ascending, as searchsorted needs.
        order = np.argsort(term_ids, kind="stable")
        indptr = np.zeros(len(self.vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(term_ids, minlength=len(self.vocabulary)), out=indptr[1:])
        return KeywordIndex(
            dict(self.vocabulary), weights[order], rows[order].astype(np.int32), indptr, size
        )


class TermWeights:
    """Inverse document frequencies of stemmed terms over the indexed sentences."""

    def __init__(self, frequency: dict[str, int], size: int) -> None:
        self.size = size
        self._frequency = frequency

    @classmethod
    def counted(cls, sentences: Iterable[Sequence[str]]) -> TermWeights:
        """Count in how many sentences each term occurs."""
        frequency: Counter[str] = Counter()
        size = 0
        for sentence_terms in sentences:
            frequency.update(set(sentence_terms))
            size += 1
        return cls(dict(frequency), size)

    def idf(self, term: str) -> float:
        """Return the BM25 inverse document frequency of a term; unseen terms weigh the most."""
        frequency = self._frequency.get(term, 0)
        return idf(frequency, self.size)

    def save(self, path: Path) -> None:
        """Write the counts as JSON."""
        record = {"size": self.size, "frequency": self._frequency}
        path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> TermWeights:
        """Read counts written by `save`."""
        record = json.loads(path.read_text(encoding="utf-8"))
        return cls({str(k): int(v) for k, v in record["frequency"].items()}, int(record["size"]))
