"""Quotes are verbatim: text == source[start:end], for any corpus (property-based)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index import Engine, EngineSettings
from tests.conftest import bundled_verifier
from tests.support.hashing_encoder import HashingEncoder

WORDS = [
    "Mr.",
    "Dr.",
    "the",
    "minister",
    "spoke",
    "with",
    "NATO",
    "“quoted”",
    "U.S.",
    "bomb",
    "café",
    "naïve",
    "48",
    "hours",
    "—",
    "Paris",
    "(aside)",
    "e.g.",
    "Ukraine",
    "said:",
]
sentence = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(
    lambda words: " ".join(words) + st_punct(words)
)


def st_punct(words: list[str]) -> str:
    return "." if len(words) % 3 else "?"


paragraph = st.lists(sentence, min_size=1, max_size=5).map(" ".join)
document = st.lists(paragraph, min_size=1, max_size=6)
separator = st.sampled_from(["\n", "\n\n", "\r\n", "\n \n"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    documents=st.lists(st.tuples(document, separator), min_size=1, max_size=3),
    question=st.lists(
        st.sampled_from([w for w in WORDS if w.isalpha()]), min_size=1, max_size=6
    ).map(" ".join),
)
def test_every_quote_is_an_exact_slice_of_its_document(documents, question) -> None:
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus"
        corpus.mkdir()
        for number, (paragraphs, sep) in enumerate(documents):
            (corpus / f"doc{number}.txt").write_bytes(sep.join(paragraphs).encode())
        engine = Engine.open(
            EngineSettings(corpus_dir=corpus, index_dir=Path(folder) / "index"),
            encoder=HashingEncoder(),
            verifier=bundled_verifier(),
        )
        texts = {i.document.doc_id: i.document for i in engine.searcher.backend.documents}
        answer = engine.ask(question)
        summary = engine.summary(length=3)
        topical = engine.summary(topic=question, length=2)
        quotes = [*answer.quotes, *answer.more, *summary.quotes, *topical.quotes]
        for quote in quotes:
            doc = texts[quote.document]
            assert quote.text == doc.text[quote.start : quote.end]
            assert quote.start <= quote.highlight.start < quote.highlight.end <= quote.end
            start, end = doc.paragraphs[quote.paragraph - 1]
            assert start <= quote.start and quote.end <= end
            assert 0.0 <= quote.score <= 1.0
        assert len(answer.quotes) <= 3
        order = [d.document.doc_id for d in engine.searcher.backend.documents]
        reading = [(order.index(q.document), q.start) for q in summary.quotes]
        assert reading == sorted(reading)  # summaries keep document order
