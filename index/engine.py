"""The engine's public face: open a corpus, ask, summarise, list sources."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from index.answering.judging import closest_quotes, reranked, verified_quotes, verify
from index.answering.questions import clean_question
from index.answering.quotes import passage_candidates, select_quotes
from index.answering.relevance import ANSWER_THRESHOLD, question_terms
from index.answering.summaries import summarise
from index.answering.verifier.model import Verifier, load_verifier
from index.corpus.documents import Corpus, CorpusProblem, Document, load_corpus
from index.errors import ConfigError, DatabaseUnavailable, QuestionError
from index.relations.graph import RelationGraph, Relations, query_relations, sync_relations
from index.relations.questions import asks_who_spoke, no_link_note, relations_for_question
from index.results import Answer, Passage, SourceInfo, Summary
from index.retrieval.encoder import Encoder, SentenceEncoder, precise_model_id
from index.retrieval.fusion import HybridSearcher
from index.settings import EngineSettings, load_settings
from index.storage.base import Store, StoreView, SyncReport, TextCache
from index.storage.factory import open_store
from index.text.listing import capped_list
from index.text.progress import ProgressListener, Tracker, reporting_to

log = logging.getLogger(__name__)

SUMMARY_LENGTHS = {"short": 3, "medium": 5, "long": 8}
MAX_SUMMARY_SENTENCES = 15
NOT_FOUND = "The documents don't contain an answer to that."
# The name of the thread that builds the relations map ahead of its first use.
RELATIONS_THREAD = "relations"


class _RelationsSource:
    """The documents whose relations graph is built once, when first needed."""

    def __init__(self, cache: Path | TextCache, view: StoreView) -> None:
        self.cache, self.view = cache, view
        self._graph: RelationGraph | None = None
        self._lock = threading.Lock()
        self._builder: threading.Thread | None = None

    def build_in_background(self) -> None:
        """Start building the graph on a thread of its own."""
        self._builder = threading.Thread(
            target=self._build_ahead, name=RELATIONS_THREAD, daemon=True
        )
        self._builder.start()

    def _build_ahead(self) -> None:
        """Build the graph before it is asked for; a failure waits for the first request."""
        try:
            self._build()
        except (DatabaseUnavailable, OSError) as error:
            # Nothing is lost: the first question that needs the graph builds it again and
            # meets the error itself, where the user is told in one line.
            log.warning("The relations map was not built ahead (%s); it waits for first use", error)

    def graph(self) -> RelationGraph:
        """Return the graph, waiting for the background build to end if one runs."""
        # Joined, not only waited on through the lock: a process that exits while the
        # builder thread still unwinds spaCy's objects can crash in interpreter shutdown.
        builder = self._builder
        if builder is not None and builder is not threading.current_thread():
            builder.join()
        return self._build()

    def _build(self) -> RelationGraph:
        with self._lock:
            if self._graph is None:
                items = list(self.view.documents)
                documents = [item.document for item in items]
                sentences = {item.document.doc_id: item.sentences for item in items}
                self._graph, _ = sync_relations(self.cache, documents, sentences)
            return self._graph


def _precision_for(settings: EngineSettings) -> str:
    """Return the precision to embed in: "auto" keeps the stored vectors' own, if any."""
    # Moving an index built in float32 to bfloat16 would embed every document again: "auto"
    # picks the CPU's best only for a new index, and a set precision is obeyed (re-embedding).
    if settings.embedding_precision != "auto":
        return settings.embedding_precision
    recorded = open_store(settings, settings.model).recorded_model()
    for precision in ("float32", "bfloat16"):
        if recorded == precise_model_id(settings.model, precision, settings.embedding_units):
            return precision
    return "auto"


class Engine:
    """Answers questions about a corpus with verbatim quotes."""

    searcher: HybridSearcher[StoreView]
    problems: list[CorpusProblem]
    last_sync: SyncReport
    _relations: _RelationsSource

    def __init__(
        self,
        settings: EngineSettings,
        encoder: Encoder,
        *,
        store: Store | None = None,
        verifier: Verifier | None = None,
        show_progress: bool = False,
        prune: bool = False,
        must_save: bool = False,
        sync: bool | None = None,
    ) -> None:
        self.settings = settings
        self.encoder = encoder
        self.store = store or open_store(settings, encoder.model_id)
        self.verifier = verifier
        self._lock = threading.Lock()
        # A shared store (Postgres) that already holds a generation is served as it is: the
        # `index` command fills it, so a shard process never reads the corpus folder or holds
        # a copy of the documents. A store only this process writes is brought up to date.
        if sync is None:
            sync = self.store.latest_generation() is None
        stored = None if sync else self.store.view()
        if stored is None:
            self.reindex(show_progress=show_progress, prune=prune, must_save=must_save)
        else:
            self._serve(stored, [], SyncReport(reused=[item.document for item in stored.listing()]))

    @classmethod
    def open(
        cls,
        settings: EngineSettings | None = None,
        *,
        encoder: Encoder | None = None,
        verifier: Verifier | None = None,
        show_progress: bool = False,
        prune: bool = False,
        must_save: bool = False,
        sync: bool | None = None,
    ) -> Engine:
        """Load the corpus and bring its index up to date, embedding only what changed."""
        # An empty corpus keeps a non-empty index unless `prune`. A failed save is logged and
        # reported in `last_sync.save_error` while the index is served from memory; with
        # `must_save` (the `index` command) it raises IndexWriteError instead.
        settings = settings or load_settings(EngineSettings)
        # The model loads on first use, so an up-to-date index opens without it.
        encoder = encoder or SentenceEncoder(
            settings.model,
            batch_size=settings.batch_size,
            precision=_precision_for(settings),
            units=settings.embedding_units,
        )
        verifier = verifier or load_verifier(settings.verifier, settings.verifier_precision)
        return cls(
            settings,
            encoder,
            verifier=verifier,
            show_progress=show_progress,
            prune=prune,
            must_save=must_save,
            sync=sync,
        )

    def load_documents(
        self,
        known: Mapping[str, Document] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Corpus:
        """Read the documents to index (a subclass may add another folder's)."""
        folder = self.settings.corpus_dir
        if not folder.is_dir():
            # A Docker bind mount of a missing host path looks exactly like this.
            what = "is not a folder" if folder.exists() else "does not exist"
            raise ConfigError(
                f"VERBATIM_CORPUS_DIR: the corpus folder {folder} {what}. "
                "Set VERBATIM_CORPUS_DIR (or VERBATIM_DATA_DIR) to the folder of your documents."
            )
        return load_corpus(folder, known, progress)

    def reusable(self, stored: StoreView) -> dict[str, Document]:
        """Return the stored documents by source, for the corpus reader to take unread."""
        return {item.document.source: item.document for item in stored.documents}

    def _stored(self) -> StoreView | None:
        """Return the generation being served, or else the stored one, if either can be read."""
        if hasattr(self, "searcher"):
            return self.searcher.backend
        return self.store.view()

    def reindex(
        self,
        *,
        show_progress: bool = False,
        prune: bool = False,
        must_save: bool = False,
        progress: ProgressListener | None = None,
    ) -> SyncReport:
        """Re-read the corpus folder and update the index for what changed."""
        # `progress` hears every phase (reading, splitting, embedding, keywords) as it goes.
        with reporting_to(progress):
            return self._reindex(show_progress=show_progress, prune=prune, must_save=must_save)

    def _reindex(self, *, show_progress: bool, prune: bool, must_save: bool) -> SyncReport:
        if show_progress:
            log.info("Reading the corpus in %s", self.settings.corpus_dir)
        started = time.perf_counter()
        # Files unchanged since the stored index read them are taken from it, unread: a start
        # on an unchanged corpus then costs a stat per file.
        stored = self._stored()
        level = logging.INFO if show_progress else logging.DEBUG
        corpus = self.load_documents(
            self.reusable(stored) if stored else {},
            Tracker("Reading documents", "files", level=level),
        )
        for problem in corpus.problems:
            log.warning("Skipping %s: %s", problem.path, problem.reason)
        log.log(
            logging.INFO if show_progress else logging.DEBUG,
            "Read %d document(s) (%d skipped) in %.1f s",
            len(corpus.documents),
            len(corpus.problems),
            time.perf_counter() - started,
        )
        view, report = self.store.sync(
            corpus.documents,
            self.encoder,
            prune=prune,
            show_progress=show_progress,
            must_save=must_save,
            # What is served may be older than what another writer has stored since.
            current=stored if not hasattr(self, "searcher") else None,
        )
        if self.verifier is not None:
            self.store.note_verifier(self.verifier.folder, self.verifier.sha256)
        self._serve(view, corpus.problems, report)
        return report

    def _serve(self, view: StoreView, problems: list[CorpusProblem], report: SyncReport) -> None:
        """Answer from this generation from now on."""
        searcher = HybridSearcher(view, self.encoder)
        relations = _RelationsSource(self.store.relations_cache, view)
        if report.embedded:
            # New documents are read for who-spoke-with-whom in the background, so questions
            # are answered meanwhile (a /relations question waits for it); an unchanged index
            # defers even reading the cached results to the first such question.
            relations.build_in_background()
        # Swap in one assignment so a concurrent reader sees the old or the new index, never half.
        with self._lock:
            self.searcher, self.problems, self.last_sync = searcher, problems, report
            self._relations = relations

    def _served(self) -> HybridSearcher[StoreView]:
        """Return the searcher of the newest generation, following other processes' commits."""
        searcher = self.searcher
        latest = self.store.latest_generation()
        if latest is None or latest == searcher.backend.generation:
            return searcher
        view = self.store.view()
        if view is None:
            return searcher
        fresh = HybridSearcher(view, self.encoder)
        with self._lock:
            if self.searcher is searcher:
                self.searcher = fresh
                self._relations = _RelationsSource(self.store.relations_cache, view)
            return self.searcher

    @property
    def graph(self) -> RelationGraph:
        """Return who spoke with whom in the indexed documents, built on first use."""
        return self._relations.graph()

    def ask(self, question: str, *, max_quotes: int | None = None) -> Answer:
        """Answer with up to `max_quotes` verbatim quotes, or abstain saying why."""
        text = clean_question(question, max_chars=self.settings.max_question_chars)
        answer = self._answer(text, max_quotes)
        # Only who-spoke questions can name someone the links miss; others never wait on the graph.
        note = no_link_note(self.graph, text) if asks_who_spoke(text) else ""
        if not note:
            return answer
        reason = f"{note} {answer.reason}" if answer.reason else ""
        return answer._replace(note=note, reason=reason)

    def _answer(self, text: str, max_quotes: int | None) -> Answer:
        """Answer a cleaned question from the passages."""
        searcher = self._served()
        if searcher.size == 0:
            return Answer(text, False, [], [], "The corpus is empty: add documents and re-index.")
        view = searcher.backend
        wanted = question_terms(text, searcher.term_weights)
        hits = searcher.search(text)
        candidates = passage_candidates(view, hits, text, wanted)
        limit = max_quotes or self.settings.max_quotes
        if self.verifier is None:
            quotes, more = select_quotes(view, hits, candidates, wanted, limit)
            return (
                Answer(text, True, quotes, more)
                if quotes
                else Answer(text, False, [], [], NOT_FOUND)
            )
        verdicts = verify(view, hits, candidates, text, self.verifier)
        quotes, more = verified_quotes(verdicts, self.verifier.threshold, limit)
        if not quotes:
            return Answer(text, False, [], [], NOT_FOUND, tuple(closest_quotes(verdicts)))
        return Answer(text, True, quotes, more)

    def search(
        self,
        question: str,
        *,
        k: int = 10,
        mode: str = "hybrid",
        rerank: bool = True,
        depth: int | None = None,
    ) -> list[Passage]:
        """Rank paragraphs for a question (reordered by the verifier when there is one)."""
        text = clean_question(question, max_chars=self.settings.max_question_chars)
        searcher = self._served()
        wanted = question_terms(text, searcher.term_weights)
        hits = searcher.search(text, mode=mode, depth=depth)
        candidates = passage_candidates(searcher.backend, hits, text, wanted, limit=max(k, 12))
        relevance = {id(c): c.evidence.relevance for c in candidates}
        if rerank and self.verifier is not None:
            verdicts = verify(searcher.backend, hits, candidates, text, self.verifier)
            relevance.update({id(v.candidate): v.probability for v in verdicts})
            candidates = reranked(verdicts, candidates)
        return [
            Passage(c.item.document.doc_id, c.paragraph, c.fused, relevance[id(c)])
            for c in candidates[:k]
        ]

    def summary(
        self, *, document: str | None = None, topic: str | None = None, length: int | str = 5
    ) -> Summary:
        """Summarise one document or all of them, optionally on a topic, in document order."""
        searcher = self._served()
        count = SUMMARY_LENGTHS.get(str(length).lower()) if isinstance(length, str) else length
        if count is None or not 1 <= count <= MAX_SUMMARY_SENTENCES:
            raise QuestionError(
                f"Length must be 1-{MAX_SUMMARY_SENTENCES} sentences or short, medium or long."
            )
        positions = self._document_positions(document)
        topic_text = (
            clean_question(topic, max_chars=self.settings.max_question_chars) if topic else None
        )
        hits = None
        if topic_text:
            wanted = question_terms(topic_text, searcher.term_weights)
            hits = searcher.search(topic_text)
            candidates = [
                c
                for c in passage_candidates(searcher.backend, hits, topic_text, wanted)
                if searcher.backend.place(c.best_row).position in positions
            ]
            if not candidates or candidates[0].evidence.relevance < ANSWER_THRESHOLD:
                where = f"'{document}'" if document else "the documents"
                return Summary(document, topic_text, [], False, f"{where} say nothing about that.")
        quotes = summarise(searcher.backend, positions, count, hits)
        return Summary(
            document, topic_text, quotes, bool(quotes), "" if quotes else "Nothing to summarise."
        )

    def relations(self, *, person: str | None = None, document: str | None = None) -> Relations:
        """Return who spoke, met or talked with whom, optionally for one person or document."""
        doc_id = None
        if document:
            position = self._document_positions(document)[0]
            doc_id = self._served().backend.listing()[position].document
        return query_relations(self.graph, person=person, document=doc_id)

    def relations_for_question(self, question: str) -> Relations | None:
        """Answer a who-spoke-with-whom question from the links; None for other questions."""
        text = clean_question(question, max_chars=self.settings.max_question_chars)
        return relations_for_question(self.graph, text)

    def _document_positions(self, document: str | None) -> list[int]:
        listed = self._served().backend.listing()
        if document is None:
            return list(range(len(listed)))
        wanted = document.strip().casefold()
        for position, entry in enumerate(listed):
            if wanted in (entry.document.casefold(), entry.title.casefold()):
                return [position]
        known = capped_list([entry.document for entry in listed], hint="see /sources") or "none"
        raise QuestionError(f"No document '{document[:100]}'. Known documents: {known}.")

    def sources(self) -> list[SourceInfo]:
        """List the indexed documents with their paragraph and sentence counts."""
        return list(self._served().backend.listing())
