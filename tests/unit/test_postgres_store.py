"""The engine over either store: the same answers, scores and updates from files and Postgres."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import psycopg
import pytest

from index import (
    ConfigError,
    Engine,
    EngineSettings,
    Library,
    copy_to_database,
    load_settings,
    migrate_store,
    prepare,
)
from index.storage.postgres.connection import close_pool, pool_for
from index.storage.postgres.schema import SCHEMA_VERSION, SchemaError, migrate
from index.storage.postgres.store import PostgresStore
from tests.conftest import ROOT, bundled_verifier
from tests.support.hashing_encoder import HashingEncoder

QUESTIONS = [
    "Who spoke with Shoigu?",
    "What did Lavrov say about the dirty bomb?",
    "Which countries issued the joint statement?",
    "What is the capital of France?",
]


def settings_for(folder: Path, store: str, database_url: str | None) -> EngineSettings:
    """Settings over `folder`'s corpus, on the local files or on the test's database."""
    url = database_url if store == "postgres" else None
    return EngineSettings(
        corpus_dir=folder / "corpus", index_dir=folder / "index", database_url=url
    )


def open_engine(
    settings: EngineSettings, encoder: HashingEncoder | None = None, *, sync: bool | None = None
) -> Engine:
    return Engine.open(
        settings, encoder=encoder or HashingEncoder(), verifier=bundled_verifier(), sync=sync
    )


@pytest.fixture(params=["local", "postgres"])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def maybe_url(store: str, request: pytest.FixtureRequest) -> str | None:
    return str(request.getfixturevalue("database_url")) if store == "postgres" else None


def article(folder: Path) -> Path:
    shutil.copytree(ROOT / "corpus", folder / "corpus")
    return folder / "corpus"


def test_both_stores_give_the_same_answers_quote_for_quote(
    tmp_path: Path, database_url: str
) -> None:
    article(tmp_path)
    local = open_engine(settings_for(tmp_path, "local", None))
    postgres = open_engine(settings_for(tmp_path, "postgres", database_url))
    for question in QUESTIONS:
        a, b = local.ask(question), postgres.ask(question)
        assert (a.answered, a.quotes, a.more) == (b.answered, b.quotes, b.more), question
        assert a.closest == b.closest
    assert local.sources() == postgres.sources()
    assert local.summary(length=4) == postgres.summary(length=4)
    assert local.summary(topic="the joint statement") == postgres.summary(
        topic="the joint statement"
    )
    assert local.relations() == postgres.relations()


def test_both_stores_score_every_candidate_alike(tmp_path: Path, database_url: str) -> None:
    article(tmp_path)
    local = open_engine(settings_for(tmp_path, "local", None))
    postgres = open_engine(settings_for(tmp_path, "postgres", database_url))
    for question in QUESTIONS:
        a, b = local.searcher.search(question), postgres.searcher.search(question)
        assert a.rows.tolist() == b.rows.tolist()
        assert np.allclose(a.keyword, b.keyword, atol=1e-5)
        assert np.allclose(a.dense, b.dense, atol=1e-5)
        assert a.keyword.max() > 0


def test_quotes_are_exact_slices_of_the_document(
    tmp_path: Path, store: str, maybe_url: str | None
) -> None:
    article(tmp_path)
    engine = open_engine(settings_for(tmp_path, store, maybe_url))
    texts = {item.document.doc_id: item.document.text for item in engine.searcher.backend.documents}
    for question in QUESTIONS:
        for quote in engine.ask(question).quotes:
            assert texts[quote.document][quote.start : quote.end] == quote.text
            assert quote.start <= quote.highlight.start < quote.highlight.end <= quote.end


def test_only_what_changed_is_embedded_again(
    tmp_path: Path, store: str, maybe_url: str | None
) -> None:
    corpus = article(tmp_path)
    (corpus / "kiwi.txt").write_text("Kiwis\n\nKiwis are fuzzy brown fruit grown in New Zealand.\n")
    settings = settings_for(tmp_path, store, maybe_url)
    # Each open reads the folder, as `verbatim index` does (a database is otherwise served as is).
    first = open_engine(settings, sync=True)
    assert sorted(first.last_sync.embedded) == ["dirty-bomb-claims", "kiwi"]
    unchanged = HashingEncoder()
    again = open_engine(settings, unchanged, sync=True)
    assert unchanged.embedded == 0 and not again.last_sync.wrote
    (corpus / "kiwi.txt").write_text("Kiwis\n\nKiwis are fuzzy brown fruit first grown in China.\n")
    (corpus / "plum.txt").write_text("Plums\n\nPlums are purple stone fruit.\n")
    changed = HashingEncoder()
    updated = open_engine(settings, changed, sync=True)
    assert sorted(updated.last_sync.embedded) == ["kiwi", "plum"]
    assert updated.last_sync.reused == ["dirty-bomb-claims"]
    windows = {s.document: s.sentences for s in updated.sources()}
    assert changed.embedded == windows["kiwi"] + windows["plum"]
    assert "China" in updated.ask("Where were kiwis first grown?").quotes[0].text
    (corpus / "plum.txt").unlink()
    removed = open_engine(settings, sync=True)
    assert removed.last_sync.removed == ["plum"]
    assert [s.document for s in removed.sources()] == ["dirty-bomb-claims", "kiwi"]
    assert removed.searcher.backend.generation > updated.searcher.backend.generation


def test_search_ranks_paragraphs_from_either_store(
    tmp_path: Path, store: str, maybe_url: str | None
) -> None:
    article(tmp_path)
    engine = open_engine(settings_for(tmp_path, store, maybe_url))
    passages = engine.search("Who spoke with Shoigu?", k=5)
    assert len(passages) == 5 and passages[0].document == "dirty-bomb-claims"


def test_a_tenant_never_sees_another_tenants_documents(tmp_path: Path, database_url: str) -> None:
    pool = pool_for(database_url)
    for name, text in (("a", "Apples grow on trees in orchards."), ("b", "Boats sail on the sea.")):
        folder = tmp_path / name / "corpus"
        folder.mkdir(parents=True)
        (folder / f"{name}.txt").write_text(f"{name.upper()}\n\n{text}\n")
    engines = {
        name: Engine(
            settings_for(tmp_path / name, "postgres", database_url),
            HashingEncoder(),
            store=PostgresStore(pool, f"guild-{name}", model_id="test-hashing"),
        )
        for name in ("a", "b")
    }
    assert [s.document for s in engines["a"].sources()] == ["a"]
    assert [s.document for s in engines["b"].sources()] == ["b"]
    for question in ("Where do apples grow?", "Where do boats sail?"):
        for quote in engines["b"].ask(question).quotes + engines["b"].ask(question).more:
            assert quote.document == "b"


def test_the_schema_is_created_once_and_a_newer_one_is_refused(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        assert migrate(connection) == SCHEMA_VERSION
        assert migrate(connection) == SCHEMA_VERSION
        count = connection.execute("SELECT count(*) FROM verbatim_schema").fetchone()
        assert count == (SCHEMA_VERSION,)
        connection.execute(
            "INSERT INTO verbatim_schema (version) VALUES (%s)", (SCHEMA_VERSION + 1,)
        )
        with pytest.raises(SchemaError, match="newer than this Verbatim") as caught:
            migrate(connection)
    assert "\n" not in str(caught.value)


def test_a_version_6_database_is_upgraded_in_place_and_answers_alike(
    tmp_path: Path, database_url: str
) -> None:
    article(tmp_path)
    settings = settings_for(tmp_path, "postgres", database_url)
    before = [open_engine(settings).ask(question) for question in QUESTIONS]
    close_pool(database_url)
    with psycopg.connect(database_url, autocommit=True) as connection:
        # The postings' key as version 6 made it, without the BM25 columns beside it.
        connection.execute(
            "ALTER TABLE postings DROP CONSTRAINT postings_pkey, "
            "ADD CONSTRAINT postings_pkey PRIMARY KEY (tenant, term, row_id)"
        )
        # The windows' index by document as version 7 left it, without the row table beside it.
        connection.execute("DROP INDEX windows_by_document_rows")
        connection.execute("CREATE INDEX windows_by_document ON windows (tenant, doc_id)")
        connection.execute("DELETE FROM verbatim_schema WHERE version > 6")
        assert migrate(connection) == SCHEMA_VERSION
        included = connection.execute(
            "SELECT indnatts - indnkeyatts FROM pg_index "
            "WHERE indexrelid = 'postings_pkey'::regclass"
        ).fetchone()
        by_document = connection.execute(
            "SELECT indexname FROM pg_indexes "
            "WHERE tablename = 'windows' AND indexname LIKE 'windows_by_document%'"
        ).fetchall()
    assert included == (2,)  # tf and length, read from the key alone
    assert by_document == [("windows_by_document_rows",)]  # a row table read from the index
    assert [open_engine(settings).ask(question) for question in QUESTIONS] == before


def test_a_bad_url_or_a_database_that_is_down_gets_one_line(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="VERBATIM_DATABASE_URL: Value error, must be a postgresql://"
    ):
        load_settings(EngineSettings, database_url="mysql://nope")
    article(tmp_path)
    url = "postgresql://verbatim:hunter2@127.0.0.1:9/verbatim?connect_timeout=2"
    settings = settings_for(tmp_path, "postgres", url).model_copy(
        update={"database_wait_seconds": 0.0}
    )
    with pytest.raises(ConfigError) as caught:
        open_engine(settings)
    message = str(caught.value)
    assert message.startswith("VERBATIM_DATABASE_URL: cannot connect") and "\n" not in message
    assert "hunter2" not in message


def test_a_servers_documents_stay_in_its_own_tenant(tmp_path: Path, database_url: str) -> None:
    article(tmp_path)
    shared = open_engine(settings_for(tmp_path, "postgres", database_url))
    library = Library(shared, tmp_path / "data")
    library.add(
        1, prepare(b"Tea is brewed from dried leaves of the tea plant.", title="Tea"), added_by="a"
    )
    library.add(
        2, prepare(b"Lighthouses warn ships away from rocks.", title="Lights"), added_by="b"
    )
    own = {guild: {s.title for s in library.engine_for(guild).sources()} for guild in (1, 2)}
    assert "Tea" in own[1] and "Lights" not in own[1]
    assert "Lights" in own[2] and "Tea" not in own[2]
    assert "Tea" not in {s.title for s in shared.sources()}
    for quote in library.engine_for(2).ask("What is tea brewed from?").quotes:
        assert quote.title != "Tea"
    with psycopg.connect(database_url) as connection:
        tenants = {row[0] for row in connection.execute("SELECT DISTINCT tenant FROM documents")}
    assert tenants == {"shared", "1", "2"}


def test_migrate_creates_the_schema_and_says_so(database_url: str) -> None:
    url_settings = EngineSettings(database_url=database_url)
    assert migrate_store(url_settings) == f"The database's schema is at version {SCHEMA_VERSION}."
    assert "Nothing to migrate" in migrate_store(EngineSettings())
    with psycopg.connect(database_url) as connection:
        assert connection.execute("SELECT max(version) FROM verbatim_schema").fetchone() == (
            SCHEMA_VERSION,
        )


def test_another_process_answers_from_the_new_generation_on_its_next_question(
    tmp_path: Path, database_url: str
) -> None:
    corpus = article(tmp_path)
    settings = settings_for(tmp_path, "postgres", database_url)
    writer, reader = open_engine(settings), open_engine(settings)
    before = reader.searcher.backend.generation
    (corpus / "kiwi.txt").write_text("Kiwis\n\nKiwis are fuzzy brown fruit grown in New Zealand.\n")
    writer.reindex()
    answer = reader.ask("Where are kiwis grown?")
    assert answer.answered and answer.quotes[0].document == "kiwi"
    assert reader.searcher.backend.generation > before
    assert "kiwi" in {s.document for s in reader.sources()}


def test_a_filled_database_is_served_without_reading_the_corpus_folder(
    tmp_path: Path, database_url: str
) -> None:
    article(tmp_path)
    settings = settings_for(tmp_path, "postgres", database_url)
    filled = open_engine(settings)
    expected = [q.text for q in filled.ask(QUESTIONS[0]).quotes]
    # A shard process on another host has no corpus folder at all, and needs none.
    elsewhere = settings.model_copy(update={"corpus_dir": tmp_path / "no-such-folder"})
    encoder = HashingEncoder()
    shard = open_engine(elsewhere, encoder)
    assert [q.text for q in shard.ask(QUESTIONS[0]).quotes] == expected
    assert shard.last_sync.embedded == [] and encoder.embedded == 1  # the question alone
    # Filling, though, reads the folder, and names it when it is missing.
    with pytest.raises(ConfigError, match="VERBATIM_CORPUS_DIR"):
        Engine.open(elsewhere, encoder=encoder, verifier=bundled_verifier(), sync=True)


def test_a_local_index_follows_its_folder_at_every_open(tmp_path: Path) -> None:
    corpus = article(tmp_path)
    settings = settings_for(tmp_path, "local", None)
    open_engine(settings)
    (corpus / "kiwi.txt").write_text("Kiwis\n\nKiwis are fuzzy brown fruit grown in New Zealand.\n")
    assert open_engine(settings).last_sync.embedded == ["kiwi"]


def test_a_local_index_is_copied_into_the_database_without_embedding(
    tmp_path: Path, database_url: str
) -> None:
    article(tmp_path)
    local = open_engine(settings_for(tmp_path, "local", None))
    guild = tmp_path / "guilds" / "7"
    (guild / "corpus").mkdir(parents=True)
    (guild / "corpus" / "tea.txt").write_text("Tea\n\nTea is brewed from dried leaves.\n")
    guild_settings = EngineSettings(corpus_dir=guild / "corpus", index_dir=guild / "index")
    open_engine(guild_settings)
    # The copy names the model the settings name; these indexes were made by the test encoder.
    target = settings_for(tmp_path, "postgres", database_url).model_copy(
        update={"model": "test-hashing"}
    )
    copied = {c.tenant: c for c in copy_to_database(target, tmp_path / "guilds")}
    assert copied["shared"].copied == ["dirty-bomb-claims"] and copied["7"].copied == ["tea"]
    assert copy_to_database(target, tmp_path / "guilds")[0].copied == []  # already there
    encoder = HashingEncoder()
    served = open_engine(target, encoder)
    assert encoder.embedded == 0 and not served.last_sync.embedded
    for question in QUESTIONS:
        assert served.ask(question).quotes == local.ask(question).quotes


def test_rows_map_to_the_same_documents_and_sentences_in_both_stores(
    tmp_path: Path, database_url: str
) -> None:
    corpus = article(tmp_path)
    (corpus / "kiwi.txt").write_text("Kiwis\n\nKiwis are fuzzy brown fruit grown in New Zealand.\n")
    local = open_engine(settings_for(tmp_path, "local", None)).searcher.backend
    postgres = open_engine(settings_for(tmp_path, "postgres", database_url)).searcher.backend
    rows = np.arange(local.size, dtype=np.int64)
    assert postgres.document_positions(rows).tolist() == local.document_positions(rows).tolist()
    assert postgres.sentence_positions(rows).tolist() == local.sentence_positions(rows).tolist()
    with pytest.raises(LookupError, match="not in this generation"):
        postgres.place(local.size)
