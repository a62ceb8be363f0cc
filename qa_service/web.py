"""The web layer: routes, request checking, one JSON error shape, security headers.

No retrieval logic lives here: every answer comes from :meth:`Engine.ask`.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from .answer import Answer, Engine, PassageResult
from .config import Settings
from .ingest import Passage
from .text import clean_question

__all__ = ["ApiError", "answer_json", "create_app"]

MAX_BODY_BYTES = 64 * 1024
MAX_QUESTION_CHARS = 1000
MAX_HISTORY = 50
_log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
_STATUS_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
                 415: "unsupported_media_type", 500: "internal_error"}


class ApiError(Exception):
    """An error a client caused or should know about; becomes ``{"error": {...}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> Response:
    """The one error body of the API."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def _passage_json(result: PassageResult) -> dict[str, Any]:
    p = result.hit.passage
    return {
        "id": p.id,
        "document": p.document,
        "document_title": result.document_title,
        "text": p.text,
        "score": _number(result.hit.score),
        "bm25": _number(result.hit.bm25 if result.hit.bm25 is not None else result.hit.score),
        "rank": result.hit.rank,
        "highlights": [[s.start, s.end] for s in result.highlights],
        "matched_terms": sorted(result.hit.matched),
    }


def _number(value: float) -> float:
    return round(value, 4) if math.isfinite(value) else 0.0


def answer_json(answer: Answer) -> dict[str, Any]:
    """An :class:`Answer` as the API's JSON body (the contract in the README)."""
    short = answer.answer
    return {
        "question": answer.question,
        "answer": None if short is None else {
            "text": short.text, "passage_id": short.passage_id, "score": _number(short.score),
            "start": short.start, "end": short.end,
        },
        "message": answer.message,
        "passages": [_passage_json(r) for r in answer.passages],
        "follow_up": answer.follow_up,
        "context": list(answer.context),
        "missing_words": list(answer.missing),
        "took_ms": round(answer.took_ms, 3),
    }


# ---------------------------------------------------------------- request checking


def _question(value: Any, field: str = "question") -> str:
    if not isinstance(value, str):
        raise ApiError(400, "invalid_field", f"'{field}' must be a string")
    question = clean_question(value)
    if not question:
        raise ApiError(400, "invalid_field", f"'{field}' must not be empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise ApiError(400, "invalid_field", f"'{field}' must be at most {MAX_QUESTION_CHARS} characters")
    return question


def _passage_record(p: Passage) -> dict[str, Any]:
    return {"id": p.id, "document": p.document, "index": p.index, "start": p.start, "end": p.end, "text": p.text}


def _bounded_int(value: str, name: str, low: int, high: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise ApiError(400, "invalid_field", f"'{name}' must be a whole number from {low} to {high}")
    return number


def _top_k(value: Any) -> int:
    if isinstance(value, str):
        return _bounded_int(value, "top_k", 1, 20)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20:
        raise ApiError(400, "invalid_field", "'top_k' must be a whole number from 1 to 20")
    return value


def _history(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ApiError(400, "invalid_field", "'history' must be a list of strings")
    if len(value) > MAX_HISTORY:
        raise ApiError(400, "invalid_field", f"'history' may hold at most {MAX_HISTORY} questions")
    return [_question(item, "history[]") for item in value]


def _ask_request(settings: Settings) -> tuple[str, int, list[str]]:
    """(question, top_k, history) from a GET query string or a POST JSON body."""
    if request.method == "GET":
        args = request.args
        if "q" not in args and "question" not in args:
            raise ApiError(400, "missing_field", "add the question as ?q=...")
        question = _question(args.get("q", args.get("question")))
        top_k = _top_k(args["top_k"]) if "top_k" in args else settings.top_k
        return question, top_k, [_question(h, "history") for h in args.getlist("history")][:MAX_HISTORY]
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the question as JSON (Content-Type: application/json)")
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # json.loads on very deep nesting
        body = None
    if body is None:
        raise ApiError(400, "invalid_json", "the request body is not valid JSON")
    if not isinstance(body, Mapping):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    if "question" not in body:
        raise ApiError(400, "missing_field", "'question' is required")
    question = _question(body["question"])
    top_k = _top_k(body["top_k"]) if body.get("top_k") is not None else settings.top_k
    history = _history(body["history"]) if body.get("history") is not None else []
    return question, top_k, history


# ---------------------------------------------------------------- the app


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def create_app(engine: Engine | None = None, settings: Settings | None = None) -> Flask:
    """The Flask app around an engine (built from ``settings`` when not given)."""
    if engine is None:
        engine = Engine.from_settings(settings or Settings())
    settings = engine.settings
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["qa_engine"] = engine
    examples = engine.examples()

    @app.get("/")
    def index() -> str:
        docs = [{"id": d.id, "title": d.title} for d in engine.corpus.documents]
        title = docs[0]["title"] if len(docs) == 1 else f"{len(docs)} documents"
        return render_template("index.html", title=title, documents=docs, examples=examples)

    @app.route("/api/ask", methods=["GET", "POST"])
    def ask() -> Response:
        question, top_k, history = _ask_request(settings)
        return jsonify(answer_json(engine.ask(question, history=history, top_k=top_k)))

    @app.get("/api/health")
    def health() -> Response:
        return jsonify({"status": "ok", "documents": len(engine.corpus.documents),
                        "passages": len(engine.corpus.passages)})

    @app.get("/api/documents")
    def documents() -> Response:
        counts: dict[str, int] = {}
        for p in engine.corpus.passages:
            counts[p.document] = counts.get(p.document, 0) + 1
        return jsonify({"documents": [
            {"id": d.id, "title": d.title, "source": d.source, "passages": counts.get(d.id, 0),
             "characters": len(d.text)}
            for d in engine.corpus.documents
        ]})

    @app.get("/api/passages")
    def passages() -> Response:
        offset = _bounded_int(request.args.get("offset", "0"), "offset", 0, len(engine.corpus.passages))
        limit = _bounded_int(request.args.get("limit", "100"), "limit", 1, 1000)
        page = engine.corpus.passages[offset : offset + limit]
        return jsonify({"total": len(engine.corpus.passages), "offset": offset,
                        "passages": [_passage_record(p) for p in page]})

    @app.get("/api/passages/<path:passage_id>")
    def passage(passage_id: str) -> Response:
        p = engine.index.passage(passage_id)
        if p is None:
            raise ApiError(404, "not_found", f"no passage with id {passage_id!r}")
        return jsonify(_passage_record(p))

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return error_response(error.status, error.code, error.message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | HTTPException:
        if not _is_api(request.path):
            return error
        status = error.code or 500
        messages = {
            404: f"no API endpoint at {request.path}",
            405: f"{request.method} is not allowed here",
            413: f"the request body is larger than {MAX_BODY_BYTES // 1024} KiB",
        }
        response = error_response(status, _STATUS_CODES.get(status, "http_error"),
                                  messages.get(status, error.description or "request failed"))
        if status == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        _log.exception("unexpected error on %s", request.path)
        return error_response(500, "internal_error", "something went wrong on our side")

    @app.after_request
    def headers(response: Response) -> Response:
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if _is_api(request.path):
            response.headers["Cache-Control"] = "no-store"
        return response

    return app
