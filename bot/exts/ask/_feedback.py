"""Record 👍/👎 on answers through the library: the feedback file, or the database's votes."""

from __future__ import annotations

from index import Answer, Library


class FeedbackLog:
    """Where the answer views send votes; the library decides how they are kept."""

    def __init__(self, library: Library) -> None:
        self.library = library

    @property
    def path(self) -> str:
        """Return where votes are recorded, for the log (never a secret)."""
        return self.library.votes_location()

    def record(
        self, answer: Answer, *, user_id: int, helpful: bool, guild_id: int | None = None
    ) -> None:
        """Store a vote with the question and the passages it was about; raise StorageError."""
        self.library.record_vote(guild_id, answer, user_id=user_id, helpful=helpful)
