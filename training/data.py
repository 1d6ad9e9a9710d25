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

from index.answering.attribution import SPEECH_VERBS
from index.answering.verifier.model import Judged
from index.relations.patterns import SPACY_MODEL, load_nlp
from index.text.analyser import terms
from index.text.segmentation import sentence_spans

# Entity types whose swap turns a question into one its passage no longer answers.
SWAPPABLE = (
    "PERSON",
    "ORG",
    "GPE",
    "NORP",
    "LOC",
    "FAC",
    "EVENT",
    "WORK_OF_ART",
    "LAW",
    "DATE",
    "CARDINAL",
    "ORDINAL",
    "PERCENT",
    "MONEY",
    "QUANTITY",
    "TIME",
)


class Example(NamedTuple):
    """One training pair: the question, the judged sentence, its label and how it was made."""

    question: str
    item: Judged
    label: float
    kind: str
    title: str
    # The annotated answer as it appears in the sentence, for the span objective; "" when none.
    answer: str = ""


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


def answer_in(sentence: str, answers: Iterable[str]) -> str:
    """Return the first annotated answer the sentence contains, or "" when it holds none."""
    return next((answer for answer in answers if answer and answer in sentence), "")


def holds_answer(sentence: str, answers: Iterable[str]) -> bool:
    """Return True when the sentence contains one of the annotated answers."""
    return bool(answer_in(sentence, answers))


class SentencePool:
    """BM25 over every sentence of the passages, to find retrieval's hard negatives."""

    def __init__(self, paragraphs: dict[str, Paragraph]) -> None:
        import bm25s

        from index.text.analyser import _stemmer, stopwords

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

        nlp = spacy.load(SPACY_MODEL, disable=["parser", "lemmatizer"])
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
    rewriter: QuestionRewriter | None = None,
    entity_rate: float = 0.35,
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

        def add(
            item: Judged, label: float, kind: str, q: str = question, t: str = title, a: str = ""
        ) -> None:
            examples.append(Example(q, item, label, kind, t, a))

        order = ranked_by_overlap(question, paragraph)
        if not answers:
            # Written to share the paragraph's words; its closest sentences are the traps.
            for index in order[:2]:
                add(paragraph.judged(index), 0.0, "unanswerable")
        else:
            hits = [i for i in order if holds_answer(paragraph.sentences[i], answers)]
            for index in hits[:2]:
                add(
                    paragraph.judged(index),
                    1.0,
                    "answer",
                    a=answer_in(paragraph.sentences[index], answers),
                )
            misses = [i for i in order if i not in hits]
            for index in misses[:2]:
                add(paragraph.judged(index), 0.0, "same-paragraph")
            if hits and swapper is not None:
                swapped = swapper.swap(question, " ".join(paragraph.sentences), rng)
                if swapped:
                    add(paragraph.judged(hits[0]), 0.0, "entity-swap", swapped)
            if hits and rewriter is not None:
                text = " ".join(paragraph.sentences)
                rewritten = rewriter.predicate_swap(question, text, rng)
                if rewritten:
                    add(paragraph.judged(hits[0]), 0.0, "predicate-swap", rewritten)
        for pid, index in pool.best(question, 6):
            other = paragraphs[pid]
            if pid != row["pid"] and not holds_answer(other.sentences[index], answers):
                add(other.judged(index), 0.0, "retrieved")
                break
        if rng.random() < 0.25:
            other = paragraphs[rng.choice(pids)]
            if other.title != readable_title(title):
                add(other.judged(rng.randrange(len(other.sentences))), 0.0, "off-topic")
    if rewriter is not None:
        titles = {row["pid"]: row["title"] for row in questions}
        sentences = [
            (pid, i, title)
            for pid, title in sorted(titles.items())
            for i in range(len(paragraphs[pid].sentences))
        ]
        examples.extend(rewriter.entity_questions(sentences, paragraphs, rng, entity_rate))
    return examples


def split_titles(titles: Iterable[str], holdout: int) -> tuple[list[str], list[str]]:
    """Split article titles into training and validation sets, deterministically."""
    ordered = sorted(set(titles))
    step = max(1, len(ordered) // max(1, holdout))
    held = ordered[step // 2 :: step][:holdout] if holdout else []
    return [t for t in ordered if t not in held], held


# Roles to ask about ("Who is X's defence minister?"); a question about one the text never
# names cannot be answered by a sentence that merely names X.
ROLES = {
    "PERSON": (
        "wife",
        "husband",
        "father",
        "mother",
        "son",
        "daughter",
        "brother",
        "sister",
        "successor",
        "predecessor",
        "coach",
        "lawyer",
        "teacher",
        "doctor",
        "advisor",
        "deputy",
        "spokesman",
        "secretary",
        "biographer",
        "manager",
    ),
    "ORG": (
        "president",
        "leader",
        "spokesman",
        "founder",
        "chief executive",
        "chairman",
        "director",
        "treasurer",
        "secretary general",
        "deputy leader",
        "chief economist",
        "lawyer",
    ),
    "GPE": (
        "president",
        "prime minister",
        "defence minister",
        "foreign minister",
        "finance minister",
        "health minister",
        "ambassador",
        "governor",
        "mayor",
        "leader",
        "head of state",
        "chief of staff",
        "army commander",
        "police chief",
    ),
}
ASKS = ("say", "say about {topic}", "tell {other}", "claim", "announce", "write about {topic}")
# Content-word tags a predicate swap may change: the question keeps its entities and shape
# but asks about an act or a thing the paragraph never mentions.
SWAP_TAGS = frozenset({"VB", "VBD", "VBN", "VBZ", "VBP", "VBG", "NN", "NNS", "JJ"})
LIGHT_LEMMAS = frozenset({"be", "have", "do", "make", "take", "get", "go", "use", "call"})


def _speakers(doc: Any) -> list[tuple[str, set[int]]]:
    """Who the sentence quotes: each speech verb's subject, named as a question would name it,
    with the token positions of the whole subject ("The mayor, Tomas Vell," is one speaker)."""
    found = []
    for token in doc:
        if token.pos_ == "VERB" and token.lemma_ in SPEECH_VERBS:
            for child in token.children:
                if child.dep_ == "nsubj" and child.pos_ != "PRON":
                    whole = set(range(child.left_edge.i, child.right_edge.i + 1))
                    names = [e for e in doc.ents if e.start in whole and e.label_ == "PERSON"]
                    span = names[0] if names else doc[child.left_edge.i : child.i + 1]
                    words = [t.text for t in span]
                    if span[0].pos_ == "DET":
                        words[0] = words[0].lower()
                    found.append((" ".join(words), whole))
    return found


class QuestionRewriter:
    """Negatives that keep what a question names but change what it asks (spaCy parses).

    - *predicate-swap*: an answerable question with one verb, noun or adjective that its
      paragraph shares replaced by another question's word of the same tag that the paragraph
      never uses ("What did the treaty ban?" -> "What did the treaty fund?"), paired with the
      answer sentence;
    - *not-the-speaker*: "What did X say?" (or tell, claim, ...) about a person or organisation
      the sentence names but does not quote; the sentence's real speakers give *speaker*
      positives ("What did the committee say?" on "The committee said ...");
    - *absent-role*: "Who is X's <role>?" on a sentence naming X, for a role the paragraph
      never names.
    """

    def __init__(self, questions: list[str]) -> None:
        self.nlp = load_nlp()
        self.parsed = dict(zip(questions, self.nlp.pipe(questions, batch_size=256), strict=True))
        pool: dict[str, set[str]] = defaultdict(set)
        for doc in self.parsed.values():
            for token in doc:
                usable = token.is_alpha and token.is_lower and len(token.text) > 3
                if usable and token.tag_ in SWAP_TAGS and token.lemma_ not in LIGHT_LEMMAS:
                    pool[token.tag_].add(token.text)
        self.pool = {tag: sorted(words) for tag, words in pool.items()}

    def predicate_swap(self, question: str, paragraph: str, rng: random.Random) -> str | None:
        """Return the question with a shared content word swapped for an absent one, or None."""
        doc = self.parsed.get(question)
        if doc is None:
            return None
        lowered = paragraph.casefold()
        shared = [
            t
            for t in doc
            if t.tag_ in self.pool
            and t.is_alpha
            and t.lemma_ not in LIGHT_LEMMAS
            and not t.ent_type_
            and t.lemma_.casefold() in lowered
        ]
        if not shared:
            return None
        token = rng.choice(shared)
        choices = [
            w
            for w in rng.sample(self.pool[token.tag_], min(40, len(self.pool[token.tag_])))
            if w.casefold() not in lowered and w[:4] != token.lemma_[:4].casefold()
        ]
        if not choices:
            return None
        start = token.idx
        return question[:start] + choices[0] + question[start + len(token.text) :]

    def entity_questions(
        self,
        sentences: list[tuple[str, int, str]],
        paragraphs: dict[str, Paragraph],
        rng: random.Random,
        rate: float,
    ) -> list[Example]:
        """Speaker positives and not-the-speaker / absent-role negatives for these sentences."""
        out: list[Example] = []
        texts = [paragraphs[pid].sentences[i] for pid, i, _ in sentences]
        docs = self.nlp.pipe(texts, batch_size=256)
        for (pid, index, title), doc in zip(sentences, docs, strict=True):
            if rng.random() > rate:
                continue
            paragraph = paragraphs[pid]
            item = paragraph.judged(index)
            lowered = " ".join(paragraph.sentences).casefold()
            speakers = _speakers(doc)
            quoted = {i for _, whole in speakers for i in whole}
            for name, _ in speakers[:1]:
                if 1 <= len(name.split()) <= 6:
                    out.append(Example(f"What did {name} say?", item, 1.0, "speaker", title))
            named = [e for e in doc.ents if e.label_ in ("PERSON", "ORG", "GPE", "NORP")]
            silent = [
                e
                for e in named
                if e.label_ in ("PERSON", "ORG") and not quoted & set(range(e.start, e.end))
            ]
            if silent:
                entity = rng.choice(silent)
                others = [e.text for e in named if e.text != entity.text]
                topics = [c.text for c in doc.noun_chunks if entity.text not in c.text]
                asks = [
                    a
                    for a in ASKS
                    if ("{other}" not in a or others) and ("{topic}" not in a or topics)
                ]
                ask = rng.choice(asks).format(
                    other=rng.choice(others) if others else "",
                    topic=rng.choice(topics) if topics else "",
                )
                # "He said" may quote the very entity asked about: only sentences whose every
                # speech verb has a named subject (or that have none) are sure negatives.
                verbs = [t for t in doc if t.pos_ == "VERB" and t.lemma_ in SPEECH_VERBS]
                if len(verbs) <= len(speakers):
                    out.append(
                        Example(
                            f"What did {entity.text} {ask}?", item, 0.0, "not-the-speaker", title
                        )
                    )
            typed = [e for e in named if e.label_ in ROLES]
            if typed and rng.random() < 0.5:
                entity = rng.choice(typed)
                roles = [r for r in ROLES[entity.label_] if r.split()[-1] not in lowered]
                if roles:
                    role = rng.choice(roles)
                    question = (
                        f"Who is {entity.text}'s {role}?"
                        if rng.random() < 0.6
                        else f"Who is the {role} of {entity.text}?"
                    )
                    out.append(Example(question, item, 0.0, "absent-role", title))
        return out
