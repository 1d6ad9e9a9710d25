"""Verbatim's retrieval engine: answers questions by quoting documents verbatim. No Discord here."""

import logging

from index.answering.asking import question_in, sure_answer
from index.answering.questions import clean_question
from index.corpus.channeltext import (
    ChannelDocument,
    ChannelMessage,
    Deleted,
    Edited,
    Posted,
    apply_changes,
    channel_payload,
    channel_text,
    channel_url,
    read_channel_payload,
)
from index.corpus.documents import valid_url
from index.corpus.ingest import Prepared, prepare
from index.engine import MAX_SUMMARY_SENTENCES, SUMMARY_LENGTHS, Engine
from index.errors import (
    ConfigError,
    DatabaseUnavailable,
    IndexProblem,
    IndexWriteError,
    IngestError,
    LockError,
    ModelLoadError,
    QuestionError,
    StorageError,
    VerifierError,
)
from index.gaps.log import ABSTAINED, THUMBS_DOWN, Gap, GapLog, GapLogs, open_gap_logs
from index.gaps.report import GapGroup, GapReport, report_for
from index.jobs import JobRunner, put_add, put_refresh, put_reindex, put_remove, worker_name
from index.library import Added, Library, LibraryEntry
from index.refresh import (
    REFRESH_CHOICES,
    Page,
    PageSchedules,
    Refetch,
    new_claim_token,
    page_flagged,
    page_gone,
    refetch_failed,
    refetch_judged,
)
from index.relations.drawing import Picture, draw
from index.relations.graph import Link, RelationGraph, Relations
from index.results import Answer, Highlight, Quote, SourceInfo, Summary
from index.settings import EngineSettings, load_settings
from index.storage.factory import migrate_store, open_jobs, open_states, turns_for
from index.storage.jobs import Job, JobQueue
from index.storage.state import ServerStates
from index.storage.transfer import copy_to_database
from index.storage.turns import Turn, Turns
from index.text.listing import capped_list
from index.text.progress import ProgressUpdate

# bm25s and faiss log routine detail at DEBUG/INFO on their own loggers.
logging.getLogger("bm25s").setLevel(logging.WARNING)
logging.getLogger("faiss.loader").setLevel(logging.WARNING)

__all__ = [
    "ABSTAINED",
    "MAX_SUMMARY_SENTENCES",
    "REFRESH_CHOICES",
    "SUMMARY_LENGTHS",
    "THUMBS_DOWN",
    "Added",
    "Answer",
    "ChannelDocument",
    "ChannelMessage",
    "ConfigError",
    "DatabaseUnavailable",
    "Deleted",
    "Edited",
    "Engine",
    "EngineSettings",
    "Gap",
    "GapGroup",
    "GapLog",
    "GapLogs",
    "GapReport",
    "Highlight",
    "IndexProblem",
    "IndexWriteError",
    "IngestError",
    "Job",
    "JobQueue",
    "JobRunner",
    "Library",
    "LibraryEntry",
    "Link",
    "LockError",
    "ModelLoadError",
    "Page",
    "PageSchedules",
    "Picture",
    "Posted",
    "Prepared",
    "ProgressUpdate",
    "QuestionError",
    "Quote",
    "Refetch",
    "RelationGraph",
    "Relations",
    "ServerStates",
    "SourceInfo",
    "StorageError",
    "Summary",
    "Turn",
    "Turns",
    "VerifierError",
    "apply_changes",
    "capped_list",
    "channel_payload",
    "channel_text",
    "channel_url",
    "clean_question",
    "copy_to_database",
    "draw",
    "load_settings",
    "migrate_store",
    "new_claim_token",
    "open_gap_logs",
    "open_jobs",
    "open_states",
    "page_flagged",
    "page_gone",
    "prepare",
    "put_add",
    "put_refresh",
    "put_reindex",
    "put_remove",
    "question_in",
    "read_channel_payload",
    "refetch_failed",
    "refetch_judged",
    "report_for",
    "sure_answer",
    "turns_for",
    "valid_url",
    "worker_name",
]
