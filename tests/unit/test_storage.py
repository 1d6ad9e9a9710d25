"""The storage seam: the store-neutral sync plan, and the local store behind the engine."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from index import Engine, EngineSettings
from index.corpus.documents import Document, load_corpus
from index.storage.factory import open_store
from index.storage.local.files import MANIFEST
from index.storage.local.store import LocalStore
from index.storage.plan import plan_sync
from tests.conftest import ROOT
from tests.support.hashing_encoder import HashingEncoder

TEXTS = {
    "alpha.txt": "Alpha Station\n\nThe alpha station opened in 1990. It was closed in 2010.\n",
    "beta.txt": "Beta Farm\n\nThe beta farm grows apples. Its barn burned down in the storm.\n",
    "gamma.txt": "Gamma Port\n\nShips leave the gamma port at dawn. The harbour master counts them.\n",
}


def corpus(folder: Path, names: list[str] | None = None) -> list[Document]:
    """Write some of the texts into a corpus folder and read them back as documents."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names or list(TEXTS):
        (folder / name).write_text(TEXTS[name], encoding="utf-8")
    return load_corpus(folder).documents


def local_store(folder: Path) -> LocalStore:
    return LocalStore(folder / "index", model_id="test-hashing")


def test_a_first_sync_embeds_everything(tmp_path: Path) -> None:
    documents = corpus(tmp_path / "corpus")
    plan = plan_sync(None, documents)
    assert [d.doc_id for d in plan.embed] == ["alpha", "beta", "gamma"]
    assert plan.reuse == [] and plan.remove == [] and plan.rewrite


def test_an_unchanged_corpus_needs_no_write(tmp_path: Path) -> None:
    documents = corpus(tmp_path / "corpus")
    plan = plan_sync(documents, documents)
    assert plan.reuse == ["alpha", "beta", "gamma"] and plan.embed == [] and not plan.rewrite


def test_only_changed_text_is_embedded_and_gone_documents_are_removed(tmp_path: Path) -> None:
    stored = corpus(tmp_path / "corpus")
    changed = dataclasses.replace(stored[1], text=stored[1].text + " More.", content_hash="new")
    plan = plan_sync(stored, [stored[0], changed])
    assert plan.reuse == ["alpha"]
    assert [d.doc_id for d in plan.embed] == ["beta"]
    assert plan.remove == ["gamma"] and plan.rewrite


def test_a_new_title_or_order_rewrites_without_embedding(tmp_path: Path) -> None:
    stored = corpus(tmp_path / "corpus")
    renamed = dataclasses.replace(stored[0], title="Alpha, renamed")
    retitled = plan_sync(stored, [renamed, *stored[1:]])
    reordered = plan_sync(stored, list(reversed(stored)))
    for plan in (retitled, reordered):
        assert plan.embed == [] and plan.remove == [] and plan.rewrite


def test_an_older_format_is_rewritten_even_when_nothing_changed(tmp_path: Path) -> None:
    documents = corpus(tmp_path / "corpus")
    assert plan_sync(documents, documents, stored_is_current=False).rewrite


def test_an_empty_corpus_keeps_the_store_unless_pruned(tmp_path: Path) -> None:
    stored = corpus(tmp_path / "corpus")
    kept = plan_sync(stored, [])
    assert kept.kept_because and "--prune" in kept.kept_because and not kept.rewrite
    pruned = plan_sync(stored, [], prune=True)
    assert pruned.kept_because is None and pruned.remove == ["alpha", "beta", "gamma"]


def test_a_store_with_nothing_written_has_no_view(tmp_path: Path) -> None:
    assert local_store(tmp_path).view() is None


def test_upsert_adds_one_document_as_a_new_generation(tmp_path: Path) -> None:
    store, encoder = local_store(tmp_path), HashingEncoder()
    first, _ = store.sync(corpus(tmp_path / "corpus", ["alpha.txt", "beta.txt"]), encoder)
    gamma = corpus(tmp_path / "more", ["gamma.txt"])[0]
    view, report = store.upsert(gamma, encoder)
    assert report.embedded == ["gamma"] and report.reused == ["alpha", "beta"]
    assert view.generation == first.generation + 1
    assert [item.document.doc_id for item in view.documents] == ["alpha", "beta", "gamma"]
    reopened = store.view()
    assert reopened is not None and reopened.generation == view.generation
    assert [item.document.doc_id for item in reopened.documents] == ["alpha", "beta", "gamma"]


def test_upsert_replaces_a_document_with_the_same_id(tmp_path: Path) -> None:
    store, encoder = local_store(tmp_path), HashingEncoder()
    store.sync(corpus(tmp_path / "corpus"), encoder)
    newer = dataclasses.replace(
        corpus(tmp_path / "corpus")[0],
        text="Alpha Station\n\nThe alpha station was rebuilt in 2020.\n",
        paragraphs=((0, 13), (15, 52)),
        content_hash="rebuilt",
    )
    view, report = store.upsert(newer, encoder)
    assert report.embedded == ["alpha"] and sorted(report.reused) == ["beta", "gamma"]
    alpha = next(i for i in view.documents if i.document.doc_id == "alpha")
    assert "rebuilt in 2020" in alpha.document.text and len(view.documents) == 3


def test_remove_drops_one_document_and_its_rows(tmp_path: Path) -> None:
    store, encoder = local_store(tmp_path), HashingEncoder()
    before, _ = store.sync(corpus(tmp_path / "corpus"), encoder)
    view, report = store.remove("beta", encoder)
    assert report.removed == ["beta"] and encoder.embedded == sum(
        len(item.sentences) for item in before.documents
    )
    assert [item.document.doc_id for item in view.documents] == ["alpha", "gamma"]
    assert view.size == before.size - len(before.documents[1].sentences)


def test_every_row_is_placed_in_its_own_document_and_sentence(tmp_path: Path) -> None:
    view, _ = local_store(tmp_path).sync(corpus(tmp_path / "corpus"), HashingEncoder())
    seen = []
    for row in range(view.size):
        place = view.place(row)
        assert place.item is view.documents[place.position]
        assert row in place.item.rows
        span = place.item.sentences[place.sentence]
        assert place.text == place.item.document.text[span.start : span.end]
        seen.append((place.position, place.sentence))
    assert len(set(seen)) == view.size


def test_an_index_saved_before_generations_were_counted_opens_without_a_rebuild(
    tmp_path: Path,
) -> None:
    settings = EngineSettings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    corpus(tmp_path / "corpus")
    Engine.open(settings, encoder=HashingEncoder(), verifier=None)
    manifest_path = tmp_path / "index" / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    assert manifest.pop("generation") == 1
    manifest_path.write_text(json.dumps(manifest, indent=2))
    encoder = HashingEncoder()
    reopened = Engine.open(settings, encoder=encoder, verifier=None)
    assert encoder.embedded == 0 and not reopened.last_sync.wrote
    assert reopened.searcher.backend.generation == 0
    assert reopened.last_sync.reused == ["alpha", "beta", "gamma"]


def test_the_engine_answers_from_the_store_it_is_handed(tmp_path: Path) -> None:
    settings = EngineSettings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "unused")
    corpus(tmp_path / "corpus")
    store = LocalStore(tmp_path / "elsewhere", model_id="test-hashing")
    engine = Engine(settings, HashingEncoder(), store=store)
    assert (tmp_path / "elsewhere" / MANIFEST).is_file()
    assert not (tmp_path / "unused").exists()
    assert engine.sources()[0].document == "alpha"


def test_the_factory_opens_the_settings_index_folder(tmp_path: Path) -> None:
    settings = EngineSettings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    store = open_store(settings, "test-hashing")
    assert isinstance(store, LocalStore) and store.folder == tmp_path / "index"


def test_the_engine_and_the_bot_import_without_the_postgres_extra() -> None:
    # A self-hoster (and the Docker image) installs no psycopg: nothing may import it eagerly.
    probe = (
        "import sys; sys.modules['psycopg'] = None; sys.modules['psycopg_pool'] = None; "
        "sys.modules['pgvector'] = None; import index, bot.cli; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
