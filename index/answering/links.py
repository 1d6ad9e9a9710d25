"""Cite a quote from a channel document by the message it comes from, not the whole channel."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from index.corpus.channeltext import (
    CHANNEL_URL,
    ChannelText,
    is_channel_payload,
    message_url,
    read_channel_payload,
)
from index.errors import IngestError, LibraryError
from index.results import Answer, Quote, Summary
from index.storage.shelf import Shelf

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelLinks:
    """Where each message lies in a server's channel documents, by document id."""

    documents: Mapping[str, tuple[str, ChannelText]]

    def quote(self, quote: Quote) -> Quote:
        """Return the quote linked to the message that holds its start."""
        found = self.documents.get(quote.document)
        if found is None:
            return quote
        source_url, text = found
        message = text.message_at(quote.start)
        if message is None:
            return quote
        return quote._replace(source_url=message_url(source_url, *message) or quote.source_url)

    def answer(self, answer: Answer) -> Answer:
        """Return the answer with its quotes linked to their messages."""
        if not self.documents:
            return answer
        return answer._replace(
            quotes=[self.quote(q) for q in answer.quotes],
            more=[self.quote(q) for q in answer.more],
            closest=tuple(self.quote(q) for q in answer.closest),
        )

    def summary(self, summary: Summary) -> Summary:
        """Return the summary with its quotes linked to their messages."""
        if not self.documents:
            return summary
        return summary._replace(quotes=[self.quote(q) for q in summary.quotes])


def channel_links(shelf: Shelf) -> ChannelLinks:
    """Read where the messages lie in the shelf's channel documents."""
    found: dict[str, tuple[str, ChannelText]] = {}
    for entry in shelf.entries():
        if not CHANNEL_URL.match(entry.source_url or ""):
            continue
        try:
            data = shelf.payload(entry)
            if not is_channel_payload(data):
                continue
            document = read_channel_payload(data)
        except (IngestError, LibraryError, UnicodeDecodeError) as error:
            # The quote is still right; only its link falls back to the channel's.
            log.warning("Cannot link the messages of %s: %s", entry.doc_id, error)
            continue
        found[entry.doc_id] = (document.source_url, document.text())
    return ChannelLinks(found)
