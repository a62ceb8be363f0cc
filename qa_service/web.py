"""The web layer: routes, security headers, and the one error handler.

No answering logic and no request rules live here: requests are parsed and answers are
written by :mod:`qa_service.contract`, and answered by :meth:`Pipeline.answer`.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from . import contract
from .config import Settings
from .errors import BadRequest, NotFound, QAError, UnsupportedMedia
from .pipeline import Pipeline, build_pipeline

__all__ = ["create_app"]

_log = logging.getLogger(__name__)
_access = logging.getLogger("qa_service.access")

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
# Flask's own errors under /api/, as our codes.
_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
               415: "unsupported_media_type"}
EXAMPLES = 4


def _json(status: int, body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _bounded_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        number = int(raw.strip())
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise BadRequest(f"'{name}' must be a whole number from {low} to {high}", code="invalid_field")
    return number


def _ask_request() -> contract.AskRequest:
    """The ask request of a GET query string or a POST JSON body."""
    if request.method in ("GET", "HEAD"):
        return contract.parse_ask_query({name: request.args.getlist(name) for name in request.args})
    if not request.is_json:
        raise UnsupportedMedia("send the question as JSON (Content-Type: application/json)")
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # json.loads on very deep nesting
        body = None
    return contract.parse_ask_body(body)


# ---------------------------------------------------------------- the app


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def create_app(pipeline: Pipeline | None = None, settings: Settings | None = None) -> Flask:
    """The Flask app around a pipeline (built from ``settings`` when not given)."""
    if pipeline is None:
        pipeline = build_pipeline(settings or Settings())
        pipeline.warm_up()
    corpus = pipeline.corpus
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=contract.MAX_BODY_BYTES)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # "/api//health" is a 404, not a redirect whose address is built from the Host header.
    app.url_map.merge_slashes = False
    app.extensions["qa_pipeline"] = pipeline
    spec = contract.openapi()

    @app.get("/")
    def index() -> str:
        docs = [{"id": d.id, "title": d.title} for d in corpus.documents]
        title = docs[0]["title"] if len(docs) == 1 else f"{len(docs)} documents"
        return render_template("index.html", title=title, documents=docs, examples=pipeline.starting_points(EXAMPLES))

    @app.route("/api/ask", methods=["GET", "POST"])
    def ask() -> Response:
        asked = _ask_request()
        return jsonify(contract.answer_to_json(pipeline.answer(asked.question, asked.history, asked.top_k)))

    @app.get("/api/health")
    def health() -> Response:
        return jsonify({"status": "ok", "documents": len(corpus.documents), "passages": len(corpus.passages),
                        "semantic": pipeline.semantic})

    @app.get("/api/openapi.json")
    def openapi() -> Response:
        return jsonify(spec)

    @app.get("/api/documents")
    def documents() -> Response:
        counts: dict[str, int] = {}
        for p in corpus.passages:
            counts[p.document] = counts.get(p.document, 0) + 1
        return jsonify({"documents": [
            {"id": d.id, "title": d.title, "source": d.source, "passages": counts.get(d.id, 0),
             "characters": len(d.text)}
            for d in corpus.documents
        ]})

    @app.get("/api/passages")
    def passages() -> Response:
        offset = _bounded_int("offset", 0, 0, contract.MAX_OFFSET)
        limit = _bounded_int("limit", 100, 1, 1000)
        page = corpus.passages[offset : offset + limit]
        return jsonify({"total": len(corpus.passages), "offset": offset,
                        "passages": [contract.passage_record(p) for p in page]})

    @app.get("/api/passages/<path:passage_id>")
    def passage(passage_id: str) -> Response:
        p = pipeline.index.passage(passage_id)
        if p is None:
            raise NotFound(f"no passage with id {passage_id!r}")
        return jsonify(contract.passage_record(p))

    @app.get("/api/documents/<path:document_id>")
    def document(document_id: str) -> Response:
        current = pipeline.corpus
        doc = current.document(document_id)
        if doc is None:
            raise NotFound(f"no document with id {document_id!r}")
        return jsonify(contract.document_record(doc, [p for p in current.passages if p.document == doc.id]))

    @app.post("/api/explain")
    def explain() -> Response:
        if not request.is_json:
            raise UnsupportedMedia("send the question as JSON (Content-Type: application/json)")
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            body = None
        asked, passage_id = contract.parse_explain_body(body)
        query, rows = pipeline.explain(asked.question, asked.history, passage_id)
        return jsonify(contract.explanation(asked.question, passage_id, query.follow_up, rows))

    @app.errorhandler(QAError)
    def qa_error(error: QAError) -> Response:
        if error.status >= 500:
            _log.error("%s on %s: %s", type(error).__name__, request.path, error.message)
        return _json(*contract.error_of(error))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | HTTPException:
        if not _is_api(request.path):
            return error
        status = error.code or 500
        messages = {
            404: f"no API endpoint at {request.path}",
            405: f"{request.method} is not allowed here",
            413: f"the request body is larger than {contract.MAX_BODY_BYTES // 1024} KiB",
        }
        response = _json(status, contract.error_body(_HTTP_CODES.get(status, "http_error"),
                                                     messages.get(status, error.description or "request failed")))
        if status == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        _log.exception("unexpected error on %s", request.path)
        return _json(500, contract.error_body("internal_error", "something went wrong on our side"))

    @app.before_request
    def start() -> None:
        g.started = time.perf_counter()
        g.request_id = secrets.token_hex(6)

    @app.before_request
    def options() -> Response | None:
        """OPTIONS under /api/ says which methods a route takes, as JSON like every other answer."""
        if request.method != "OPTIONS" or not _is_api(request.path):
            return None
        try:
            methods = sorted(app.url_map.bind("localhost").allowed_methods(request.path))
        except HTTPException:
            methods = []
        if not methods:
            return _json(404, contract.error_body("not_found", f"no API endpoint at {request.path}"))
        response = _json(200, {"methods": methods})
        response.headers["Allow"] = ", ".join(methods)
        return response

    @app.after_request
    def headers(response: Response) -> Response:
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        request_id = g.get("request_id", "-")
        response.headers["X-Request-Id"] = request_id
        took = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        # one line a request: never the query string, so never the question
        _access.info("%s %s %d %.1fms id=%s", request.method, request.path[:200], response.status_code, took,
                     request_id)
        if _is_api(request.path):
            response.headers["Cache-Control"] = "no-store"
        return response

    return app
