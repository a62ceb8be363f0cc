"""The web layer: routes, security headers, and the one error handler.

No answering logic and no request rules live here: requests are parsed and answers are
written by :mod:`qa_service.contract`, and answered by :meth:`Pipeline.answer`.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from . import contract
from .config import Settings
from .errors import BadRequest, Forbidden, Loading, NotFound, PayloadTooLarge, QAError, UnsupportedMedia
from .limits import ApiKey, RateLimiter
from .live import RETRY_AFTER_SECONDS, PipelineHolder, builder
from .pipeline import Pipeline
from .store import Upload, add_documents, remove_documents

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
    return contract.parse_ask_body(contract.decode_json(request.get_data(cache=False)))


# ---------------------------------------------------------------- the app


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def _is_loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def _same_origin() -> bool:
    """Whether a browser request comes from this server's own page (a program sends no Origin):
    another site's form may not add documents to a server on this machine."""
    origin = request.headers.get("Origin")
    if origin is None:
        return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == request.host.lower()


def _uploads(settings: Settings) -> list[Upload]:
    """The files of a multipart upload, each read up to the limit, or an error naming what is wrong."""
    max_file = settings.upload_max_mb * 1024 * 1024
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMedia("send the files as multipart/form-data, each in a field named 'files'")
    request.max_content_length = settings.upload_max_files * (max_file + 64 * 1024)
    files = [f for name in request.files for f in request.files.getlist(name)]
    try:
        if not files:
            raise BadRequest("no files in the request (send them as multipart/form-data, field 'files')")
        if len(files) > settings.upload_max_files:
            raise PayloadTooLarge(f"{len(files)} files in one upload; at most {settings.upload_max_files}")
        uploads = []
        for storage in files:
            data = storage.stream.read(max_file + 1)
            name = storage.filename or storage.name or "upload"
            if len(data) > max_file:
                raise PayloadTooLarge(f"{name}: larger than {settings.upload_max_mb} MiB")
            uploads.append(Upload(name, data))
        return uploads
    finally:  # the parts werkzeug spooled to temporary files
        for storage in files:
            storage.close()


def _holder(pipeline: Pipeline | PipelineHolder | None, settings: Settings | None) -> PipelineHolder:
    if isinstance(pipeline, PipelineHolder):
        return pipeline
    if pipeline is not None:
        return PipelineHolder(pipeline)
    settings = settings or Settings()
    holder = PipelineHolder(build=builder(settings), source=str(settings.corpus_dir), folder=settings.corpus_dir)
    holder.swap(builder(settings)())
    return holder


def create_app(pipeline: Pipeline | PipelineHolder | None = None, settings: Settings | None = None) -> Flask:
    """The Flask app around a pipeline, or a holder whose pipeline may be reloaded or still loading
    (built from ``settings`` when neither is given). ``settings`` also gives the API key and the rate limit."""
    live = _holder(pipeline, settings)
    settings = settings or Settings()
    api_key = ApiKey(settings.api_key) if settings.api_key else None
    limiter = RateLimiter(settings.rate_limit) if settings.rate_limit else None
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=contract.MAX_BODY_BYTES)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # "/api//health" is a 404, not a redirect whose address is built from the Host header.
    app.url_map.merge_slashes = False
    app.extensions["qa_pipeline"] = live
    spec = contract.openapi()

    @app.get("/")
    def index() -> str:
        corpus = live.current().corpus
        docs = [{"id": d.id, "title": d.title} for d in corpus.documents]
        title = docs[0]["title"] if len(docs) == 1 else f"{len(docs)} documents"
        # the page offers "Add documents" only when the server takes them, within its limits
        limits = ({"max_files": settings.upload_max_files, "max_mb": settings.upload_max_mb}
                  if settings.allow_uploads else None)
        return render_template("index.html", title=title, documents=docs, uploads=limits,
                               examples=live.current().starting_points(EXAMPLES))

    @app.route("/api/ask", methods=["GET", "POST"])
    def ask() -> Response:
        asked = _ask_request()
        pipeline = live.current()
        return jsonify(contract.answer_to_json(pipeline.answer(asked.question, asked.history, asked.top_k)))

    @app.get("/api/health")
    def health() -> Response:
        if not live.ready:
            response = _json(503, {"status": "loading"})
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        pipeline = live.current()
        return jsonify({"status": "ok", "documents": len(pipeline.corpus.documents),
                        "passages": len(pipeline.corpus.passages), "semantic": pipeline.semantic,
                        "extractive": pipeline.extractive})

    @app.get("/api/openapi.json")
    def openapi() -> Response:
        return jsonify(spec)

    uploads = {"enabled": settings.allow_uploads, "max_files": settings.upload_max_files,
               "max_bytes": settings.upload_max_mb * 1024 * 1024,
               "types": ["pdf", "docx", "html", "markdown", "text"]}

    def writable() -> None:
        if not settings.allow_uploads:
            raise Forbidden("adding and removing documents is off; start the server with --allow-uploads")
        if not _same_origin():
            raise Forbidden("documents can only be changed from this server's own page or by a program, "
                            "not from another site")

    @app.get("/api/documents")
    def documents() -> Response:
        corpus = live.current().corpus
        counts: dict[str, int] = {}
        for p in corpus.passages:
            counts[p.document] = counts.get(p.document, 0) + 1
        return jsonify({"documents": [contract.document_summary(d, counts.get(d.id, 0)) for d in corpus.documents],
                        "uploads": uploads})

    @app.post("/api/documents")
    def add() -> Response:
        writable()
        files = _uploads(settings)
        change = live.change(lambda pipeline: add_documents(pipeline, files, live.folder, settings))
        corpus = change.pipeline.corpus
        body = contract.documents_added(change.added, change.passages, len(corpus.documents),
                                        len(corpus.passages), change.took_ms)
        return _json(201, body)

    @app.delete("/api/documents/<path:document_id>")
    def remove(document_id: str) -> Response:
        writable()
        change = live.change(lambda pipeline: remove_documents(pipeline, [document_id], live.folder, settings))
        corpus = change.pipeline.corpus
        return jsonify(contract.document_removed(change.removed[0], len(corpus.documents), len(corpus.passages),
                                                 change.took_ms))

    @app.get("/api/passages")
    def passages() -> Response:
        offset = _bounded_int("offset", 0, 0, contract.MAX_OFFSET)
        limit = _bounded_int("limit", 100, 1, 1000)
        corpus = live.current().corpus
        page = corpus.passages[offset : offset + limit]
        return jsonify({"total": len(corpus.passages), "offset": offset,
                        "passages": [contract.passage_record(p) for p in page]})

    @app.get("/api/passages/<path:passage_id>")
    def passage(passage_id: str) -> Response:
        p = live.current().index.passage(passage_id)
        if p is None:
            raise NotFound(f"no passage with id {passage_id!r}")
        return jsonify(contract.passage_record(p))

    @app.get("/api/documents/<path:document_id>")
    def document(document_id: str) -> Response:
        current = live.current().corpus
        doc = current.document(document_id)
        if doc is None:
            raise NotFound(f"no document with id {document_id!r}")
        return jsonify(contract.document_record(doc, [p for p in current.passages if p.document == doc.id]))

    @app.post("/api/explain")
    def explain() -> Response:
        if not request.is_json:
            raise UnsupportedMedia("send the question as JSON (Content-Type: application/json)")
        asked, passage_id = contract.parse_explain_body(contract.decode_json(request.get_data(cache=False)))
        query, rows = live.current().explain(asked.question, asked.history, passage_id)
        return jsonify(contract.explanation(asked.question, passage_id, query.follow_up, rows))

    @app.post("/api/admin/reload")
    def reload() -> Response:
        """Builds the corpus on disk aside and swaps it in; loopback clients only."""
        if not _is_loopback(request.remote_addr):
            raise Forbidden("reload is only answered to clients on this machine (loopback)")
        started = time.perf_counter()
        pipeline = live.reload()
        return jsonify({"status": "reloaded", "documents": len(pipeline.corpus.documents),
                        "passages": len(pipeline.corpus.passages),
                        "took_ms": round((time.perf_counter() - started) * 1000, 1)})

    @app.errorhandler(QAError)
    def qa_error(error: QAError) -> Response:
        if error.status >= 500 and not isinstance(error, Loading):
            _log.error("%s on %s: %s", type(error).__name__, request.path, error.message)
        response = _json(*contract.error_of(error))
        response.headers.update(error.headers)
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | HTTPException:
        if not _is_api(request.path):
            return error
        status = error.code or 500
        messages = {
            404: f"no API endpoint at {request.path}",
            405: f"{request.method} is not allowed here",
            413: (f"the upload is larger than {settings.upload_max_files} files of {settings.upload_max_mb} MiB"
                  if request.path == "/api/documents" and request.method == "POST" else contract.too_large_message()),
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
    def guard() -> None:
        """The rate limit, then the API key, for every /api/ route but health (both off unless set)."""
        if not _is_api(request.path) or request.path == "/api/health":
            return
        if limiter is not None:
            limiter.check(request.remote_addr or "-")
        if api_key is not None:
            api_key.check(request.headers.get("Authorization"), request.headers.get("X-API-Key"))

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
