"""`python -m bot worker`: a process that does nothing but indexing jobs, until told to stop."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from bot.settings import DocsSettings, JobsSettings
from index import (
    Engine,
    EngineSettings,
    JobQueue,
    JobRunner,
    Library,
    load_settings,
    open_jobs,
    worker_name,
)

log = logging.getLogger("bot.worker")
NO_DATABASE = (
    "VERBATIM_DATABASE_URL is not set: workers take their jobs from the database. "
    "Without one, /docs changes run in the bot's own process and no worker is needed."
)


def library_for(engine: Engine, docs: DocsSettings) -> Library:
    """Return the servers' library over the shared engine, as the bot builds it."""
    return Library(
        engine,
        docs.guilds_root(engine.settings.data_dir),
        cache_size=docs.guild_cache_size,
        shared_visible=docs.shared_corpus_visible,
        max_documents=docs.max_documents,
    )


def start_runner(
    runner: JobRunner, stop: threading.Event, jobs: JobsSettings, *, name: str
) -> threading.Thread:
    """Run jobs in a background thread until `stop` is set."""
    thread = threading.Thread(
        target=runner.serve,
        args=(stop,),
        kwargs={"poll_seconds": jobs.poll_seconds},
        name=name,
        daemon=True,  # a job cut off by the process's end is redone by another worker
    )
    thread.start()
    return thread


class _Stopper:
    """The first signal lets the job in hand finish; a second hands it back and stops now."""

    def __init__(self, runner: JobRunner, stop: threading.Event) -> None:
        self.runner, self.stop = runner, stop
        self.handed_back = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not self.stop.is_set():
            log.info("Received %s: stopping once the job in hand (if any) is done", name)
            self.stop.set()
            return
        if self.runner.hand_back():
            log.info("Received %s again: handed the job in hand back to the queue", name)
        self.handed_back = True


def run_worker() -> int:
    """Take jobs until SIGTERM or SIGINT; return the exit status."""
    settings = load_settings(EngineSettings)
    jobs = load_settings(JobsSettings)
    docs = load_settings(DocsSettings)
    if settings.database_url is None:
        print(f"error: {NO_DATABASE}", file=sys.stderr)
        return 2
    queue: JobQueue | None = open_jobs(settings, lease_seconds=jobs.lease_seconds)
    assert queue is not None
    log.info("Opening the shared corpus in %s", settings.corpus_dir)
    engine = Engine.open(settings, show_progress=True)
    load_model = getattr(engine.encoder, "load", None)
    if load_model is not None:  # now, not in the first job
        log.info("Loading the embedding model %s", settings.model)
        load_model()
    name = worker_name("worker")
    runner = JobRunner(queue, library_for(engine, docs), worker=name)
    stop = threading.Event()
    stopper = _Stopper(runner, stop)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stopper)
    thread = start_runner(runner, stop, jobs, name="jobs")
    log.info("Worker %s is taking jobs", name)
    # The main thread only waits, so that signals are handled at once.
    while thread.is_alive() and not stopper.handed_back:
        thread.join(0.5)
    log.info("Worker %s stopped", name)
    return 1 if stopper.handed_back else 0
