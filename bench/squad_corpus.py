"""Write SQuAD passages out as a corpus folder the engine can index."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from index.corpus.documents import document_id

SHARED_EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def answerable_questions(sample: int = 0) -> list[dict[str, Any]]:
    """Read questions_dev's answerable questions, or a seeded sample of `sample` of them."""
    questions = [
        q
        for q in read_jsonl(SHARED_EVAL / "squad" / "questions_dev.jsonl")
        if not q.get("is_impossible")
    ]
    if not 0 <= sample <= len(questions):
        raise ValueError(f"--questions must be between 0 (all) and {len(questions)}, not {sample}")
    return random.Random(1).sample(questions, sample) if sample else questions


def verifier_training_titles() -> set[str]:
    """Return the articles whose v2_train questions the verifier may have trained on."""
    return {q["title"] for q in read_jsonl(SHARED_EVAL / "squad" / "v2_train.jsonl")}


def passage_file_name(pid: str) -> str:
    """Return a file name that the engine's id scheme maps back to this passage."""
    return pid.lower().replace("_", "-") + ".txt"


def write_corpus(passages: list[dict[str, Any]], folder: Path) -> dict[str, str]:
    """Write one .txt (and title sidecar) per passage; return doc id -> pid."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = {}
    for passage in passages:
        name = passage_file_name(passage["pid"])
        text_path = folder / name
        if not text_path.exists():
            text_path.write_text(passage["text"], encoding="utf-8")
            meta = {"title": passage["title"].replace("_", " ")}
            (folder / (name[:-4] + ".meta.json")).write_text(json.dumps(meta), encoding="utf-8")
        ids[document_id(Path(name))] = passage["pid"]
    return ids


def seed_case_passes(engine: Any, case: dict[str, Any]) -> tuple[bool, Any]:
    """Ask a seed question; pass if it abstains when it should, else quotes the expected words."""
    answer = engine.ask(case["question"])
    text = " ".join(q.text for q in answer.quotes)
    if case.get("abstain"):
        return not answer.answered, answer
    return answer.answered and all(e in text for e in case["expect"]), answer
