"""The gap log: what is kept (and not), per server, expired, cleared, and grouped by meaning."""

from __future__ import annotations

import csv
import io
import json
import shutil
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.exts.ask._cog import answer_and_log
from index import (
    ABSTAINED,
    THUMBS_DOWN,
    Answer,
    EngineSettings,
    Gap,
    GapLogs,
    Highlight,
    Quote,
    open_gap_logs,
)
from index.gaps.log import JsonlGapLog
from index.gaps.report import gap_report, report_for
from tests.conftest import ROOT, one_text_engine
from tests.e2e.test_cli import run
from tests.support.hashing_encoder import HashingEncoder

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TEA = "Green tea is steeped at eighty degrees for two minutes.\n\nBlack tea needs boiling water."


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def quote(document: str, paragraph: int) -> Quote:
    return Quote(document, document.title(), paragraph, 0, 4, "text", 0.5, Highlight(0, 4))


def abstention(question: str, *closest: tuple[str, int]) -> Answer:
    return Answer(question, False, [], [], "no", tuple(quote(d, p) for d, p in closest))


def answered(question: str, *quotes: tuple[str, int]) -> Answer:
    return Answer(question, True, [quote(d, p) for d, p in quotes], [])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def logs(tmp_path: Path, clock: Clock) -> GapLogs:
    return GapLogs(lambda guild: tmp_path / str(guild), keep_days=90, clock=clock)


def test_an_abstention_keeps_the_question_time_and_passages_but_no_user(
    logs: GapLogs, tmp_path: Path
) -> None:
    answer = abstention("What is the refund policy?", ("billing", 3), ("billing", 3), ("faq", 1))
    assert logs.record(7, answer, ABSTAINED)
    path = tmp_path / "7" / "gaps.jsonl"
    [line] = path.read_text().splitlines()
    assert json.loads(line) == {
        "at": "2026-06-01T12:00:00Z",
        "kind": "abstained",
        "question": "What is the refund policy?",
        "passages": ["billing#3", "faq#1"],
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert logs.for_guild(7).entries() == [
        Gap("What is the refund policy?", NOW, ABSTAINED, ("billing#3", "faq#1"))
    ]


def test_a_thumbs_down_keeps_the_quotes_it_was_given(logs: GapLogs) -> None:
    assert logs.record(7, answered("How long is tea steeped?", ("tea", 2)), THUMBS_DOWN)
    # A 👎 on an abstention adds nothing: the abstention was kept when it happened.
    assert not logs.record(7, abstention("Who is Ann?"), THUMBS_DOWN)
    [gap] = logs.for_guild(7).entries()
    assert gap.kind == THUMBS_DOWN and gap.passages == ("tea#2",)


def test_dms_and_a_log_turned_off_keep_nothing(tmp_path: Path) -> None:
    on = GapLogs(lambda guild: tmp_path / str(guild))
    assert not on.record(None, abstention("Anything?"), ABSTAINED)
    off = GapLogs(lambda guild: tmp_path / str(guild), enabled=False)
    assert not off.record(7, abstention("Anything?"), ABSTAINED)
    assert list(tmp_path.iterdir()) == []


def test_each_server_has_its_own_log(logs: GapLogs, tmp_path: Path) -> None:
    logs.record(1, abstention("What is the refund policy?"), ABSTAINED)
    logs.record(2, abstention("Where is the office?"), ABSTAINED)
    assert [g.question for g in logs.for_guild(1).entries()] == ["What is the refund policy?"]
    assert [g.question for g in logs.for_guild(2).entries()] == ["Where is the office?"]
    assert logs.for_guild(3).entries() == [] and not (tmp_path / "3").exists()


def test_old_entries_are_dropped_from_the_file_too(
    logs: GapLogs, clock: Clock, tmp_path: Path
) -> None:
    logs.record(1, abstention("An old question?"), ABSTAINED)
    clock.now = NOW + timedelta(days=60)
    logs.record(1, abstention("A newer question?"), ABSTAINED)
    clock.now = NOW + timedelta(days=91)
    assert [g.question for g in logs.for_guild(1).entries()] == ["A newer question?"]
    assert "An old question" not in (tmp_path / "1" / "gaps.jsonl").read_text()
    # Recording drops them as well, with no report asked for.
    clock.now = NOW + timedelta(days=200)
    logs.record(1, abstention("Today's question?"), ABSTAINED)
    assert (tmp_path / "1" / "gaps.jsonl").read_text().count("\n") == 1
    since = clock.now - timedelta(hours=1)
    assert [g.question for g in logs.for_guild(1).entries(since=since)] == ["Today's question?"]


def test_clear_empties_one_server_only(logs: GapLogs) -> None:
    for question in ("One?", "Two?"):
        logs.record(1, abstention(question), ABSTAINED)
    logs.record(2, abstention("Three?"), ABSTAINED)
    assert logs.for_guild(1).clear() == 2
    assert logs.for_guild(1).entries() == [] and len(logs.for_guild(2).entries()) == 1
    assert logs.for_guild(1).clear() == 0


def test_a_damaged_line_is_skipped(tmp_path: Path) -> None:
    log = JsonlGapLog(tmp_path / "gaps.jsonl", clock=lambda: NOW)
    log.record(Gap("Fine?", NOW, ABSTAINED))
    with (tmp_path / "gaps.jsonl").open("a") as file:
        file.write('{"at": "2026-06-01T12:00:00Z", "kind": "abst\n')  # cut short by a full disk
    log.record(Gap("Also fine?", NOW, ABSTAINED))
    assert [g.question for g in log.entries()] == ["Fine?", "Also fine?"]


GAPS = [
    *[Gap("How do I reset my password?", NOW, ABSTAINED, ("account#2",))] * 3,
    Gap("How can I reset my password", NOW, ABSTAINED, ("account#4",)),
    Gap("how do I RESET my password?", NOW, THUMBS_DOWN, ("login#1",)),
    Gap("What is the refund policy for annual plans?", NOW, ABSTAINED, ()),
    Gap("What is the refund policy?", NOW, ABSTAINED, ()),
    Gap("Is there a dark mode?", NOW + timedelta(minutes=1), ABSTAINED, ("ui#1",)),
]


@pytest.mark.parametrize("core", [2000, 2], ids=["linkage", "linkage on a core, the rest joined"])
def test_gaps_are_grouped_by_meaning_biggest_first(
    core: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("index.gaps.report.CORE", core)
    titles = {"account": "Account help", "ui": "The interface"}
    report = gap_report(GAPS, HashingEncoder(dimension=1024), titles, days=30)
    assert [(g.count, g.examples[0]) for g in report.groups] == [
        (5, "How do I reset my password?"),
        (2, "What is the refund policy for annual plans?"),
        (1, "Is there a dark mode?"),
    ]
    password, refund, dark = report.groups
    # The usual wording first; a wording differing only in case is the same question.
    assert password.examples == ("How do I reset my password?", "How can I reset my password")
    assert (password.document, password.title) == ("account", "Account help")
    assert refund.document is None and refund.title is None
    assert (dark.document, dark.title) == ("ui", "The interface")
    assert report.total == len(GAPS)


def test_the_csv_lists_every_gap_with_its_group_and_defuses_formulas() -> None:
    gaps = [*GAPS, Gap("=HYPERLINK('http://x')", NOW, ABSTAINED, ())]
    report = gap_report(gaps, HashingEncoder(dimension=1024), {})
    rows = list(csv.DictReader(io.StringIO(report.csv())))
    assert len(rows) == len(gaps)
    assert rows[0] == {
        "time": "2026-06-01T12:00:00Z",
        "kind": "abstained",
        "group": "1",
        "question": "How do I reset my password?",
        "closest_passages": "account#2",
    }
    assert {r["group"] for r in rows if "refund" in r["question"]} == {"2"}
    assert rows[-1]["question"].startswith("'=")
    data = report.as_json()
    assert len(data["gaps"]) == len(gaps) and data["groups"][0]["count"] == 5


def test_an_empty_log_reports_no_groups() -> None:
    report = gap_report([], HashingEncoder(), {})
    assert report.groups == () and report.total == 0
    assert report.csv().splitlines() == ["time,kind,group,question,closest_passages"]


def test_an_abstaining_answer_is_logged_in_its_server_and_an_answer_is_not(
    tmp_path: Path,
) -> None:
    engine = one_text_engine(tmp_path, "tea.txt", TEA)
    logs = GapLogs(lambda guild: tmp_path / "guilds" / str(guild))
    bot = SimpleNamespace(engine_for=lambda guild: engine, gaps=logs)
    question = "What is the capital of Mongolia?"
    assert answer_and_log(bot, question, 5).answered is False  # type: ignore[arg-type]
    [gap] = logs.for_guild(5).entries()
    assert gap.question == question and gap.kind == ABSTAINED
    assert answer_and_log(bot, question, None).answered is False  # type: ignore[arg-type]
    answered = answer_and_log(bot, "How long is green tea steeped?", 5)  # type: ignore[arg-type]
    assert answered.answered is True
    assert len(logs.for_guild(5).entries()) == 1  # the DM and the answer kept nothing
    report = report_for(logs.for_guild(5), engine)
    assert report.groups[0].examples == (question,)
    assert report.groups[0].title == ("Tea" if gap.passages else None)


def test_the_command_line_reports_one_servers_gaps(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    logs = GapLogs(lambda guild: tmp_path / "guilds" / str(guild))
    now = datetime.now(UTC).replace(microsecond=0)
    for question, at in [
        ("How do I reset my password?", now),
        ("How do I reset my password?", now - timedelta(days=10)),
        ("How can I reset my password?", now),
        ("Is there a dark mode?", now),
    ]:
        logs.for_guild(42).record(Gap(question, at, ABSTAINED, ("dirty-bomb-claims#8",)))
    logs.for_guild(43).record(Gap("What is the refund policy?", now, ABSTAINED))
    env = {"VERBATIM_DATA_DIR": str(tmp_path)}

    shown = run(tmp_path, "gaps", "--guild", "42", env=env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "Server 42: 4 unanswered question(s) kept, in 2 group(s)"
    assert lines[1].strip() == "3× How do I reset my password?"
    assert "nearest document: Russia's dirty bomb claims" in shown.stdout
    assert "refund" not in shown.stdout  # another server's

    recent = run(tmp_path, "gaps", "--guild", "42", "--days", "5", "--json", env=env)
    data = json.loads(recent.stdout)
    assert data["total"] == 3 and [g["count"] for g in data["groups"]] == [2, 1]
    assert {g["question"] for g in data["gaps"]} == {
        "How do I reset my password?",
        "How can I reset my password?",
        "Is there a dark mode?",
    }
    bad = run(tmp_path, "gaps", "--guild", "42", "--days", "0", env=env)
    assert bad.returncode == 2 and "'0' is not a number of days" in bad.stderr
    none = run(tmp_path, "gaps", "--guild", "44", env=env)
    assert none.stdout.strip() == "Server 44: no unanswered questions kept."
    assert not (tmp_path / "guilds" / "44").exists()


def test_the_discord_report_fits_one_embed_however_long_the_questions() -> None:
    from bot.exts.docs._gaps import gaps_embed
    from bot.ui import EMBED_TOTAL_LIMIT, embeds_size
    from index import GapGroup, GapReport

    long = "Why " + "does the very long question keep going " * 20 + "?"
    groups = tuple(
        GapGroup(
            n, 40 - n, (f"{n} {long}", f"{n} again {long}", "@everyone *bold*"), "d", "T" * 300
        )
        for n in range(1, 21)
    )
    embed = gaps_embed(GapReport(7, groups, ()), enabled=True)
    assert embeds_size([embed]) <= EMBED_TOTAL_LIMIT
    assert 1 <= len(embed.fields) <= 10
    assert embed.footer.text == f"and {20 - len(embed.fields)} smaller group(s), in gaps.csv"
    assert "@everyone" not in str(embed.to_dict())  # escaped: it pings no one
    empty = gaps_embed(GapReport(None, (), ()), enabled=False)
    assert "VERBATIM_GAPS=off" in (empty.description or "")


def test_with_a_database_the_log_is_rows_per_server_expired_and_cleared(
    tmp_path: Path, clock: Clock, database_url: str
) -> None:
    settings = EngineSettings(corpus_dir=tmp_path, database_url=database_url)
    logs = open_gap_logs(settings, lambda guild: tmp_path / str(guild), keep_days=90, clock=clock)
    assert logs.record(1, abstention("What is the refund policy?", ("billing", 3)), ABSTAINED)
    clock.now = NOW + timedelta(days=60)
    assert logs.record(2, abstention("Where is the office?"), ABSTAINED)
    logs.record(1, answered("How long is tea steeped?", ("tea", 2)), THUMBS_DOWN)
    assert logs.for_guild(1).entries() == [
        Gap("What is the refund policy?", NOW, ABSTAINED, ("billing#3",)),
        Gap("How long is tea steeped?", clock.now, THUMBS_DOWN, ("tea#2",)),
    ]
    assert [g.question for g in logs.for_guild(2).entries()] == ["Where is the office?"]
    since = logs.for_guild(1).entries(since=NOW + timedelta(days=30))
    assert [g.question for g in since] == ["How long is tea steeped?"]
    clock.now = NOW + timedelta(days=91)  # the first is past 90 days, the 👎 is not
    assert [g.question for g in logs.for_guild(1).entries()] == ["How long is tea steeped?"]
    assert logs.for_guild(1).clear() == 1 and logs.for_guild(1).entries() == []
    assert [g.question for g in logs.for_guild(2).entries()] == ["Where is the office?"]
    assert list(tmp_path.iterdir()) == []  # nothing under the server folders
