"""BM25 keyword scoring over the indexed sentence windows (bm25s, English stemming)."""

from __future__ import annotations

import re
from functools import lru_cache

import bm25s
import numpy as np
from numpy.typing import NDArray

_WORD = re.compile(r"(?u)\b\w\w+\b")


# Snowball leaves irregular verbs apart (spoke, spoken, speak); fold their forms to the base first.
_IRREGULAR_FORMS = """
be was were been|begin began begun|break broke broken|bring brought|build built|buy bought
catch caught|choose chose chosen|come came|do did done|draw drew drawn|drive drove driven
eat ate eaten|fall fell fallen|feel felt|fight fought|fly flew flown|forget forgot
forgotten|get got gotten|give gave given|go went gone|grow grew grown|have had|hear heard
hide hid hidden|hold held|keep kept|know knew known|lead led|lend lent
lose lost|make made|mean meant|meet met|pay paid|run ran|say said|see seen
seek sought|sell sold|send sent|shake shook shaken|shoot shot|sing sang sung|sit sat|speak spoke
spoken|spend spent|stand stood|steal stole stolen|strike struck|swear swore sworn|take took taken
teach taught|tell told|think thought|throw threw thrown|understand understood|wake woke woken
wear wore worn|win won|withdraw withdrew withdrawn|write wrote written|arise arose arisen
"""
IRREGULAR = {
    form: group.split()[0]
    for group in _IRREGULAR_FORMS.replace("\n", " ").split("|")
    for form in group.split()[1:]
}


class _EnglishStemmer:
    """Snowball English, after folding irregular verb forms to their base."""

    def __init__(self) -> None:
        import Stemmer

        self._snowball = Stemmer.Stemmer("english")

    def stemWords(self, words: list[str]) -> list[str]:  # PyStemmer's name, which bm25s calls
        return list(self._snowball.stemWords([IRREGULAR.get(w, w) for w in words]))


@lru_cache(maxsize=1)
def _stemmer() -> _EnglishStemmer:
    return _EnglishStemmer()


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Return bm25s' English stop words."""
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def terms(text: str) -> list[str]:
    """Lower-case, drop stop words and stem: the same analysis BM25 uses."""
    words = [w for w in _WORD.findall(text.lower()) if w not in stopwords()]
    return list(_stemmer().stemWords(words))


class TermWeights:
    """Inverse document frequencies of stemmed terms over a set of texts."""

    def __init__(self, texts: list[str]) -> None:
        self.size = len(texts)
        self._frequency: dict[str, int] = {}
        for text in texts:
            for term in set(terms(text)):
                self._frequency[term] = self._frequency.get(term, 0) + 1

    def idf(self, term: str) -> float:
        """Return the BM25 inverse document frequency of a term; unseen terms weigh the most."""
        frequency = self._frequency.get(term, 0)
        return float(np.log(1.0 + (self.size - frequency + 0.5) / (frequency + 0.5)))


class KeywordIndex:
    """A BM25 index whose scores for every unit come back as one dense array."""

    def __init__(self, texts: list[str]) -> None:
        self.size = len(texts)
        self._model = bm25s.BM25(k1=1.2, b=0.75)
        if texts:
            tokens = bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), show_progress=False)
            self._model.index(tokens, show_progress=False)
            self._vocabulary: dict[str, int] = tokens.vocab
        else:
            self._vocabulary = {}

    def known(self, query_terms: list[str]) -> list[str]:
        """Return the query terms that occur somewhere in the corpus."""
        return [term for term in query_terms if term in self._vocabulary]

    def scores(self, query: str) -> NDArray[np.float32]:
        """Return the BM25 score of every unit for a query (zeros where nothing matches)."""
        known = self.known(terms(query))
        if not self.size or not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._model.get_scores(known), dtype=np.float32)
