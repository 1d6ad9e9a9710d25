"""The trained answer verifier: shipped weights, honest abstention, failure modes, training."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from index import Engine, VerifierError
from index.answering.verifier.model import (
    BUNDLED_VERIFIER,
    CARD,
    WEIGHTS,
    Judged,
    Verifier,
    load_verifier,
)
from tests.conftest import ROOT, SHARED, bundled_verifier, one_text_engine

# A made-up article, so that nothing here can have been seen in training.
HARBOUR = """The Harbour Bridge of Velmora

The Harbour Bridge of Velmora was designed by the engineer Ilse Marquardt and opened in 1931.

It carries four lanes of traffic and a railway line across the Velmora estuary.

During the flood of 1954 the bridge was closed for eleven days while divers inspected its piers.

The mayor, Tomas Vell, announced on Tuesday that a second bridge will be built upstream.
"""


def shipped() -> Verifier:
    return bundled_verifier()


@pytest.fixture(scope="module")
def harbour(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return one_text_engine(tmp_path_factory.mktemp("harbour"), "velmora.txt", HARBOUR)


def test_the_shipped_verifier_loads_and_matches_its_recorded_checksum() -> None:
    verifier = shipped()
    card = json.loads((BUNDLED_VERIFIER / CARD).read_text())
    assert verifier.sha256 == card["sha256"] and 0 < verifier.threshold < 1
    assert (BUNDLED_VERIFIER / WEIGHTS).stat().st_size <= 50 * 1024 * 1024
    assert (BUNDLED_VERIFIER / "README.md").read_text().count("CC BY-SA 4.0") >= 1


def test_an_answering_sentence_outscores_one_that_only_shares_its_words() -> None:
    title = "The Harbour Bridge of Velmora"
    answer = Judged(
        "The Harbour Bridge of Velmora was designed by the engineer Ilse Marquardt.", "", "", title
    )
    mention = Judged("The Harbour Bridge of Velmora carries four lanes of traffic.", "", "", title)
    yes, no = shipped().score("Who designed the Harbour Bridge of Velmora?", [answer, mention])
    assert yes >= shipped().threshold > no


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who designed the Harbour Bridge?", "Ilse Marquardt"),
        ("Why was the bridge closed in 1954?", "divers inspected"),
        ("When did the bridge open?", "1931"),
        ("What will be built upstream?", "second bridge"),
    ],
)
def test_questions_the_text_answers_are_quoted(
    harbour: Engine, question: str, expected: str
) -> None:
    answer = harbour.ask(question)
    assert answer.answered, answer
    assert expected in answer.quotes[0].text
    highlighted = answer.quotes[0].text[
        answer.quotes[0].highlight.start - answer.quotes[0].start : answer.quotes[0].highlight.end
        - answer.quotes[0].start
    ]
    assert expected in highlighted  # the answering sentence is the one in bold


@pytest.mark.parametrize(
    "question",
    [
        "How much did the Harbour Bridge of Velmora cost to build?",
        "What did Ilse Marquardt say about the flood?",
        "Who was the mayor of Velmora in 1931?",
        "Who designed the second bridge?",
        "When will the second bridge open?",
    ],
)
def test_near_misses_that_name_the_texts_things_abstain(harbour: Engine, question: str) -> None:
    answer = harbour.ask(question)
    assert not answer.answered and answer.quotes == []
    assert answer.closest and all(q.score < shipped().threshold for q in answer.closest)


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "verifier"
    shutil.copytree(BUNDLED_VERIFIER, folder)
    return folder


def test_bfloat16_and_float32_judge_alike() -> None:
    exact = Verifier(precision="float32")
    fast = Verifier(precision="bfloat16")
    assert (exact.precision, fast.precision) == ("float32", "bfloat16")
    title = "The Harbour Bridge of Velmora"
    sentences = [line for line in HARBOUR.splitlines()[2:] if line]
    items = [Judged(sentence, "", "", title) for sentence in sentences]
    for question in (
        "Who designed the bridge?",
        "When was the bridge closed?",
        "Who is the mayor?",
    ):
        near = exact.logits(question, items)
        far = fast.logits(question, items)
        # bfloat16 keeps 8 bits of mantissa: logits move a little, verdicts and order do not.
        assert float(abs(near - far).max()) < 0.25
        assert int(near.argmax()) == int(far.argmax())


def test_auto_precision_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    from index.answering.verifier import network as verifier_net

    monkeypatch.setattr(verifier_net, "native_bfloat16", lambda: False)
    assert Verifier(precision="auto").precision == "float32"
    monkeypatch.setattr(verifier_net, "native_bfloat16", lambda: True)
    assert Verifier(precision="auto").precision == "bfloat16"


def test_an_unknown_precision_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from index import ConfigError, EngineSettings
    from index.settings import load_settings

    with pytest.raises(VerifierError, match="half"):
        Verifier(precision="half")
    monkeypatch.setenv("VERBATIM_VERIFIER_PRECISION", "half")
    with pytest.raises(ConfigError, match="VERBATIM_VERIFIER_PRECISION"):
        load_settings(EngineSettings)


def test_truncated_weights_are_reported_as_corrupt(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    weights = folder / WEIGHTS
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(VerifierError, match=r"corrupt.*sha256"):
        Verifier(folder)


def test_missing_weights_name_the_file_and_the_fix(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / WEIGHTS).unlink()
    with pytest.raises(VerifierError, match=r"missing.*VERBATIM_VERIFIER=off"):
        load_verifier(str(folder))


def test_the_heuristic_fallback_is_explicit_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert load_verifier("off") is None
    assert "VERBATIM_VERIFIER=off" in caplog.text


def test_the_cli_reports_a_corrupt_verifier_in_one_line(tmp_path: Path) -> None:
    from tests.e2e.test_cli import run

    folder = _copy(tmp_path)
    (folder / CARD).write_text("{not json")
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    result = run(tmp_path, "ask", "Who is Ben Wallace?", env={"VERBATIM_VERIFIER": str(folder)})
    assert result.returncode == 2 and "unreadable" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_index_manifest_records_the_verifiers_checksum(harbour: Engine) -> None:
    manifest = json.loads((harbour.settings.index_dir / "manifest.json").read_text())
    assert manifest["verifier"]["sha256"] == shipped().sha256


@pytest.mark.parametrize(
    ("mixed", "span"),
    [(False, False), (True, False), (False, True)],
    ids=["float32", "bfloat16", "span"],
)
def test_the_training_script_runs_end_to_end_on_a_tiny_sample(
    tmp_path: Path, mixed: bool, span: bool
) -> None:
    from training.__main__ import main

    out = tmp_path / "model"
    status = main(
        ["--bfloat16"] * mixed
        + ["--span-weight", "0.5"] * span
        + [
            "--squad",
            str(SHARED / "eval" / "squad"),
            "--out",
            str(out),
            "--work",
            str(tmp_path / "work"),
            "--limit-questions",
            "12",
            "--epochs",
            "1",
            "--max-length",
            "48",
            "--no-progress",
        ]
    )
    assert status == 0
    report = json.loads((out / "training.json").read_text())
    assert report["training"]["steps"] >= 1 and set(report["pairs"]) >= {"answer", "retrieved"}
    assert report["config"]["bfloat16"] is mixed
    assert report["config"]["span_weight"] == (0.5 if span else 0.0)
    assert not set(report["training_titles"]) & set(report["validation_titles"])
    trained = Verifier(out)  # what it wrote loads, checksum and all
    scores = trained.score("Who designed it?", [Judged("Ilse designed it.", "", "", "Bridge")])
    assert scores.shape == (1,) and 0.0 <= float(scores[0]) <= 1.0
    assert "python -m training" in (out / "README.md").read_text()


def test_the_span_targets_cover_the_answers_tokens_or_point_at_cls() -> None:
    from transformers import AutoTokenizer

    from index.retrieval.encoder import resolve_model
    from index.settings import PACKAGED_MODEL
    from training.data import Example
    from training.span import IGNORED, answer_tokens
    from training.train import encode

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(PACKAGED_MODEL))
    item = Judged("The bridge was designed by Ilse Marquardt in 1931.", "", "Before.", "Velmora")
    batch = [
        Example("Who designed it?", item, 1.0, "answer", "Velmora", "Ilse Marquardt"),
        Example("When did it close?", item, 0.0, "same-paragraph", "Velmora"),
        Example("Who designed it?", item, 1.0, "answer", "Velmora", "not in the sentence"),
    ]
    encoded = encode(tokenizer, [(e.question, e.item) for e in batch], 64, offsets=True)
    first, last = answer_tokens(encoded, 0, batch[0])
    ids = encoded["input_ids"][0][first : last + 1].tolist()
    assert tokenizer.decode(ids) == "ilse marquardt"
    assert answer_tokens(encoded, 1, batch[1]) == (0, 0)
    assert answer_tokens(encoded, 2, batch[2]) == (IGNORED, IGNORED)


def test_the_span_loss_rewards_pointing_at_the_target_and_skips_cut_off_answers() -> None:
    import torch

    from training.span import IGNORED, span_loss

    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    targets = torch.tensor([[2, 2], [0, 0]])
    right = torch.zeros(2, 4, 2)
    right[0, 2], right[1, 0] = 5.0, 5.0
    wrong = torch.zeros(2, 4, 2)
    wrong[0, 1], wrong[1, 3] = 5.0, 5.0
    assert float(span_loss(right, mask, targets)) < 0.1 < float(span_loss(wrong, mask, targets))
    # Padding never wins: a large logit on a padded token changes nothing.
    padded = right.clone()
    padded[0, 3] = 50.0
    assert torch.isclose(span_loss(padded, mask, targets), span_loss(right, mask, targets))
    cut_off = torch.full((2, 2), IGNORED)
    assert float(span_loss(right, mask, cut_off)) == 0.0


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--question-share", "0"), ("--question-share", "1.5"), ("--span-weight", "-1")],
)
def test_the_training_script_refuses_bad_shares_and_weights_by_name(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from training.__main__ import parse

    with pytest.raises(SystemExit) as stopped:
        parse([flag, value])
    assert stopped.value.code == 2 and flag in capsys.readouterr().err


def test_rewritten_questions_keep_the_entities_but_ask_what_the_text_lacks() -> None:
    import random

    from training.data import Paragraph, QuestionRewriter

    text = [
        "The mayor, Tomas Vell, said that the council will build a second bridge upstream.",
        "The first bridge was designed by Ilse Marquardt and opened in 1931 in Velmora.",
    ]
    paragraphs = {"p": Paragraph("Velmora", text)}
    question = "Who designed the first bridge?"
    rewriter = QuestionRewriter([question, "Who painted the old tower?", "Who repaired a gate?"])
    examples = rewriter.entity_questions(
        [("p", 0, "Velmora"), ("p", 1, "Velmora")], paragraphs, random.Random(3), rate=1.0
    )
    by_kind = {(e.kind, e.item.sentence): e for e in examples}
    # The quoted speaker is a positive; a person the sentence names but never quotes is not.
    speaker = by_kind[("speaker", text[0])]
    assert speaker.question == "What did Tomas Vell say?" and speaker.label == 1.0
    silent = by_kind[("not-the-speaker", text[1])]
    assert silent.question.startswith("What did Ilse Marquardt ") and silent.label == 0.0
    roles = [e for e in examples if e.kind == "absent-role"]
    assert all(e.label == 0.0 and e.question.startswith("Who is ") for e in roles)
    for example in roles:  # the role asked about is one the paragraph never names
        role = example.question.removeprefix("Who is the ").split("'s ")[-1].split(" of ")[0]
        assert role.rstrip("?").split()[-1] not in " ".join(text)
    swapped = rewriter.predicate_swap(question, " ".join(text), random.Random(1))
    assert swapped is not None and swapped != question and swapped.endswith("?")
    changed = set(swapped.split()) - set(question.split())
    assert len(changed) == 1 and changed.pop().rstrip("?").lower() not in " ".join(text).lower()
