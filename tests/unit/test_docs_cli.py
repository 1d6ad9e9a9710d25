"""`python -m bot docs add | list | remove --guild ID`, on the local files and on Postgres."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.hashing_encoder import HashingEncoder

NOTE = "Karvik lighthouse\n\nThe keeper, Amara Okafor, climbed 212 steps every evening.\n"


@pytest.fixture
def folder(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with the shared article, and engines that embed with the hashing encoder."""
    import index.engine

    shutil.copytree(ROOT / "corpus", clean_env / "corpus")
    monkeypatch.setenv("VERBATIM_DATA_DIR", str(clean_env))
    monkeypatch.setattr(index.engine, "SentenceEncoder", lambda *a, **k: HashingEncoder())
    (clean_env / "karvik.txt").write_text(NOTE, encoding="utf-8")
    return clean_env


def docs(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from bot.cli import main

    code = main(["docs", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(params=["local", "postgres"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "postgres":
        monkeypatch.setenv("VERBATIM_DATABASE_URL", request.getfixturevalue("database_url"))
    return str(request.param)


def test_add_list_and_remove_a_servers_document(
    folder: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = docs(capsys, "add", "--guild", "42", "karvik.txt", "--title", "Karvik")
    assert code == 0, err
    assert out.startswith("Added “Karvik” (karvik-") and "to server 42: 2 paragraphs" in out
    code, out, _ = docs(capsys, "list", "--guild", "42")
    assert code == 0 and "“Karvik”, 2 paragraphs, added by command line" in out
    code, out, _ = docs(capsys, "list", "--guild", "42", "--json")
    [entry] = json.loads(out)
    assert entry["title"] == "Karvik" and entry["paragraphs"] == 2
    assert entry["filename"].endswith(".txt") and len(entry["sha256"]) == 64

    code, _, err = docs(capsys, "add", "--guild", "42", "karvik.txt")
    assert code == 1 and "already here" in err and "Nothing was changed" in err
    assert err.count("\n") == 1
    code, _, err = docs(capsys, "remove", "--guild", "42", "no-such-doc")
    assert (code, err) == (
        1,
        "error: there is no document 'no-such-doc' in this server. Nothing was changed.\n",
    )

    code, out, _ = docs(capsys, "remove", "--guild", "42", entry["document"])
    assert code == 0 and out == f"Removed “Karvik” ({entry['document']}) from server 42.\n"
    code, out, _ = docs(capsys, "list", "--guild", "42")
    assert out == "Server 42 has no documents of its own.\n"
    assert json.loads(docs(capsys, "list", "--guild", "42", "--json")[1]) == []


def test_a_file_that_cannot_be_a_document_is_refused_before_loading_anything(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    code, _, err = docs(capsys, "add", "--guild", "42", "photo.txt")
    assert (
        code == 2
        and err
        == "error: cannot add photo.txt: it is a binary file, not text. Nothing was changed.\n"
    )
    code, _, err = docs(capsys, "add", "--guild", "42", "missing.txt")
    assert code == 1 and "No such file or directory (missing.txt)" in err
    assert not (folder / "guilds").exists()  # nothing was read or written for the server


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["list", "--guild", "0"],
        ["add", "--guild", "-5", "karvik.txt"],
        ["remove", "--guild", "12ab", "doc"],
        ["add", "--guild", "42"],
    ],
)
def test_a_bad_server_id_or_a_missing_argument_exits_2(
    folder: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["docs", *args])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "--guild" in error or "required" in error
    assert not (folder / "guilds").exists()


def test_the_worker_without_a_database_says_why_it_has_nothing_to_do(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    assert main(["worker"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: VERBATIM_DATABASE_URL is not set") and error.count("\n") == 1
    assert list(clean_env.iterdir()) == []


def test_a_second_signal_hands_the_job_in_hand_back() -> None:
    import signal
    import threading

    from bot.worker import _Stopper

    class Runner:
        handed = 0

        def hand_back(self) -> bool:
            self.handed += 1
            return True

    runner, stop = Runner(), threading.Event()
    stopper = _Stopper(runner, stop)  # type: ignore[arg-type]
    stopper(signal.SIGTERM, None)
    assert stop.is_set() and runner.handed == 0 and not stopper.handed_back
    stopper(signal.SIGINT, None)
    assert runner.handed == 1 and stopper.handed_back
