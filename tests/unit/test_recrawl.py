"""Page schedules without HTTP: what is due, what each fetch's result does, and claims."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from index import (
    Engine,
    EngineSettings,
    Library,
    Page,
    PageSchedules,
    Refetch,
    open_states,
    page_flagged,
    page_gone,
    prepare,
    refetch_failed,
    refetch_judged,
)
from index.refresh import LEASE, RETRY, claimed, new_entry, parse, settled
from tests.support.hashing_encoder import HashingEncoder

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PAGE = Page("https://docs.example/tea", "weekly", etag='"v1"', last_modified=None)
TEA = b"Green tea is steeped at eighty degrees for two minutes.\n\nBlack tea needs boiling water."
NEW_TEA = (
    b"Green tea is steeped at seventy degrees for one minute.\n\nBlack tea needs boiling water."
)


def entry(**changes: object) -> dict[str, object]:
    return {**new_entry(PAGE, sha256_text="abc", now=NOW), **changes}


def test_a_new_page_is_due_after_its_period() -> None:
    weekly = entry()
    assert parse(str(weekly["next_fetch"])) == NOW + timedelta(days=7)
    daily = new_entry(Page("https://x.example/", "daily"), sha256_text="", now=NOW)
    assert parse(str(daily["next_fetch"])) == NOW + timedelta(days=1)


def test_only_due_pages_are_claimed_and_a_claim_holds_for_its_lease() -> None:
    schedule = {"due": entry(next_fetch="2026-11-30T09:00:00Z"), "later": entry()}
    kept, taken = claimed(schedule, NOW, "a")
    assert list(taken) == ["due"] and taken["due"]["claim"] == "a"
    assert parse(kept["due"]["next_fetch"]) == NOW + LEASE
    assert claimed(kept, NOW + LEASE - timedelta(seconds=1), "b")[1] == {}
    assert list(claimed(kept, NOW + LEASE, "b")[1]) == ["due"]  # the lease lapsed: due again


def test_a_304_or_the_same_text_is_unchanged_and_other_text_is_changed() -> None:
    held = entry()
    assert refetch_judged(held, not_modified=True, sha256_text=None) == "unchanged"
    assert refetch_judged(held, not_modified=False, sha256_text="abc") == "unchanged"
    assert refetch_judged(held, not_modified=False, sha256_text="def") == "changed"


def test_an_unchanged_fetch_resets_the_failures_and_keeps_a_validator_left_out() -> None:
    held = entry(claim="a", failures=2, gone=1, error="HTTP 500")
    after = settled(held, Refetch("unchanged", last_modified="Tue"), NOW, token="a")
    assert after is not None
    assert (after["failures"], after["gone"], after["error"], after["claim"]) == (0, 0, None, None)
    assert after["etag"] == '"v1"' and after["last_modified"] == "Tue"
    assert parse(after["next_fetch"]) == NOW + timedelta(days=7)
    assert after["last_fetch"] == "2026-12-01T09:00:00Z"


def test_failures_are_counted_and_retried_sooner_than_the_period() -> None:
    held = entry(claim="a")
    for count in (1, 2, 3):
        after = settled(held, refetch_failed("HTTP 500", 500), NOW, token="a")
        assert after is not None and after["failures"] == count and after["gone"] == 0
        assert parse(after["next_fetch"]) == NOW + RETRY * count
        held = {**after, "claim": "a"}
    assert page_flagged(held) and not page_gone(held)


def test_three_404s_in_a_row_are_gone_but_another_failure_breaks_the_run() -> None:
    held = entry(claim="a")
    for result in (refetch_failed("HTTP 404", 404), refetch_failed("HTTP 500", 500)):
        after = settled(held, result, NOW, token="a")
        assert after is not None
        held = {**after, "claim": "a"}
    assert held["gone"] == 0
    for _ in range(3):
        after = settled(held, refetch_failed("HTTP 410", 410), NOW, token="a")
        assert after is not None
        held = {**after, "claim": "a"}
    assert held["gone"] == 3 and page_gone(held)


def test_a_result_under_a_lost_claim_is_dropped_unless_the_change_was_made() -> None:
    held = entry(claim="b")
    assert settled(held, Refetch("unchanged"), NOW, token="a") is None
    assert settled(held, Refetch("changed", sha256_text="new"), NOW, token="a") is not None


def test_the_store_claims_each_due_page_once(tmp_path: Path) -> None:
    pages = PageSchedules(open_states(EngineSettings(data_dir=tmp_path), tmp_path / "guilds"))
    pages.schedule(7, "tea", PAGE, sha256_text="abc")
    later = datetime.now(UTC) + timedelta(days=8)
    assert list(pages.claim(7, later, "a")) == ["tea"]
    assert pages.claim(7, later, "b") == {}  # another process's pass finds it taken
    assert pages.servers() == [7]
    pages.settle(7, "tea", Refetch("changed", sha256_text="new"), later, token="a", new_doc_id="t2")
    assert list(pages.read(7)) == ["t2"] and pages.read(7)["t2"]["sha256_text"] == "new"
    pages.forget(7, "t2")
    assert pages.servers() == []


@pytest.fixture
def library(tmp_path: Path) -> Library:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "lighthouse.txt").write_text("The keeper climbed ninety steps.")
    settings = EngineSettings(corpus_dir=tmp_path / "shared", index_dir=tmp_path / "shared-index")
    shared = Engine.open(settings, encoder=HashingEncoder())
    return Library(shared, tmp_path / "data")


def audit(library: Library, guild_id: int) -> list[dict[str, object]]:
    lines = (library.folder(guild_id) / "audit.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_a_changed_page_replaces_its_document_and_moves_its_schedule(library: Library) -> None:
    added = library.add(1, prepare(TEA, title="Tea"), added_by="ann", page=PAGE, source_url="u")
    old = added.entry.doc_id
    assert list(library.pages.read(1)) == [old]
    token = "a"
    library.pages.claim(1, datetime.now(UTC) + timedelta(days=8), token)
    prepared = prepare(NEW_TEA, title="Tea")
    fetch = Refetch("changed", etag='"v2"', sha256_text=prepared.text_sha256)
    new = library.refresh(1, old, prepared, fetch, token=token, source_url="u")
    assert [e.doc_id for e in library.entries(1)] == [new.doc_id] != [old]
    assert new.title == "Tea" and new.added_by == "ann"
    answer = library.engine_for(1).ask("At what temperature is green tea steeped?")
    assert "seventy degrees" in " ".join(q.text for q in answer.quotes + answer.more)
    schedule = library.pages.read(1)
    assert list(schedule) == [new.doc_id] and schedule[new.doc_id]["etag"] == '"v2"'
    actions = [(r["action"], r["document"]) for r in audit(library, 1)]
    assert actions[-2:] == [("refresh-replaced", old), ("refresh", new.doc_id)]


def test_a_failed_re_index_keeps_the_old_document_and_counts_a_failure(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = library.add(1, prepare(TEA, title="Tea"), added_by="ann", page=PAGE)
    old = added.entry.doc_id
    library.pages.claim(1, datetime.now(UTC) + timedelta(days=8), "a")
    engine = library.engine_for(1)

    def broken(**kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine, "reindex", broken)
    with pytest.raises(Exception, match="No space left"):
        library.refresh(1, old, prepare(NEW_TEA), Refetch("changed"), token="a")
    assert [e.doc_id for e in library.entries(1)] == [old]
    assert library.pages.read(1)[old]["failures"] == 1


def test_removing_a_document_forgets_its_page(library: Library) -> None:
    added = library.add(1, prepare(TEA), added_by="ann", page=PAGE)
    library.remove(1, added.entry.doc_id, removed_by="refresh", action="gone")
    assert library.pages.read(1) == {}
    assert audit(library, 1)[-1]["action"] == "gone"


def test_a_pass_claims_a_few_due_pages_and_leaves_the_rest_due() -> None:
    schedule = {str(n): entry(next_fetch="2026-11-30T09:00:00Z") for n in range(5)}
    kept, taken = claimed(schedule, NOW, "a", limit=3)
    assert list(taken) == ["0", "1", "2"]
    assert list(claimed(kept, NOW, "b", limit=3)[1]) == ["3", "4"]
