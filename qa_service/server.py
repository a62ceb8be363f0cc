"""The waitress server around the app, with the three things waitress does not do for us.

- Requests waitress refuses itself (a body over the limit, a bad Content-Length, oversized
  headers) get the API's JSON error body instead of waitress's text/plain page.
- A refused body (declared or chunked) is read and dropped (up to :data:`DRAIN_BYTES`), never
  stored, so a client still sending it gets the 413 instead of a connection reset; a client that
  sent ``Expect: 100-continue`` gets the 413 at once instead of a "100 Continue".
- One worker thread is kept for requests that answer at once (health, documents, passages,
  the page): questions use at most ``threads`` workers, so ``/api/health`` never queues
  behind expensive questions.

These hook into waitress's channel, parser and dispatcher classes (waitress 3.x).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from typing import Any, Callable, Iterator

import waitress
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress import wasyncore
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher
from waitress.utilities import RequestEntityTooLarge

from . import contract
from .errors import BadRequest, PayloadTooLarge

__all__ = ["DRAIN_BYTES", "QUESTION_PATHS", "create_server", "drain"]

_access = logging.getLogger("qa_service.access")

# A refused body up to this size is read and dropped so the client sees the 413; beyond it the
# connection is closed after the answer (a client still sending may see a reset).
DRAIN_BYTES = 64 * 1024 * 1024
# Requests that may take real work; every other request is answered by the reserved worker too.
QUESTION_PATHS = frozenset({"/api/ask", "/api/admin/reload"})
DOCUMENT_PATHS = "/api/documents"  # adding and removing documents is real work too (not reading them)

_CODES = {400: BadRequest.code, 413: PayloadTooLarge.code, 431: "header_fields_too_large", 500: "internal_error",
          501: "not_implemented"}


def _message(status: int, detail: str, limit: int) -> str:
    if status == 413:
        return contract.too_large_message(limit)
    if status == 400:
        return f"the request is not valid HTTP ({detail.strip().rstrip('.')})"
    if status == 431:
        return "the request's headers are too large"
    if status == 501:
        return "Transfer-Encoding other than chunked is not supported"
    return "something went wrong on our side"


class _JsonErrorTask(ErrorTask):
    """Waitress's own refusals, as the API's JSON error body (for every path: it cannot route yet)."""

    def execute(self) -> None:
        error = self.request.error
        status = int(error.code)
        limit = self.channel.server.adj.max_request_body_size - 1
        body = json.dumps(contract.error_body(_CODES.get(status, "bad_request"), _message(status, str(error.body), limit)))
        data = body.encode("utf-8")
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend([("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                                      ("X-Content-Type-Options", "nosniff")])
        self.set_close_on_finish()
        self.content_length = len(data)
        self.write(data)
        _access.info("%s %s %d refused by the server", getattr(self.request, "command", "-") or "-",
                     (getattr(self.request, "path", "-") or "-")[:200], status)


class _Discard:
    """A body buffer that keeps nothing: a refused chunked body is parsed to its end, not stored."""

    def append(self, data: bytes) -> None:
        pass

    def __len__(self) -> int:
        return 0


class _DrainingParser(HTTPRequestParser):
    """A request whose body is too large is complete only once that body has been read and dropped."""

    _left = 0  # bytes of a refused body still to drop (declared by Content-Length)
    _chunked_drop = -1  # bytes a refused chunked body may still be read for; -1: not dropping one

    def received(self, data: bytes) -> int:
        if self._left:
            taken = min(len(data), self._left)
            self._left -= taken
            self.completed = self._left == 0
            return taken
        if self._chunked_drop >= 0:
            body = self.body_rcv
            taken = body.received(data)
            self._chunked_drop -= taken
            self.completed = bool(body.completed or body.error or self._chunked_drop < 0 or not taken)
            return taken or len(data)
        consumed = super().received(data)
        if self.completed and isinstance(self.error, RequestEntityTooLarge):
            if self.chunked:
                if not self.body_rcv.completed:  # past the limit mid-body: read the rest of it, keep none
                    self.body_rcv.buf = _Discard()
                    self._chunked_drop = DRAIN_BYTES
                    self.completed = False
            elif self.expect_continue:  # the client waits before sending the body: no "100 Continue", the 413 now
                self.expect_continue = False
            elif 0 < self.content_length <= DRAIN_BYTES:
                # headers said too much: answer after reading the body, not while the client still sends it
                self._left = self.content_length
                self.completed = False
        return consumed


class _Channel(HTTPChannel):
    parser_class = _DrainingParser
    error_task_class = _JsonErrorTask

    def readable(self) -> bool:
        """While the server drains (:func:`drain`), no new request is read: a connection with none in
        progress and nothing left to send is closed; one with an answer in progress is closed once it is sent."""
        if getattr(self.server, "draining", False):
            if not self.requests and not self.total_outbufs_len:
                self.will_close = True  # writable() now says so, and handle_write closes it
            return False
        return super().readable()


def _channels(server: Any) -> list[HTTPChannel]:
    mapping = getattr(server, "map", None) or getattr(server, "_map", {})
    return [c for c in list(mapping.values()) if isinstance(c, HTTPChannel)]


def drain(server: Any, done: Callable[[], None], timeout: float = 30.0) -> threading.Thread:
    """Stop gracefully (SIGTERM): the listening sockets close at once, so new connections go
    elsewhere (another process behind nginx); no new request is read; answers in progress are
    finished and sent. ``done()`` is called when no connection is left, or after ``timeout``."""
    listeners = list(_servers(server))
    for listener in listeners:
        listener.draining = True
        listener.accepting = False  # not polled for new connections from the next turn of the loop

    def close_listeners() -> None:  # run by the loop itself, between two polls (never under its select)
        for listener in listeners:
            wasyncore.dispatcher.close(listener)  # the listening socket only: the loop's trigger stays

    listeners[0].trigger.pull_trigger(close_listeners)  # wakes the loop, which runs it

    def wait() -> None:
        deadline = time.monotonic() + timeout
        while _channels(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        done()

    watcher = threading.Thread(target=wait, name="qa-service-drain", daemon=True)
    watcher.start()
    return watcher


def _is_question(channel: Any) -> bool:
    requests = getattr(channel, "requests", None)
    request = requests[0] if requests else None
    if request is None or request.error:
        return False
    return request.path in QUESTION_PATHS or (request.path.startswith(DOCUMENT_PATHS)
                                                and request.command in ("POST", "DELETE"))


class _Dispatcher(ThreadedTaskDispatcher):
    """Questions take at most ``answering`` workers; the others stay free for what answers at once."""

    def __init__(self, answering: int) -> None:
        super().__init__()
        self.answering = answering
        self.questions: deque[Any] = deque()
        self.answering_now = 0

    def add_task(self, task: Any) -> None:
        with self.lock:
            (self.questions if _is_question(task) else self.queue).append(task)
            self.queue_cv.notify_all()

    def _ready(self) -> bool:
        return bool(self.queue) or (bool(self.questions) and self.answering_now < self.answering)

    def handler_thread(self, thread_no: int) -> None:
        while True:
            with self.lock:
                while not self._ready() and self.stop_count == 0:
                    self.active_count -= 1
                    self.queue_cv.wait()
                    self.active_count += 1
                if self.stop_count > 0:
                    self.active_count -= 1
                    self.stop_count -= 1
                    self.threads.discard(thread_no)
                    self.thread_exit_cv.notify()
                    break
                question = not self.queue
                task = self.questions.popleft() if question else self.queue.popleft()
                self.answering_now += question
            try:
                task.service()
            except BaseException:
                self.logger.exception("Exception when servicing %r", task)
            finally:
                if question:
                    with self.lock:
                        self.answering_now -= 1
                        self.queue_cv.notify_all()

    def shutdown(self, cancel_pending: bool = True, timeout: int = 5) -> bool:
        with self.lock:
            self.queue.extend(self.questions)
            self.questions.clear()
        return super().shutdown(cancel_pending, timeout)


def _servers(server: Any) -> Iterator[BaseWSGIServer]:
    if isinstance(server, BaseWSGIServer):
        yield server
    else:  # a MultiSocketServer: one listening server per address
        yield from (s for s in server.map.values() if isinstance(s, BaseWSGIServer))


def create_server(app: Any, *, host: str, port: int, threads: int, connection_limit: int,
                  channel_timeout: int, sockets: list[Any] | None = None,
                  max_body: int = contract.MAX_BODY_BYTES) -> Any:
    """A waitress server for ``app``: ``threads`` workers for questions plus one for the rest; on
    ``sockets`` already listening (``serve --workers``: every process accepts on the same one) when given.
    Bodies over ``max_body`` are refused here; the app holds each route to its own limit under it."""
    dispatcher = _Dispatcher(answering=threads)
    dispatcher.set_thread_count(threads + 1)
    where: dict[str, Any] = {"sockets": sockets} if sockets else {"host": host, "port": port}
    try:
        server = waitress.create_server(
            app, **where, threads=threads + 1, _dispatcher=dispatcher,
            max_request_body_size=max_body + 1,  # waitress refuses from this size on
            connection_limit=connection_limit, channel_timeout=channel_timeout,
            cleanup_interval=max(1, channel_timeout // 2))  # idle connections are swept this often
    except BaseException:
        dispatcher.shutdown()
        raise
    for listener in _servers(server):
        listener.channel_class = _Channel
    return server

