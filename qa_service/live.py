"""The pipeline a running server answers with, and reloading it without downtime.

A request takes the pipeline once (:meth:`PipelineHolder.current`) and uses it to the end; a
reload builds the new one aside, from the corpus folder on disk with the same settings, and
swaps it in with one assignment. Until a first pipeline is in place the holder is loading:
``current()`` raises :class:`Loading` (503 with Retry-After).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .config import Settings
from .errors import Loading, QAError, ReloadFailed
from .pipeline import Pipeline, build_pipeline

__all__ = ["PipelineHolder", "RETRY_AFTER_SECONDS", "builder"]

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


class PipelineHolder:
    """The live pipeline; swapped whole, never changed in place."""

    def __init__(self, pipeline: Pipeline | None = None, build: Callable[[], Pipeline] | None = None,
                 source: str = "the corpus folder") -> None:
        self._pipeline = pipeline
        self._build = build  # None: this holder cannot reload (an app built around a given pipeline)
        self._source = source  # named in the log lines
        self._reloading = threading.Lock()  # one build at a time

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
            took = time.perf_counter() - started
            verb = "reloaded" if old is not None else "loaded"
            _log.info("qa-service: %s %s from %s in %.1f s", verb, _counts(pipeline), self._source, took)
            return pipeline

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
