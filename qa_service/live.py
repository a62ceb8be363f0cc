"""The pipeline a running server answers with, and reloading it without downtime.

A request takes the pipeline once (:meth:`PipelineHolder.current`) and uses it to the end; a
reload builds the new one aside, from the corpus folder on disk with the same settings, and
swaps it in with one assignment. Until a first pipeline is in place the holder is loading:
``current()`` raises :class:`Loading` (503 with Retry-After).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # not on Windows: one process there
    fcntl = None  # type: ignore[assignment]

from .config import Settings
from .errors import CorpusError, Loading, QAError, ReloadFailed
from .pipeline import Pipeline, build_pipeline
from .store import Change

__all__ = ["PipelineHolder", "RETRY_AFTER_SECONDS", "builder", "folder_lock"]

_log = logging.getLogger("qa_service.reload")

RETRY_AFTER_SECONDS = 2  # what a client is told to wait while the corpus loads


def builder(settings: Settings) -> Callable[[], Pipeline]:
    """Builds a ready pipeline from the corpus folder the settings name (warmed up: its first
    question costs what every other does)."""

    def build() -> Pipeline:
        pipeline = build_pipeline(settings)
        pipeline.warm_up()
        return pipeline

    return build


def _counts(pipeline: Pipeline) -> str:
    return f"{len(pipeline.corpus.documents)} document(s), {len(pipeline.corpus.passages)} passages"


_CORPUS_FILES = ("manifest.json", "documents.jsonl", "passages.jsonl")


def _stamp(folder: Path) -> tuple[int, ...]:
    """The corpus files' sizes and modification times: changed when anything rewrote them."""
    stamp: list[int] = []
    for name in _CORPUS_FILES:
        try:
            info = (folder / name).stat()
            stamp += [info.st_mtime_ns, info.st_size, info.st_ino]
        except OSError:
            stamp += [-1, -1, -1]
    return tuple(stamp)


@contextlib.contextmanager
def folder_lock(folder: Path | None) -> Iterator[None]:
    """Held while a change is written: the processes of `serve --workers` share the corpus folder."""
    if folder is None or fcntl is None:
        yield
        return
    try:
        handle = open(folder / ".qa-change.lock", "a+b")
    except OSError as exc:
        raise CorpusError(f"{folder}: cannot write to the corpus folder ({exc.strerror or exc})") from None
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class PipelineHolder:
    """The live pipeline; swapped whole, never changed in place."""

    def __init__(self, pipeline: Pipeline | None = None, build: Callable[[], Pipeline] | None = None,
                 source: str = "the corpus folder", folder: Path | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        self._pipeline = pipeline
        self._build = build  # None: this holder cannot reload (an app built around a given pipeline)
        self._source = source  # named in the log lines
        self.folder = folder  # where documents added or removed are written; None: kept in memory only
        self._on_change = on_change  # told after a change is in place (the other processes of `serve --workers`)
        self._reloading = threading.Lock()  # one build or change at a time
        # the corpus files as they were when the pipeline was read from them (None: not read from a folder)
        self._loaded_stamp: tuple[int, ...] | None = _stamp(folder) if folder is not None and pipeline is None else None

    @property
    def ready(self) -> bool:
        return self._pipeline is not None

    @property
    def can_reload(self) -> bool:
        return self._build is not None

    def current(self) -> Pipeline:
        """The pipeline to answer one request with, from its start to its end."""
        pipeline = self._pipeline
        if pipeline is None:
            raise Loading("the corpus is still loading; try again shortly",
                          headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        return pipeline

    def swap(self, pipeline: Pipeline) -> Pipeline | None:
        """Put ``pipeline`` in place (one assignment: a request sees the old or the new, whole); the old one back."""
        old, self._pipeline = self._pipeline, pipeline
        return old

    def reload(self) -> Pipeline:
        """Build the corpus on disk aside and swap it in; on failure keep serving the old one,
        log one line why and raise :class:`ReloadFailed`."""
        if self._build is None:
            raise ReloadFailed("this server was given its pipeline, not a corpus folder: nothing to reload from")
        with self._reloading:
            started = time.perf_counter()
            stamp = _stamp(self.folder) if self.folder is not None else None
            try:
                pipeline = self._build()
            except Exception as exc:  # noqa: BLE001 - whatever broke, the old pipeline keeps serving
                reason = exc.message if isinstance(exc, QAError) else f"{type(exc).__name__}: {exc}"
                reason = " ".join(reason.split())
                old = self._pipeline
                keeps = f"still serving {_counts(old)}" if old is not None else "nothing is served yet"
                _log.error("qa-service: reload of %s failed, %s: %s", self._source, keeps, reason)
                raise ReloadFailed(f"the corpus in {self._source} could not be loaded ({reason}); {keeps}") from None
            old = self.swap(pipeline)
            self._loaded_stamp = stamp
            took = time.perf_counter() - started
            verb = "reloaded" if old is not None else "loaded"
            _log.info("qa-service: %s %s from %s in %.1f s", verb, _counts(pipeline), self._source, took)
            return pipeline

    def change(self, apply: Callable[[Pipeline], Change]) -> Change:
        """Make a change (documents added or removed) to the live corpus: ``apply`` builds the new
        pipeline aside from the current one, and it is swapped in whole. One change or reload at a
        time, across the processes sharing the folder too (a lock file): a process whose corpus is
        older than the folder's (another process changed it) loads the folder first, so no change
        is lost. A failed change leaves the old pipeline serving and raises."""
        with self._reloading, folder_lock(self.folder):
            current = self.current()
            if self.folder is not None and self._build is not None and _stamp(self.folder) != self._loaded_stamp:
                stamp = _stamp(self.folder)
                current = self._build()
                self.swap(current)
                self._loaded_stamp = stamp
            result = apply(current)
            result.pipeline.warm_up()
            self.swap(result.pipeline)
            if self.folder is not None:
                self._loaded_stamp = _stamp(self.folder)
        if self._on_change is not None:
            try:
                self._on_change()
            except Exception:  # noqa: BLE001 - this process has the change; the others catch up at their next reload
                _log.exception("qa-service: could not tell the other processes about the change")
        return result

    def reload_in_background(self) -> threading.Thread:
        """:meth:`reload` on a thread (SIGHUP, and loading while the port is already open); a
        failure is the one log line."""

        def run() -> None:
            try:
                self.reload()
            except ReloadFailed:
                pass

        thread = threading.Thread(target=run, name="qa-service-reload", daemon=True)
        thread.start()
        return thread
