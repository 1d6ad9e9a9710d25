"""The analysis BM25 and question terms share: words, stop words, English stemming."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from index.corpus.documents import Document
from index.text.windows import ChunkerParams, Sentence, window_bounds

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


def window_terms(
    document: Document, sentences: Sequence[Sentence], params: ChunkerParams
) -> tuple[list[list[str]], list[list[str]]]:
    """Return each sentence's terms and each window's (title + its sentences), analysed once."""
    # Windows overlap, so analysing sentences once and joining them costs a third of
    # analysing every window's text; the terms are the same (windows join whole sentences).
    text = document.text
    own = [terms(text[s.start : s.end]) for s in sentences]
    header = terms(document.title) if params.title_prefix else []
    units = []
    for lo, hi in window_bounds(sentences, params.window):
        unit = list(header)
        for index in range(lo, hi + 1):
            unit.extend(own[index])
        units.append(unit)
    return own, units
