"""Measure how far the verifier's reranking could lift SQuAD R@1 / R@5 with a larger budget.

usage: python -m bench.rerank_budget [--questions 1200]

Scores every sentence of each question's twelve best passages once, then replays the engine's
ordering (fused score + weight x the verifier's log-odds of a passage's best judged sentence)
for several sentence budgets and weights. The people checks of
`index/answering/attribution.py` are left out: SQuAD questions rarely name a person the passage
lacks or ask what someone said.
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

from bench.run import squad_retrieval_set
from bench.squad_corpus import verifier_training_titles
from index import Engine, EngineSettings
from index.answering.judging import SENTENCES_PER_PASSAGE, best_sentences, judged_sentence, log_odds
from index.answering.questions import clean_question
from index.answering.quotes import passage_candidates
from index.answering.relevance import question_terms
from index.retrieval.encoder import SentenceEncoder

PASSAGES = 12
BUDGETS: dict[str, tuple[int, ...]] = {
    "engine: " + ",".join(map(str, SENTENCES_PER_PASSAGE)): SENTENCES_PER_PASSAGE,
    "2,2,2,2,1,1": (2, 2, 2, 2, 1, 1),
    "3 a passage, 6 passages": (3,) * 6,
    "all sentences, 6 passages": (99,) * 6,
    "2,2,2,2,1,1,1,1": (2, 2, 2, 2, 1, 1, 1, 1),
    "2 a passage, 8 passages": (2,) * 8,
    "2,2,2,1,1,1,1": (2, 2, 2, 1, 1, 1, 1),
    "2,2,2,1 x 9 (12 passages)": (2, 2, 2) + (1,) * 9,
    "3,3,3,2,2,2,1,1,1,1": (3, 3, 3, 2, 2, 2, 1, 1, 1, 1),
    "2 a passage, 10 passages": (2,) * 10,
    "all sentences, 12 passages": (99,) * PASSAGES,
}
WEIGHTS = (0.5, 1.0, 2.0)


class Scored(NamedTuple):
    """One candidate passage: its id, fused score and sentence probabilities, best window first."""

    pid: str
    fused: float
    probabilities: list[float]


class Case(NamedTuple):
    """One question's gold passage, whether training saw its article, and its candidates."""

    pid: str
    seen: bool
    passages: list[Scored]


def score_cases(engine: Engine, ids: dict[str, str], questions: list[dict[str, str]]) -> list[Case]:
    """Score every sentence of each question's best passages with the verifier, once."""
    assert engine.verifier is not None, "the benchmark needs the verifier"
    trained_on = verifier_training_titles()
    searcher = engine.searcher
    cases = []
    for question in questions:
        text = clean_question(question["question"], max_chars=engine.settings.max_question_chars)
        hits = searcher.search(text)
        wanted = question_terms(text, searcher.term_weights)
        scored = []
        for candidate in passage_candidates(searcher.backend, hits, text, wanted)[:PASSAGES]:
            order = best_sentences(searcher.backend, hits, candidate, len(candidate.item.sentences))
            judged = [judged_sentence(candidate.item, index) for index in order]
            probabilities = engine.verifier.score(text, judged).tolist()
            pid = ids[candidate.item.document.doc_id]
            scored.append(Scored(pid, candidate.fused, probabilities))
        cases.append(Case(question["pid"], question["title"] in trained_on, scored))
    return cases


def recall(cases: list[Case], budget: tuple[int, ...], weight: float) -> tuple[float, float]:
    """Replay the engine's ordering with this budget and weight; return R@1 and R@5."""
    at1 = at5 = 0
    for case in cases:
        judged = case.passages[: len(budget)]
        keys = [
            p.fused + weight * log_odds(max(p.probabilities[:count]))
            for p, count in zip(judged, budget, strict=False)
        ]
        order = sorted(range(len(judged)), key=lambda i: -keys[i])
        ranked = [judged[i].pid for i in order] + [p.pid for p in case.passages[len(budget) :]]
        at1 += ranked[:1] == [case.pid]
        at5 += case.pid in ranked[:5]
    return at1 / len(cases), at5 / len(cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=1200, help="seeded sample (0: all)")
    args = parser.parse_args()
    questions, ids, corpus, index = squad_retrieval_set(parser, args.questions)
    engine = Engine.open(
        EngineSettings(corpus_dir=corpus, index_dir=index),
        encoder=SentenceEncoder(),
        show_progress=True,
    )
    cases = score_cases(engine, ids, questions)
    unseen = [c for c in cases if not c.seen]
    hybrid = recall(cases, (), 0.0)
    print(f"{len(cases)} questions ({len(unseen)} of articles training never saw)")
    unseen_hybrid = recall(unseen, (), 0.0)
    print(
        f"hybrid alone: R@1 {hybrid[0]:.3f}, R@5 {hybrid[1]:.3f} "
        f"(unseen articles {unseen_hybrid[0]:.3f} / {unseen_hybrid[1]:.3f})"
    )
    print()
    print("| sentences verified | weight | R@1 | R@5 | R@1 / R@5, unseen articles |")
    print("| --- | --- | --- | --- | --- |")
    for name, budget in BUDGETS.items():
        for weight in WEIGHTS:
            r1, r5 = recall(cases, budget, weight)
            u1, u5 = recall(unseen, budget, weight)
            print(f"| {name} | {weight} | {r1:.3f} | {r5:.3f} | {u1:.3f} / {u5:.3f} |")


if __name__ == "__main__":
    main()
