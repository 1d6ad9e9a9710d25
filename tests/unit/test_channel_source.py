"""A channel as a document without Discord: its text and offsets, edits, deletions, links."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import (
    ChannelMessage,
    Deleted,
    Edited,
    Engine,
    EngineSettings,
    Posted,
    apply_changes,
    channel_payload,
    channel_text,
    channel_url,
    prepare,
    read_channel_payload,
)
from index.corpus.documents import parse_document
from index.errors import LibraryError
from index.library import Library
from tests.support.hashing_encoder import HashingEncoder
from tests.unit.test_shelves import library_on, rows, url

__all__ = ["url"]  # the store fixture: the local files, then Postgres

GUILD, CHANNEL = 11, 22
URL = channel_url(GUILD, CHANNEL)


def message(
    message_id: int, text: str, author: str = "Ada", date: str = "2026-01-02"
) -> ChannelMessage:
    return ChannelMessage(CHANNEL, message_id, author, f"{date}T10:00:00+00:00", text)


MESSAGES = [
    message(3, "The kettle must be descaled every month.", "Bob"),
    message(1, "Green tea is steeped at eighty degrees.\n\n\nNever boil it."),
    message(2, ""),  # an attachment alone: nothing to quote
]


def test_each_message_is_a_paragraph_headed_by_its_author_and_date() -> None:
    built = channel_text(MESSAGES)
    assert built.text == (
        "Ada · 2026-01-02\nGreen tea is steeped at eighty degrees.\nNever boil it."
        "\n\nBob · 2026-01-02\nThe kettle must be descaled every month."
    )
    assert [span[1] for span in built.spans] == [1, 3]  # oldest first, the empty one left out
    for _, message_id, start, end in built.spans:
        paragraph = built.text[start:end]
        assert paragraph.startswith(("Ada · ", "Bob · "))
        assert built.message_at(start) == (CHANNEL, message_id)
        assert built.message_at(end - 1) == (CHANNEL, message_id)
    assert built.message_at(built.spans[0][3]) is None  # the blank line between two messages


def test_the_stored_file_reads_as_the_same_text_and_back_into_its_messages() -> None:
    data = channel_payload("#tea", URL, MESSAGES)
    built = channel_text(MESSAGES)
    # The shelf reads it as any Markdown file: the front matter is no part of the text.
    document = parse_document(data, "tea.md", "tea", "tea.md", {})
    assert document.text == built.text
    assert document.title == "#tea" and document.source_url == URL
    back = read_channel_payload(data)
    assert back.source_url == URL and back.title == "#tea"
    assert back.text() == built
    assert [m.message_id for m in back.messages] == [1, 3]
    assert back.messages[1].author == "Bob"


def test_posts_edits_and_deletions_change_only_their_messages() -> None:
    changed = apply_changes(
        MESSAGES,
        [
            Posted(message(4, "Oolong is rolled by hand.")),
            Edited(3, "The kettle is descaled weekly."),
            Edited(99, "an edit of a message from before the document began"),
            Deleted(frozenset({1})),
        ],
    )
    text = channel_text(changed).text
    assert "eighty degrees" not in text
    assert "descaled weekly" in text and "every month" not in text
    assert "Oolong is rolled by hand." in text and "before the document" not in text
    assert [m.message_id for m in changed] == [2, 3, 4]


def test_the_newest_messages_are_kept_within_the_limit() -> None:
    kept = apply_changes(MESSAGES, [Posted(message(5, "Newest."))], limit=2)
    assert [m.message_id for m in kept] == [3, 5]


@pytest.fixture
def library(tmp_path: Path) -> Library:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "lighthouse.txt").write_text("The keeper climbed ninety steps.")
    settings = EngineSettings(corpus_dir=tmp_path / "shared", index_dir=tmp_path / "shared-index")
    shared = Engine.open(settings, encoder=HashingEncoder())
    return Library(shared, tmp_path / "data")


def test_a_deleted_message_is_no_longer_quotable_nor_stored(library: Library) -> None:
    first = prepare(channel_payload("#tea", URL, MESSAGES), filename="tea.md", title="#tea")
    added = library.add(GUILD, first, added_by="admin", source_url=URL)
    engine = library.engine_for(GUILD)
    answer = engine.ask("At what temperature is green tea steeped?")
    quote = next(q for q in answer.quotes + answer.more if "eighty" in q.text)
    assert quote.source_url == f"https://discord.com/channels/{GUILD}/{CHANNEL}/1"

    kept = apply_changes(MESSAGES, [Deleted(frozenset({1}))])
    second = prepare(channel_payload("#tea", URL, kept), filename="tea.md", title="#tea")
    replaced = library.replace(GUILD, added.entry.doc_id, second, added_by="bot", source_url=URL)

    assert [e.doc_id for e in library.entries(GUILD)] == [replaced.entry.doc_id]
    answer = engine.ask("At what temperature is green tea steeped?")
    assert all("eighty" not in q.text for q in answer.quotes + answer.more + list(answer.closest))
    stored = library.shelf(GUILD).documents().documents
    assert stored and all("eighty" not in d.text for d in stored)
    # Neither the shelf nor the index keeps the deleted message's text anywhere.
    files = [p for p in library.folder(GUILD).rglob("*") if p.is_file()]
    assert all(b"eighty" not in path.read_bytes() for path in files)
    remaining = engine.ask("How often must the kettle be descaled?")
    linked = next(q for q in remaining.quotes + remaining.more if "kettle" in q.text)
    assert linked.source_url == f"https://discord.com/channels/{GUILD}/{CHANNEL}/3"


def test_a_replaced_channel_document_keeps_no_deleted_text_on_either_store(
    tmp_path: Path, url: str | None
) -> None:
    library = library_on(tmp_path, url)
    first = prepare(channel_payload("#tea", URL, MESSAGES), filename="tea.md", title="#tea")
    added = library.add(GUILD, first, added_by="admin", source_url=URL)
    entry, data = library.payload(GUILD, added.entry.doc_id)
    assert entry == added.entry and read_channel_payload(data).text() == channel_text(MESSAGES)

    kept = apply_changes(MESSAGES, [Deleted(frozenset({1}))])
    second = prepare(channel_payload("#tea", URL, kept), filename="tea.md", title="#tea")
    replaced = library.replace(GUILD, added.entry.doc_id, second, added_by="bot", source_url=URL)
    with pytest.raises(LibraryError, match="no document"):
        library.payload(GUILD, added.entry.doc_id)
    with pytest.raises(LibraryError, match="already here"):
        library.replace(GUILD, replaced.entry.doc_id, second, added_by="bot", source_url=URL)
    answer = library.engine_for(GUILD).ask("How often must the kettle be descaled?")
    quote = next(q for q in answer.quotes + answer.more if "kettle" in q.text)
    assert quote.source_url == f"https://discord.com/channels/{GUILD}/{CHANNEL}/3"
    if url is not None:
        stored = rows(url, "SELECT body FROM documents") + rows(url, "SELECT payload FROM uploads")
        assert stored and all(b"eighty" not in _bytes(row[0]) for row in stored)


def _bytes(value: object) -> bytes:
    return bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
