"""The row table: every row's sentence and window offsets in numpy columns, one row a window."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np
from numpy.typing import NDArray

from index.text.windows import Sentence

# Columns of the row table, one row per indexed sentence window. The local store keeps the table
# on disk; the Postgres store builds a document's block from the windows it reads, so that a
# cached document is a few arrays, not a Python object per sentence.
PARAGRAPH, START, END, WINDOW_START, WINDOW_END = range(5)
COLUMNS = 5
Table = NDArray[np.int64]


class SentenceColumns(Sequence[Sentence]):
    """A document's sentences read from the row table (memory-mapped), as Sentence tuples."""

    __slots__ = ("_table",)  # one per document, made at every open

    def __init__(self, table: Table) -> None:
        self._table = table

    def __len__(self) -> int:
        return int(self._table.shape[0])

    @overload
    def __getitem__(self, index: int) -> Sentence: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Sentence]: ...
    def __getitem__(self, index: int | slice) -> Sentence | Sequence[Sentence]:
        if isinstance(index, slice):
            return SentenceColumns(self._table[index])
        paragraph, start, end = self._table[index, :3].tolist()
        return Sentence(paragraph, start, end)

    def __iter__(self) -> Iterator[Sentence]:
        for paragraph, start, end in self._table[:, :3].tolist():
            yield Sentence(paragraph, start, end)

    def paragraph_range(self, paragraph: int) -> range:
        """Return the indexes of the sentences in a paragraph, by binary search of its column."""
        column = self._table[:, PARAGRAPH]
        lo = int(np.searchsorted(column, paragraph, side="left"))
        hi = int(np.searchsorted(column, paragraph, side="right"))
        return range(lo, hi)


class WindowColumns(Sequence[tuple[int, int]]):
    """A document's window spans read from the row table."""

    __slots__ = ("_table",)

    def __init__(self, table: Table) -> None:
        self._table = table

    def __len__(self) -> int:
        return int(self._table.shape[0])

    @overload
    def __getitem__(self, index: int) -> tuple[int, int]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[int, int]]: ...
    def __getitem__(self, index: int | slice) -> tuple[int, int] | Sequence[tuple[int, int]]:
        if isinstance(index, slice):
            return WindowColumns(self._table[index])
        start, end = self._table[index, WINDOW_START:].tolist()
        return (start, end)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for pair in self._table[:, WINDOW_START:].tolist():
            yield (pair[0], pair[1])


def table_of(sentences: Sequence[Sentence], windows: Sequence[tuple[int, int]]) -> Table:
    """Return the row table block for one document's sentences and windows."""
    if isinstance(sentences, SentenceColumns) and isinstance(windows, WindowColumns):
        return np.asarray(sentences._table, dtype=np.int64)
    block = np.zeros((len(sentences), COLUMNS), dtype=np.int64)
    if len(sentences):
        block[:, :3] = np.asarray([tuple(s) for s in sentences], dtype=np.int64)
        block[:, WINDOW_START:] = np.asarray(list(windows), dtype=np.int64)
    return block
