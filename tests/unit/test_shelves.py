"""A server's shelf on either store: its documents, audit log, votes and relations cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import psycopg
import pytest

from index import (
    Answer,
    Engine,
    EngineSettings,
    Library,
    StorageError,
    copy_to_database,
    prepare,
)
from index.errors import IndexWriteError, LibraryError
from index.results import Highlight, Quote
from tests.conftest import ROOT, bundled_verifier
from tests.support.hashing_encoder import HashingEncoder

TEA = b"Green tea is steeped at eighty degrees for two minutes.\n\nBlack tea needs boiling water."
COFFEE = b"Espresso is brewed by forcing hot water through finely ground coffee beans."
MEETING = b"Prime Minister Anna Kowalczyk met Chancellor Dieter Brandt in Warsaw on Tuesday."
SHARED = "General Mark Milley spoke with Admiral Tony Radakin on Monday."


@pytest.fixture(params=["local", "postgres"])
def url(request: pytest.FixtureRequest) -> str | None:
    """The database of the test (postgres) or None (the local files)."""
    if request.param == "local":
        return None
    return str(request.getfixturevalue("database_url"))


def shared_engine(folder: Path, url: str | None, encoder: HashingEncoder | None = None) -> Engine:
    """The shared corpus (one made-up text) on the test's store."""
    corpus = folder / "corpus"
    if not corpus.is_dir():
        corpus.mkdir(parents=True)
        (corpus / "generals.txt").write_text(SHARED)
    settings = EngineSettings(corpus_dir=corpus, index_dir=folder / "index", database_url=url)
    return Engine(settings, encoder or HashingEncoder())


def library_on(
    folder: Path,
    url: str | None,
    *,
    encoder: HashingEncoder | None = None,
    shared_visible: bool = True,
    feedback_file: Path | None = None,
) -> Library:
    """A library whose servers live under `folder`/guilds (or in the database)."""
    shared = shared_engine(folder, url, encoder)
    return Library(
        shared, folder / "guilds", shared_visible=shared_visible, feedback_file=feedback_file
    )


def titles(engine: Engine) -> set[str]:
    return {source.title for source in engine.sources()}


def rows(url: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as connection:
        return list(connection.execute(query).fetchall())


def test_add_list_remove_and_reindex_a_servers_document(tmp_path: Path, url: str | None) -> None:
    library = library_on(tmp_path, url)
    added = library.add(1, prepare(TEA, title="Tea guide"), added_by="ann#1")
    library.add(1, prepare(COFFEE, filename="coffee.md"), added_by="bob#2")
    entries = library.entries(1)
    assert [(e.title, e.added_by) for e in entries] == [("Tea guide", "ann#1"), ("Coffee", "bob#2")]
    assert entries[0] == added.entry and entries[0].sha256 == prepare(TEA).sha256
    assert entries[0].added_at < entries[1].added_at and entries[0].added_at.endswith("Z")
    assert added.paragraphs == 2 and added.sentences >= 2
    assert titles(library.engine_for(1)) == {"Tea guide", "Coffee", "Generals"}
    with pytest.raises(LibraryError, match="already here"):
        library.add(1, prepare(TEA, title="Again"), added_by="c")
    answer = library.engine_for(1).ask("How hot is the water for green tea?")
    assert answer.quotes and answer.quotes[0].title == "Tea guide"
    removed = library.remove(1, entries[1].doc_id, removed_by="ann#1")
    assert removed.title == "Coffee" and [e.title for e in library.entries(1)] == ["Tea guide"]
    assert titles(library.engine_for(1)) == {"Tea guide", "Generals"}
    report = library.reindex(1, requested_by="ann#1")
    assert report.embedded == [] and entries[0].doc_id in report.reused
    with pytest.raises(LibraryError, match="no document"):
        library.remove(1, "nope", removed_by="ann#1")


def test_a_servers_document_is_never_seen_by_another(tmp_path: Path, url: str | None) -> None:
    library = library_on(tmp_path, url)
    library.add(1, prepare(TEA, title="Tea guide"), added_by="a")
    library.add(2, prepare(COFFEE, title="Coffee notes"), added_by="b")
    assert titles(library.engine_for(1)) == {"Tea guide", "Generals"}
    assert titles(library.engine_for(2)) == {"Coffee notes", "Generals"}
    assert titles(library.engine_for(3)) == {"Generals"} and library.entries(3) == []
    assert [e.title for e in library.entries(2)] == ["Coffee notes"]
    for question in ("How long is green tea steeped?", "What is green tea steeped at?"):
        answer = library.engine_for(2).ask(question)
        assert all(q.title != "Tea guide" for q in answer.quotes + answer.more)
    with pytest.raises(LibraryError, match="no document"):
        library.remove(2, library.entries(1)[0].doc_id, removed_by="b")
    hidden = library_on(tmp_path, url, shared_visible=False)
    assert titles(hidden.engine_for(1)) == {"Tea guide"}


def test_a_failed_index_leaves_the_shelf_as_it_was(
    tmp_path: Path, url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = library_on(tmp_path, url)
    library.add(1, prepare(TEA, title="Tea"), added_by="a")
    before = library.entries(1)
    engine = library.open(1)

    def refuse(*args: object, **kwargs: object) -> None:
        raise IndexWriteError("No space left on device")

    monkeypatch.setattr(engine.store, "sync", refuse)
    with pytest.raises(StorageError, match="as they were"):
        library.add(1, prepare(COFFEE, title="Coffee"), added_by="a")
    assert library.entries(1) == before
    with pytest.raises(StorageError, match="as they were"):
        library.remove(1, before[0].doc_id, removed_by="a")
    assert library.entries(1) == before
    monkeypatch.undo()
    fresh = library_on(tmp_path, url)
    assert titles(fresh.engine_for(1)) == {"Tea", "Generals"}


def test_an_upload_survives_a_new_process_without_being_embedded_again(
    tmp_path: Path, url: str | None
) -> None:
    library_on(tmp_path, url).add(1, prepare(TEA, title="Tea guide"), added_by="a")
    encoder = HashingEncoder()
    again = library_on(tmp_path, url, encoder=encoder)
    engine = again.engine_for(1)
    assert titles(engine) == {"Tea guide", "Generals"} and encoder.embedded == 0
    assert not engine.last_sync.embedded and [e.title for e in again.entries(1)] == ["Tea guide"]
    assert engine.ask("How long is green tea steeped?").quotes[0].title == "Tea guide"


def test_with_a_database_nothing_is_written_in_the_folders(
    tmp_path: Path, database_url: str
) -> None:
    library = library_on(tmp_path, database_url, feedback_file=tmp_path / "feedback.jsonl")
    added = library.add(1, prepare(MEETING, title="Warsaw"), added_by="a")
    library.add(1, prepare(COFFEE, title="Coffee"), added_by="a")
    engine = library.engine_for(1)
    answer = engine.ask("Who did Anna Kowalczyk meet?")
    assert [s.title for s in engine.sources()] == ["Generals", "Coffee", "Warsaw"]  # by file
    names = {node.name for node in engine.relations().graph.nodes}
    assert {"Anna Kowalczyk", "Dieter Brandt", "Mark Milley"} <= names
    library.remove(1, added.entry.doc_id, removed_by="a")
    library.reindex(1, requested_by="a")
    library.record_vote(1, answer, user_id=7, helpful=True)
    library.record_vote(None, answer, user_id=8, helpful=False)
    assert library.engine_if_any(2) is library.shared and not library.has_shelf(2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]  # no guilds, index, votes
    assert library.location(1) == "the database"


def test_audit_and_votes_carry_the_server(tmp_path: Path, url: str | None) -> None:
    library = library_on(tmp_path, url, feedback_file=tmp_path / "votes" / "feedback.jsonl")
    added = library.add(1, prepare(TEA, title="Tea"), added_by="ann")
    library.remove(1, added.entry.doc_id, removed_by="bob")
    library.add(2, prepare(COFFEE, title="Coffee"), added_by="cy")
    quote = Quote("tea", "Tea", 1, 0, 4, "Tea.", 1.0, Highlight(0, 4))
    answer = Answer("Tea?", True, [quote], [])
    library.record_vote(1, answer, user_id=7, helpful=True)
    library.record_vote(None, answer, user_id=8, helpful=False)
    if url is None:
        audit = [json.loads(line) for line in (library.folder(1) / "audit.jsonl").open()]
        assert [(a["guild"], a["action"], a["user"]) for a in audit] == [
            ("1", "add", "ann"),
            ("1", "remove", "bob"),
        ]
        votes = [json.loads(line) for line in (tmp_path / "votes" / "feedback.jsonl").open()]
        # The file's format is as it always was: the bot's own, with no server in it.
        assert [(v["user"], v["helpful"], v["quotes"]) for v in votes] == [
            (7, True, [{"document": "tea", "paragraph": 1}]),
            (8, False, [{"document": "tea", "paragraph": 1}]),
        ]
        assert set(votes[0]) == {"time", "user", "helpful", "question", "answered", "quotes"}
        return
    assert rows(url, "SELECT tenant, action, user_name, title FROM audit ORDER BY id") == [
        ("1", "add", "ann", "Tea"),
        ("1", "remove", "bob", "Tea"),
        ("2", "add", "cy", "Coffee"),
    ]
    assert rows(
        url, "SELECT tenant, user_id, helpful, question, quotes FROM votes ORDER BY id"
    ) == [
        ("1", "7", True, "Tea?", [{"document": "tea", "paragraph": 1}]),
        ("shared", "8", False, "Tea?", [{"document": "tea", "paragraph": 1}]),
    ]
    assert not (tmp_path / "votes").exists()


def test_the_shared_corpus_is_read_not_copied_into_a_servers_tenant(
    tmp_path: Path, database_url: str
) -> None:
    encoder = HashingEncoder()
    library = library_on(tmp_path, database_url, encoder=encoder)
    shared_windows = encoder.embedded
    library.add(1, prepare(TEA, title="Tea"), added_by="a")
    tea = {s.document: s.sentences for s in library.engine_for(1).sources()}
    own = next(d for d in tea if d.startswith("tea"))
    assert encoder.embedded == shared_windows + tea[own]  # the shared text was not embedded again
    assert rows(database_url, "SELECT tenant, doc_id FROM documents ORDER BY tenant") == [
        ("1", own),
        ("shared", "generals"),
    ]
    # The shared corpus changes: the server's next question reads the new generation.
    (tmp_path / "corpus" / "harbour.txt").write_text("Harbour\n\nThe harbour master counts boats.")
    library.shared.reindex()
    assert library.engine_for(1).ask("Who counts boats?").quotes[0].document == "harbour"


def windows(engine: Engine, found: np.ndarray) -> list[tuple[str, int]]:
    """Name rows by their document and sentence, which both stores share."""
    view = engine.searcher.backend
    return [
        (view.place(int(row)).item.document.doc_id, view.place(int(row)).sentence) for row in found
    ]


def test_a_server_is_answered_alike_from_files_and_postgres(
    tmp_path: Path, database_url: str
) -> None:
    answers = {}
    for store, url in (("local", None), ("postgres", database_url)):
        folder = tmp_path / store
        folder.mkdir()
        shutil.copytree(ROOT / "corpus", folder / "corpus")
        settings = EngineSettings(
            corpus_dir=folder / "corpus", index_dir=folder / "index", database_url=url
        )
        shared = Engine(settings, HashingEncoder(), verifier=bundled_verifier())
        library = Library(shared, folder / "guilds")
        library.add(1, prepare(MEETING, title="Warsaw"), added_by="a")
        library.add(1, prepare(TEA, title="Tea"), added_by="a")
        answers[store] = library.engine_for(1)
    local, postgres = answers["local"], answers["postgres"]
    assert local.sources() == postgres.sources()
    for question in ("Who spoke with Shoigu?", "Who did Kowalczyk meet?", "How is tea steeped?"):
        a, b = local.searcher.search(question), postgres.searcher.search(question)
        # Each store lays rows out its own way: the same windows, in the same order, is the test.
        assert windows(local, a.rows) == windows(postgres, b.rows)
        assert np.allclose(a.keyword, b.keyword, atol=1e-5) and a.keyword.max() > 0
        assert np.allclose(a.dense, b.dense, atol=1e-5)
        x, y = local.ask(question), postgres.ask(question)
        assert (x.answered, x.quotes, x.more) == (y.answered, y.quotes, y.more), question
    assert local.relations() == postgres.relations()


def test_the_relations_cache_is_kept_in_the_database_and_reused(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = library_on(tmp_path, database_url)
    library.add(1, prepare(MEETING, title="Warsaw"), added_by="a")
    first = library.engine_for(1).relations()
    library.shared.relations()
    cached = rows(database_url, "SELECT tenant, doc_id FROM relations_cache ORDER BY 1, 2")
    assert ("shared", "generals") in cached and len([t for t, _ in cached if t == "1"]) >= 1

    def refuse(document: object, sentences: object = None) -> None:
        raise AssertionError("extracted again")

    monkeypatch.setattr("index.relations.graph.extract_document", refuse)
    again = library_on(tmp_path, database_url)  # another process: no folder, no memory
    assert again.engine_for(1).relations() == first
    assert again.shared.relations() == library.shared.relations()
    doc_id = library.entries(1)[0].doc_id
    monkeypatch.undo()
    library.remove(1, doc_id, removed_by="a")
    library.engine_for(1).relations()
    left = rows(database_url, "SELECT doc_id FROM relations_cache WHERE tenant = '1'")
    assert (doc_id,) not in left


def test_migrate_store_copies_a_servers_folder_onto_its_shelf(
    tmp_path: Path, database_url: str
) -> None:
    local = library_on(tmp_path, None)
    added = local.add(1, prepare(TEA, title="Tea guide"), added_by="ann")
    local.add(1, prepare(COFFEE, title="Coffee"), added_by="bob")
    local.remove(1, local.entries(1)[1].doc_id, removed_by="bob")
    target = EngineSettings(
        corpus_dir=tmp_path / "corpus",
        index_dir=tmp_path / "index",
        database_url=database_url,
        model="test-hashing",  # the model that made the local indexes
    )
    copied = {c.tenant: c for c in copy_to_database(target, tmp_path / "guilds")}
    assert copied["1"].copied == [added.entry.doc_id]  # not the copy of the shared corpus
    assert (copied["1"].uploads, copied["1"].audit) == (1, 3)
    again = {c.tenant: c for c in copy_to_database(target, tmp_path / "guilds")}
    assert (again["1"].copied, again["1"].uploads, again["1"].audit) == ([], 0, 0)
    encoder = HashingEncoder()
    shared = Engine(target, encoder)
    served = Library(shared, tmp_path / "elsewhere")
    assert served.entries(1) == local.entries(1)
    engine = served.engine_for(1)
    assert encoder.embedded == 0 and titles(engine) == {"Tea guide", "Generals"}
    assert rows(database_url, "SELECT doc_id FROM documents WHERE tenant = '1'") == [
        (added.entry.doc_id,)
    ]
    assert rows(database_url, "SELECT action, user_name FROM audit ORDER BY id") == [
        ("add", "ann"),
        ("add", "bob"),
        ("remove", "bob"),
    ]
    assert not (tmp_path / "elsewhere").exists()


def test_a_removal_cut_short_leaves_the_document_removed(tmp_path: Path, url: str | None) -> None:
    library = library_on(tmp_path, url)
    added = library.add(1, prepare(TEA, title="Tea"), added_by="a")
    library.shelf(1).hide(added.entry)  # a crash between hiding it and re-indexing
    fresh = library_on(tmp_path, url)
    assert fresh.entries(1) == []
    # The next change brings the index in line (a database's index is served as it is stored).
    fresh.reindex(1, requested_by="b")
    assert titles(fresh.open(1)) == {"Generals"}
    again = fresh.add(1, prepare(TEA, title="Tea"), added_by="b")
    assert [e.added_by for e in fresh.entries(1)] == [
        "b"
    ] and again.entry.doc_id == added.entry.doc_id
    assert titles(fresh.engine_for(1)) == {"Tea", "Generals"}
