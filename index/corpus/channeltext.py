"""A chat channel as a document: one paragraph a message, each linked to the message it quotes."""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from index.corpus.documents import normalise_text
from index.errors import IngestError

# Where Discord shows a message; a channel document's source_url is its channel's part.
CHANNEL_URL = re.compile(r"\Ahttps://discord\.com/channels/(\d+)/(\d+)\Z")
HEADING_SEPARATOR = " · "
# Inside a message a blank line would start a new paragraph: one message stays one paragraph.
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")
_FRONT_MATTER = re.compile(r"---\n(.*?)\n---\n", re.DOTALL)
MESSAGES_KEY = "channel_messages"


@dataclass(frozen=True)
class ChannelMessage:
    """One message as plain data: where it is, who wrote it and when (ISO), and its text."""

    channel_id: int
    message_id: int
    author: str
    date: str
    text: str


@dataclass(frozen=True)
class ChannelText:
    """A channel's document text and where each message's paragraph lies in it."""

    text: str
    # (channel id, message id, start, end) of each message's paragraph, in text order.
    spans: tuple[tuple[int, int, int, int], ...]

    def message_at(self, offset: int) -> tuple[int, int] | None:
        """Return the (channel id, message id) whose paragraph holds a character offset."""
        starts = [span[2] for span in self.spans]
        index = bisect.bisect_right(starts, offset) - 1
        if index < 0 or offset >= self.spans[index][3]:
            return None
        return self.spans[index][0], self.spans[index][1]


@dataclass(frozen=True)
class Posted:
    """A new message (or one the document lacks) to add."""

    message: ChannelMessage


@dataclass(frozen=True)
class Edited:
    """A message's new text; its heading (author and date) stays."""

    message_id: int
    text: str


@dataclass(frozen=True)
class Deleted:
    """Messages removed from the channel, to remove from the document."""

    message_ids: frozenset[int]


Change = Posted | Edited | Deleted


def _one_line(text: str) -> str:
    return " ".join(normalise_text(text).split())


def message_body(text: str) -> str:
    """Return a message's text as its paragraph holds it: normalised, no blank lines inside."""
    return _BLANK_LINES.sub("\n", normalise_text(text)).strip()


def heading(message: ChannelMessage) -> str:
    """Return the line that heads a message's paragraph: its author's name and its date."""
    return f"{_one_line(message.author) or 'Someone'}{HEADING_SEPARATOR}{message.date[:10]}"


def channel_text(messages: Iterable[ChannelMessage]) -> ChannelText:
    """Join messages, oldest first, into one text of a paragraph each; empty ones are left out."""
    parts: list[str] = []
    spans: list[tuple[int, int, int, int]] = []
    position = 0
    for message in sorted(messages, key=lambda m: m.message_id):
        body = message_body(message.text)
        if not body:
            continue  # an attachment alone, or a message whose text the bot cannot see
        if parts:
            parts.append("\n\n")
            position += 2
        paragraph = f"{heading(message)}\n{body}"
        parts.append(paragraph)
        spans.append((message.channel_id, message.message_id, position, position + len(paragraph)))
        position += len(paragraph)
    return ChannelText("".join(parts), tuple(spans))


def apply_changes(
    messages: Sequence[ChannelMessage], changes: Iterable[Change], *, limit: int | None = None
) -> list[ChannelMessage]:
    """Return the messages after posts, edits and deletions, keeping the newest `limit`."""
    by_id = {message.message_id: message for message in messages}
    for change in changes:
        if isinstance(change, Posted):
            by_id[change.message.message_id] = change.message
        elif isinstance(change, Edited):
            known = by_id.get(change.message_id)
            if known is not None:  # an edit of a message from before `since` is not ours
                by_id[change.message_id] = replace(known, text=change.text)
        else:
            for message_id in change.message_ids:
                by_id.pop(message_id, None)
    kept = sorted(by_id.values(), key=lambda m: m.message_id)
    return kept[-limit:] if limit is not None and len(kept) > limit else kept


def channel_url(guild_id: int, channel_id: int) -> str:
    """Return the link to a channel, which a channel document carries as its source_url."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}"


def message_url(source_url: str, channel_id: int, message_id: int) -> str | None:
    """Return the jump link of a message in the channel document whose link is `source_url`."""
    match = CHANNEL_URL.match(source_url or "")
    if match is None:
        return None
    return f"https://discord.com/channels/{match.group(1)}/{channel_id}/{message_id}"


def channel_payload(title: str, source_url: str, messages: Sequence[ChannelMessage]) -> bytes:
    """Return the Markdown file that stores a channel document: its messages, then its text."""
    built = channel_text(messages)
    kept = {span[1] for span in built.spans}
    # The front matter is no part of the text: it keeps each message's place and heading, so
    # that an edit or a deletion rebuilds the text without reading the channel again.
    listing = [
        [m.channel_id, m.message_id, _one_line(m.author), m.date[:10]]
        for m in sorted(messages, key=lambda m: m.message_id)
        if m.message_id in kept
    ]
    front = (
        f"title: {_one_line(title)}\nsource_url: {source_url}\n"
        f"{MESSAGES_KEY}: {json.dumps(listing, ensure_ascii=False, separators=(',', ':'))}"
    )
    return f"---\n{front}\n---\n{built.text}".encode()


@dataclass(frozen=True)
class ChannelDocument:
    """A stored channel document read back: its title, link and messages."""

    title: str
    source_url: str
    messages: tuple[ChannelMessage, ...]

    def text(self) -> ChannelText:
        """Return the document's text and message spans, as the engine indexed them."""
        return channel_text(self.messages)


def _front(text: str) -> tuple[dict[str, str], str]:
    match = _FRONT_MATTER.match(text)
    if match is None:
        return {}, text
    fields = {}
    for line in match.group(1).split("\n"):
        key, _, value = line.partition(": ")
        fields[key.strip()] = value
    return fields, text[match.end() :]


def is_channel_payload(data: bytes) -> bool:
    """Say whether a stored file is a channel document."""
    return data.startswith(b"---\n") and f"\n{MESSAGES_KEY}: ".encode() in data[:1_000_000]


def read_channel_payload(data: bytes) -> ChannelDocument:
    """Read a channel document's file back into its messages, or raise IngestError."""
    fields, body = _front(normalise_text(data.decode("utf-8")))
    try:
        listing = json.loads(fields[MESSAGES_KEY])
    except (KeyError, ValueError):
        raise IngestError("it is not a channel document") from None
    paragraphs = body.split("\n\n") if body else []
    if len(paragraphs) != len(listing):
        raise IngestError("its messages and its text disagree")
    messages = []
    for (channel_id, message_id, author, date), paragraph in zip(listing, paragraphs, strict=True):
        _, _, text = paragraph.partition("\n")
        messages.append(ChannelMessage(int(channel_id), int(message_id), author, date, text))
    return ChannelDocument(fields.get("title", ""), fields.get("source_url", ""), tuple(messages))
