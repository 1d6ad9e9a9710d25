"""Measure who-spoke-with-whom extraction against the index build, and /relations latency.

usage: python -m bench.relations [--sample N]
Extraction runs over all SQuAD dev passages from a cold start (spaCy loaded inside the timing);
the embedding build is timed on a random sample of N passages (all of them with --sample 0)
and scaled to the whole corpus by its share of sentence windows.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

from bench.squad_corpus import SHARED_EVAL, read_jsonl, write_corpus
from index import Engine, EngineSettings
from index.corpus.documents import load_corpus
from index.relations.drawing import draw
from index.relations.graph import sync_relations
from index.retrieval.encoder import SentenceEncoder
from index.storage.local.store import sync_index
from index.text.windows import split_sentences

CACHE = Path(__file__).resolve().parent / ".cache"
ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=int, default=400, help="passages to embed (0: all)")
    args = parser.parse_args()
    passages = read_jsonl(SHARED_EVAL / "squad" / "passages.jsonl")
    corpus = CACHE / "squad" / "corpus"
    write_corpus(passages, corpus)
    documents = load_corpus(corpus).documents
    # The engine hands extraction the sentences the index has split already; so does this.
    sentences = {d.doc_id: split_sentences(d) for d in documents}
    windows = sum(len(s) for s in sentences.values())

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        graph, _ = sync_relations(Path(folder), documents, sentences)
        extract = time.perf_counter() - started
        started = time.perf_counter()
        sync_relations(Path(folder), documents, sentences)
        cached = time.perf_counter() - started
    print(
        f"extraction: {len(documents)} passages in {extract:.1f} s cold "
        f"({len(graph.links)} links, {len(graph.nodes)} parties); from cache {cached:.2f} s"
    )

    encoder = SentenceEncoder()
    chosen = documents if args.sample == 0 else random.Random(0).sample(documents, args.sample)
    chosen_windows = sum(len(sentences[d.doc_id]) for d in chosen)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        sync_index(Path(folder), chosen, encoder)
        embed = (time.perf_counter() - started) * windows / chosen_windows
    print(
        f"embedding build: {embed:.1f} s for {windows} windows "
        f"(timed on {len(chosen)} passages, {chosen_windows} windows)"
    )
    print(f"extraction adds {100 * extract / embed:.1f}% to the index build")

    with tempfile.TemporaryDirectory() as folder:
        shutil.copytree(ROOT / "corpus", Path(folder) / "corpus")
        settings = EngineSettings(corpus_dir=Path(folder) / "corpus", index_dir=Path(folder) / "i")
        engine = Engine.open(settings, encoder=encoder)
        draw(engine.relations().graph)  # the first drawing imports matplotlib
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            draw(engine.relations().graph)
            timings.append(time.perf_counter() - started)
        print(f"/relations on the default article, picture included: {min(timings) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
