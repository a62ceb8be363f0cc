"""The wire contract, without Flask: what an ask request may hold, an answer and an error as
JSON, JSON back into an answer, and the OpenAPI description, all from the same definitions.

The web app, the CLI's ``--json`` and ``eval --url`` use these and nothing else.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .errors import BadRequest, QAError
from .text import clean_question
from .smalltalk import INTENTS
from .spans import ANSWER_TYPES
from .values import (Abstention, Answer, AnswerSentence, AnswerSpan, Document, Exchange, Hit, Passage, PassageResult,
                     Span)

__all__ = [
    "AskRequest",
    "MAX_ANSWER_CHARS",
    "MAX_BODY_BYTES",
    "MAX_HISTORY",
    "MAX_QUESTION_CHARS",
    "TOP_K_MAX",
    "answer_from_json",
    "answer_to_json",
    "document_record",
    "document_removed",
    "document_summary",
    "documents_added",
    "explanation",
    "decode_json",
    "error_body",
    "openapi",
    "parse_ask_body",
    "parse_explain_body",
    "parse_ask_query",
    "passage_record",
    "render_message",
    "too_large_message",
]

MAX_BODY_BYTES = 64 * 1024
MAX_QUESTION_CHARS = 1000
MAX_ANSWER_CHARS = 4000  # an earlier answer sent back in an exchange: one sentence, possibly long
MAX_HISTORY = 50
TOP_K_MIN, TOP_K_MAX = 1, 20
MAX_OFFSET = 2**31 - 1  # /api/passages: an offset past the end gives an empty page


@dataclass(frozen=True)
class AskRequest:
    """An ask request, checked and cleaned: the question, how many passages, the conversation."""

    question: str
    top_k: int | None
    history: tuple[Exchange, ...] = ()


# ---------------------------------------------------------------- requests


def _text(value: Any, field: str, limit: int = MAX_QUESTION_CHARS) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"'{field}' must be a string", code="invalid_field")
    text = clean_question(value)
    if not text:
        raise BadRequest(f"'{field}' must not be empty", code="invalid_field")
    if len(text) > limit:
        raise BadRequest(f"'{field}' must be at most {limit} characters", code="invalid_field")
    return text


def _integral(value: Any) -> Any:
    """4.0 as 4: JSON Schema counts it as an integer, so the published contract accepts it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _top_k(value: Any, from_query_string: bool = False) -> int:
    """A JSON body's ``top_k`` is a JSON integer; a query string's is ASCII digits and nothing else
    ("1_0", " 3 " and "٣" are refused, though Python's int() takes them)."""
    if from_query_string and isinstance(value, str):
        value = int(value) if re.fullmatch(r"[0-9]{1,4}", value) else None
    value = _integral(value)
    if isinstance(value, bool) or not isinstance(value, int) or not TOP_K_MIN <= value <= TOP_K_MAX:
        raise BadRequest(f"'top_k' must be a whole number from {TOP_K_MIN} to {TOP_K_MAX}", code="invalid_field")
    return value


def _quote(value: Any, field: str) -> str:
    """An earlier answer, kept as sent (it is a quote: its spacing locates it in its passage)."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"'{field}' must be a non-empty string", code="invalid_field")
    if len(value) > MAX_ANSWER_CHARS:
        raise BadRequest(f"'{field}' must be at most {MAX_ANSWER_CHARS} characters", code="invalid_field")
    return value


def _exchange(item: Any) -> Exchange:
    """A history item: an earlier question, or ``{"question", "answer"}`` where the answer is
    null (abstained), its text, or the answer object the API returned."""
    if isinstance(item, str):
        return Exchange(_text(item, "history[]"))
    if not isinstance(item, Mapping):
        raise BadRequest("'history' items must be strings or {\"question\", \"answer\"} objects", code="invalid_field")
    question = _text(item.get("question"), "history[].question")
    answer = item.get("answer")
    if answer is None:
        return Exchange(question, None, answered=True)
    if isinstance(answer, str):
        return Exchange(question, _quote(answer, "history[].answer"), answered=True)
    if not isinstance(answer, Mapping):
        raise BadRequest("'history[].answer' must be null, a string or an answer object", code="invalid_field")
    text = _quote(answer.get("text"), "history[].answer.text")
    passage_id, start = answer.get("passage_id"), _integral(answer.get("start"))
    if passage_id is not None and (not isinstance(passage_id, str) or len(passage_id) > MAX_QUESTION_CHARS):
        raise BadRequest("'history[].answer.passage_id' must be a string", code="invalid_field")
    if start is not None and (isinstance(start, bool) or not isinstance(start, int) or start < 0):
        raise BadRequest("'history[].answer.start' must be a whole number of at least 0", code="invalid_field")
    located = passage_id is not None and start is not None
    return Exchange(question, text, passage_id if located else None, start if located else None, answered=True)


def _history(items: Sequence[Any]) -> tuple[Exchange, ...]:
    if len(items) > MAX_HISTORY:
        raise BadRequest(f"'history' may hold at most {MAX_HISTORY} items", code="invalid_field")
    return tuple(_exchange(item) for item in items)


# Python refuses to turn more digits than this into an int; such a number is out of every range we take.
_MAX_INT_DIGITS = 4000


def _json_int(digits: str) -> int | float:
    if len(digits) > _MAX_INT_DIGITS:
        return -math.inf if digits.startswith("-") else math.inf
    return int(digits)


def decode_json(raw: bytes) -> Any:
    """A request body as JSON, or None when it is not JSON; a number too long for Python's int()
    becomes an infinity, so the field it is in is reported as out of range, not the body as invalid."""
    try:
        return json.loads(raw, parse_int=_json_int)
    except (ValueError, RecursionError):  # RecursionError: very deep nesting
        return None


def parse_ask_body(body: Any) -> AskRequest:
    """A POST body (already decoded from JSON; None when it was not valid JSON)."""
    if body is None:
        raise BadRequest("the request body is not valid JSON", code="invalid_json")
    if not isinstance(body, Mapping):
        raise BadRequest("the request body must be a JSON object", code="invalid_json")
    if "question" not in body:
        raise BadRequest("'question' is required", code="missing_field")
    question = _text(body["question"], "question")
    top_k = _top_k(body["top_k"]) if body.get("top_k") is not None else None
    history = body.get("history")
    if history is not None and not isinstance(history, list):
        raise BadRequest("'history' must be a list", code="invalid_field")
    return AskRequest(question, top_k, _history(history or []))


def parse_explain_body(body: Any) -> tuple[AskRequest, str]:
    """A POST /api/explain body: an ask body plus the ``passage_id`` to explain."""
    asked = parse_ask_body(body)
    passage_id = body.get("passage_id")
    if not isinstance(passage_id, str) or not passage_id or len(passage_id) > MAX_QUESTION_CHARS:
        raise BadRequest("'passage_id' must be a passage id (a non-empty string)", code="invalid_field")
    return asked, passage_id


def parse_ask_query(args: Mapping[str, Sequence[str]]) -> AskRequest:
    """A GET query string, as every value of each parameter: ``q`` (or ``question``),
    ``top_k`` and repeated ``history``; the same limits as a POST body."""
    questions = args.get("q") or args.get("question")
    if not questions:
        raise BadRequest("add the question as ?q=...", code="missing_field")
    top_k = args.get("top_k")
    return AskRequest(_text(questions[0], "question"), _top_k(top_k[0], from_query_string=True) if top_k else None,
                      _history(list(args.get("history") or [])))


# ---------------------------------------------------------------- answers


def _number(value: float) -> float:
    return round(value, 4) if math.isfinite(value) else 0.0


def passage_record(p: Passage) -> dict[str, Any]:
    """A passage as ``/api/passages`` lists it: offsets are in its document's cleaned text; ``page``
    (and ``last_page`` when it runs over) for documents with pages."""
    record: dict[str, Any] = {"id": p.id, "document": p.document, "index": p.index, "start": p.start, "end": p.end,
                              "text": p.text}
    page, last = getattr(p, "page", None), getattr(p, "last_page", None)
    if page is not None:
        record["page"] = page
        if last is not None and last != page:
            record["last_page"] = last
    return record


def document_summary(document: Document, passages: int) -> dict[str, Any]:
    """A document as ``/api/documents`` lists it."""
    return {"id": document.id, "title": document.title, "source": document.source,
            "kind": getattr(document, "kind", "text"), "pages": getattr(document, "pages", None),
            "passages": passages, "characters": len(document.text)}


def documents_added(documents: Sequence[Document], passages: Sequence[Passage], total_documents: int,
                    total_passages: int, took_ms: float) -> dict[str, Any]:
    """What ``POST /api/documents`` answers: each new document with its passages, and the corpus's new size."""
    return {"documents": [{**document_summary(d, sum(1 for p in passages if p.document == d.id)),
                           "passages": [passage_record(p) for p in passages if p.document == d.id]}
                          for d in documents],
            "corpus": {"documents": total_documents, "passages": total_passages}, "took_ms": _number(took_ms)}


def document_removed(document: Document, total_documents: int, total_passages: int, took_ms: float) -> dict[str, Any]:
    """What ``DELETE /api/documents/<id>`` answers."""
    return {"removed": {"id": document.id, "title": document.title, "source": document.source},
            "corpus": {"documents": total_documents, "passages": total_passages}, "took_ms": _number(took_ms)}


def _passage_json(result: PassageResult) -> dict[str, Any]:
    hit = result.hit
    return {
        **passage_record(hit.passage),
        "document_title": result.document_title,
        "score": _number(hit.score),
        "bm25": _number(hit.scores.get("bm25", hit.score)),
        "scores": {name: _number(value) for name, value in hit.scores.items()},
        "rank": hit.rank,
        "highlights": [[s.start, s.end] for s in result.highlights],
        "matched_terms": sorted(hit.matched),
    }


# A confidence from here up reads as "Answer"; below it, as "closest passage, may not answer this"
# (the decider's probability is calibrated: at 0.5 an answer is as likely right as wrong).
SURE = 0.5


def render_message(answer: Answer) -> str:
    """The one-sentence summary a person reads, rendered from the answer's data."""
    short, abstention = answer.answer, answer.abstention
    if answer.reply:
        return answer.reply
    if answer.intent == "overview":
        if short is None or not answer.passages:
            return "The document has no text to give an overview of."
        return f"How “{answer.passages[0].document_title}” begins: its opening sentences, passage {short.passage_id}."
    if short is not None:
        title = answer.passages[0].document_title if answer.passages else ""
        if answer.confidence is None:
            return f"Best answer from “{title}”, passage {short.passage_id}."
        if answer.confidence >= SURE:
            return f"Answer from “{title}”, passage {short.passage_id} (likely right: {answer.confidence:.0%})."
        return (f"Closest passage in “{title}” ({short.passage_id}); it may not answer this "
                f"(likely right: {answer.confidence:.0%}).")
    if abstention is None or abstention.reason == "no_terms":
        return "Your question has no words to search for. Ask about something in the document."
    if abstention.reason == "low_confidence":
        return "The document does not seem to answer this: no sentence found is likely to."
    if abstention.reason == "nothing_more":
        return "The document says nothing more on this than the answers already given."
    shown = ", ".join(f"“{w}”" for w in abstention.missing[:5])
    return "The document does not seem to answer this." + (f" It does not mention {shown}." if shown else "")


def answer_to_json(answer: Answer) -> dict[str, Any]:
    """An :class:`Answer` as the API's JSON body (the contract in the README)."""
    short, abstention = answer.answer, answer.abstention
    return {
        "question": answer.question,
        "answer": None if short is None else {
            "text": short.text, "passage_id": short.passage_id, "score": _number(short.score),
            "start": short.start, "end": short.end,
            "confidence": None if answer.confidence is None else _number(answer.confidence),
            "span": None if short.span is None else {
                "text": short.span.text, "start": short.span.start, "end": short.span.end, "type": short.span.type},
        },
        "answer_type": answer.answer_type,
        "confidence": None if answer.confidence is None else _number(answer.confidence),
        "abstention": None if abstention is None else {
            "reason": abstention.reason, "missing": list(abstention.missing),
            "coverage": None if abstention.coverage is None else _number(abstention.coverage),
        },
        "message": render_message(answer),
        "passages": [_passage_json(r) for r in answer.passages],
        "follow_up": answer.follow_up,
        "context": list(answer.context),
        "missing_words": list(answer.missing),
        "took_ms": round(answer.took_ms, 3),
        "intent": answer.intent,
    }


def answer_from_json(data: Any) -> Answer:
    """The API's JSON body back into an :class:`Answer` (``eval --url``); ValueError if it is
    not the API's shape."""
    try:
        passages = tuple(
            PassageResult(
                Hit(Passage(p["id"], p["document"], p["index"], p["start"], p["end"], p["text"]), -1,
                    float(p["score"]), int(p["rank"]), frozenset(p["matched_terms"]),
                    {k: float(v) for k, v in p.get("scores", {"bm25": p["bm25"]}).items()}),
                p["document_title"], tuple(Span(a, b) for a, b in p["highlights"]))
            for p in data["passages"])
        a, ab = data["answer"], data.get("abstention")
        return Answer(
            question=data["question"],
            answer=None if a is None else AnswerSentence(
                a["text"], a["passage_id"], float(a["score"]), a["start"], a["end"],
                None if a.get("span") is None else AnswerSpan(a["span"]["text"], a["span"]["start"],
                                                              a["span"]["end"], a["span"]["type"])),
            answer_type=data.get("answer_type", "other"),
            confidence=None if data.get("confidence") is None else float(data["confidence"]),
            abstention=None if ab is None else Abstention(ab["reason"], tuple(ab["missing"]), ab.get("coverage")),
            passages=passages, took_ms=float(data["took_ms"]), follow_up=bool(data["follow_up"]),
            context=tuple(data["context"]), missing=tuple(data["missing_words"]),
            intent=data.get("intent"),
            reply=data.get("message") if data.get("intent") in ("greeting", "thanks", "help") else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"not the API's answer shape ({exc!r})") from None


def document_record(document: Document, passages: Sequence[Passage]) -> dict[str, Any]:
    """A document as ``/api/documents/<id>`` gives it: its full cleaned text, and its passages
    as offsets into that text (``text[start:end]`` is the passage)."""
    return {"id": document.id, "title": document.title, "source": document.source, "text": document.text,
            "passages": [{"id": p.id, "index": p.index, "start": p.start, "end": p.end} for p in passages]}


def explanation(question: str, passage_id: str, follow_up: bool, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Why a passage matched: each searched term's part of its ``weighted`` score."""
    numbers = ("idf", "weight", "bm25", "contribution")
    terms = [{**row, **{n: _number(float(row[n])) for n in numbers}} for row in rows]
    return {"question": question, "passage_id": passage_id, "follow_up": follow_up, "terms": terms,
            "total": _number(sum(float(row["contribution"]) for row in rows))}


# ---------------------------------------------------------------- errors


def too_large_message(limit: int = MAX_BODY_BYTES) -> str:
    """What a body over the limit is told, by the app and by the server alike."""
    size = f"{limit // (1024 * 1024)} MiB" if limit >= 4 * 1024 * 1024 else f"{limit // 1024} KiB"
    return f"the request body is larger than {size}"


def error_body(code: str, message: str) -> dict[str, Any]:
    """The one error body of the API."""
    return {"error": {"code": code, "message": message}}


def error_of(error: QAError) -> tuple[int, dict[str, Any]]:
    """(status, body) for one of our errors."""
    return error.status, error_body(error.code, error.message)


# ---------------------------------------------------------------- OpenAPI


def openapi(title: str = "qa-service", version: str = "0.1.0") -> dict[str, Any]:
    """The OpenAPI 3.1 description of the API, from the limits above."""
    # at least one character that is neither white space nor a control character (those are removed)
    text = {"type": "string", "minLength": 1, "maxLength": MAX_QUESTION_CHARS,
            "pattern": "[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]"}
    span = {"type": "object", "required": ["text", "start", "end", "type"],
            "description": "the exact answer inside the sentence; offsets in the passage",
            "properties": {"text": {"type": "string"}, "start": {"type": "integer", "minimum": 0},
                           "end": {"type": "integer", "minimum": 0}, "type": {"enum": list(ANSWER_TYPES)}}}
    answer_object = {
        "type": "object", "required": ["text", "passage_id", "score", "start", "end"],
        "properties": {"text": {"type": "string"}, "passage_id": {"type": "string"}, "score": {"type": "number"},
                       "start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 0},
                       "span": {"oneOf": [{"type": "null"}, span]},
                       "confidence": {"type": ["number", "null"], "minimum": 0, "maximum": 1,
                                      "description": "probability that this answers the question (the trained "
                                                     "decider; null when it is off)"}},
    }
    quote = {"type": "string", "minLength": 1, "maxLength": MAX_ANSWER_CHARS, "pattern": "\\S"}
    sent_answer = {"type": "object", "required": ["text"], "description": "the answer object the API returned",
                   "properties": {"text": quote,
                                  "passage_id": {"type": ["string", "null"], "maxLength": MAX_QUESTION_CHARS},
                                  "start": {"type": ["integer", "null"], "minimum": 0}}}
    exchange = {
        "oneOf": [
            {**text, "description": "an earlier question; its answer is worked out again when needed"},
            {"type": "object", "required": ["question"], "properties": {
                "question": text,
                "answer": {"description": "the answer given then: null (none), its text, or the answer object",
                           "oneOf": [{"type": "null"}, quote, sent_answer]}}},
        ],
    }
    passage = {
        "type": "object", "required": ["id", "document", "index", "start", "end", "text"],
        "properties": {"id": {"type": "string"}, "document": {"type": "string"}, "index": {"type": "integer"},
                       "start": {"type": "integer"}, "end": {"type": "integer"}, "text": {"type": "string"},
                       "page": {"type": "integer", "minimum": 1, "description": "the page it starts on (PDF)"},
                       "last_page": {"type": "integer", "minimum": 1,
                                     "description": "the page it ends on, when not the one it starts on"}},
    }
    summary = {
        "type": "object", "required": ["id", "title", "source", "kind", "passages", "characters"],
        "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "source": {"type": "string"},
                       "kind": {"type": "string", "description": "pdf, docx, html, markdown or text"},
                       "pages": {"type": ["integer", "null"], "minimum": 1},
                       "characters": {"type": "integer", "minimum": 0}},
    }
    counts = {"type": "object", "required": ["documents", "passages"],
              "properties": {"documents": {"type": "integer", "minimum": 1},
                             "passages": {"type": "integer", "minimum": 1}}}
    ranked = {"allOf": [passage, {"type": "object", "required": ["score", "bm25", "scores", "rank", "highlights"],
                                  "properties": {
                                      "document_title": {"type": "string"}, "score": {"type": "number"},
                                      "bm25": {"type": "number", "description": "rank-bm25's own score for the "
                                               "question's terms"},
                                      "scores": {"type": "object", "additionalProperties": {"type": "number"}},
                                      "rank": {"type": "integer", "minimum": 1},
                                      "highlights": {"type": "array", "items": {
                                          "type": "array", "items": {"type": "integer"}, "minItems": 2,
                                          "maxItems": 2}},
                                      "matched_terms": {"type": "array", "items": {"type": "string"}}}}]}
    answer = {
        "type": "object",
        "required": ["question", "answer", "answer_type", "abstention", "message", "passages", "follow_up",
                     "context", "missing_words", "took_ms"],
        "properties": {
            "question": {"type": "string"}, "answer": {"oneOf": [{"type": "null"}, answer_object]},
            "answer_type": {"enum": list(ANSWER_TYPES)},
            "confidence": {"type": ["number", "null"], "minimum": 0, "maximum": 1,
                           "description": "probability that the best sentence answers the question, also when "
                                          "refused for being too low (null without the trained decider)"},
            "abstention": {"oneOf": [{"type": "null"}, {
                "type": "object", "required": ["reason", "missing"],
                "properties": {"reason": {"enum": list(Abstention.REASONS)},
                               "missing": {"type": "array", "items": {"type": "string"}},
                               "coverage": {"type": ["number", "null"]}}}]},
            "message": {"type": "string"}, "passages": {"type": "array", "items": ranked},
            "follow_up": {"type": "boolean"}, "context": {"type": "array", "items": {"type": "string"}},
            "missing_words": {"type": "array", "items": {"type": "string"}}, "took_ms": {"type": "number"},
            "intent": {"description": "small talk or a question about a whole document (its answer is the "
                       "document's opening sentences); null for a question answered from the text",
                       "oneOf": [{"type": "null"}, {"enum": list(INTENTS)}]},
        },
    }
    document = {
        "type": "object", "required": ["id", "title", "source", "text", "passages"],
        "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "source": {"type": "string"},
                       "text": {"type": "string"},
                       "passages": {"type": "array", "items": {
                           "type": "object", "required": ["id", "index", "start", "end"],
                           "properties": {"id": {"type": "string"}, "index": {"type": "integer"},
                                          "start": {"type": "integer", "minimum": 0},
                                          "end": {"type": "integer", "minimum": 0}}}}},
    }
    explained = {
        "type": "object", "required": ["question", "passage_id", "follow_up", "terms", "total"],
        "properties": {"question": {"type": "string"}, "passage_id": {"type": "string"},
                       "follow_up": {"type": "boolean"}, "total": {"type": "number"},
                       "terms": {"type": "array", "items": {
                           "type": "object", "required": ["turn", "word", "term", "idf", "frequency", "weight",
                                                         "bm25", "contribution", "by_meaning"],
                           "properties": {"turn": {"enum": ["question", "earlier", "answer"]},
                                          "word": {"type": "string"}, "term": {"type": "string"},
                                          "idf": {"type": "number"}, "frequency": {"type": "integer"},
                                          "weight": {"type": "number"}, "bm25": {"type": "number"},
                                          "contribution": {"type": "number"},
                                          "by_meaning": {"type": "boolean", "description": "the documents lack the "
                                                         "word: the term is their word nearest to it in meaning"}}}}},
    }
    error = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}
    errors = {str(s): {"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
              for s, d in ((400, "bad request"), (413, f"body over {MAX_BODY_BYTES // 1024} KiB"),
                           (415, "body not JSON"))}
    def refusal(description: str) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"}}}}

    # what any /api route but health may answer, whatever the request
    guarded = {"401": refusal("an API key is set (QA_API_KEY) and the request did not carry it as "
                              "'Authorization: Bearer <key>' or 'X-API-Key'; WWW-Authenticate says so"),
               "429": refusal("over the per-client rate limit (QA_RATE_LIMIT); Retry-After says when to come back"),
               "503": refusal("the corpus is still loading; Retry-After says when to ask again")}
    ok = {"200": {"description": "the answer", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Answer"}}}}}
    top_k = {"type": "integer", "minimum": TOP_K_MIN, "maximum": TOP_K_MAX}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": {
            "/api/ask": {
                "get": {"parameters": [
                    {"name": "q", "in": "query", "required": True, "schema": text},
                    {"name": "top_k", "in": "query", "schema": top_k},
                    {"name": "history", "in": "query", "schema": {"type": "array", "items": text,
                                                                   "maxItems": MAX_HISTORY}}],
                        "responses": {**ok, **{k: v for k, v in errors.items() if k == "400"}, **guarded}},
                "post": {"requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["question"], "properties": {
                        "question": text, "top_k": {"oneOf": [top_k, {"type": "null"}]},
                        "history": {"oneOf": [{"type": "array", "items": exchange, "maxItems": MAX_HISTORY},
                                              {"type": "null"}]}}}}}},
                    "responses": {**ok, **errors, **guarded}},
            },
            "/api/health": {"get": {"description": "never needs a key and is never rate limited", "responses": {
                "200": {"description": "the service is up, with the live corpus's counts"},
                "503": {"description": "the corpus is still loading; Retry-After says when to ask again",
                        "content": {"application/json": {"schema": {
                            "type": "object", "required": ["status"], "properties": {"status": {"const": "loading"}}}}}},
            }}},
            "/api/openapi.json": {"get": {"responses": {"200": {"description": "this description"}, **guarded}}},
            "/api/documents": {
                "get": {"responses": {"200": {"description": "the documents, and whether uploads are on",
                                              "content": {"application/json": {"schema": {
                                                  "type": "object", "required": ["documents", "uploads"],
                                                  "properties": {
                                                      "documents": {"type": "array", "items": {"allOf": [summary, {
                                                          "type": "object", "properties": {
                                                              "passages": {"type": "integer", "minimum": 0}}}]}},
                                                      "uploads": {"type": "object"}}}}}}, **guarded}},
                "post": {
                    "description": "adds documents (PDF, Word .docx, HTML, Markdown or text, the type told by the "
                                   "content, not the name): read, split, indexed and swapped in at once (questions "
                                   "being answered finish on the old corpus), and written to the corpus folder. Off "
                                   "unless the server runs with --allow-uploads; with an API key set, only with it. "
                                   "One bad file refuses them all, naming it, and nothing changes.",
                    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                        "type": "object", "required": ["files"], "properties": {"files": {
                            "type": "array", "items": {"type": "string", "format": "binary"}}}}}}},
                    "responses": {
                        "201": {"description": "the new documents with their passages", "content": {
                            "application/json": {"schema": {
                                "type": "object", "required": ["documents", "corpus", "took_ms"], "properties": {
                                    "documents": {"type": "array", "items": {"allOf": [summary, {
                                        "type": "object", "properties": {"passages": {
                                            "type": "array", "items": passage}}}]}},
                                    "corpus": counts, "took_ms": {"type": "number"}}}}}},
                        "400": refusal("no files in the request"),
                        "403": refusal("uploads are off (start the server with --allow-uploads)"),
                        "409": refusal("a document with that id or content is already in the corpus"),
                        "413": refusal("a file, or the whole request, is over the upload limits"),
                        "415": refusal("not multipart/form-data"),
                        "422": refusal("a file cannot be read (the message names it): not a PDF, .docx, HTML, "
                                       "Markdown or text file, encrypted, scanned without a text layer, damaged"),
                        **guarded}},
            },
            "/api/passages": {"get": {"parameters": [
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
                "responses": {"200": {"description": "a page of passages"}, "400": {
                    "description": "offset or limit out of range", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Error"}}}}, **guarded}}},
            "/api/documents/{id}": {
                "get": {
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "the document's full text and its passages' offsets",
                                          "content": {"application/json": {
                                              "schema": {"$ref": "#/components/schemas/Document"}}}},
                                  "404": {"description": "no such document", "content": {"application/json": {
                                      "schema": {"$ref": "#/components/schemas/Error"}}}}, **guarded}},
                "delete": {
                    "description": "removes the document, swapped out at once and from the corpus folder; off unless "
                                   "the server runs with --allow-uploads",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {"description": "removed", "content": {"application/json": {"schema": {
                            "type": "object", "required": ["removed", "corpus", "took_ms"], "properties": {
                                "removed": {"type": "object"}, "corpus": counts,
                                "took_ms": {"type": "number"}}}}}},
                        "403": refusal("uploads are off (start the server with --allow-uploads)"),
                        "404": refusal("no such document"),
                        "409": refusal("it is the last document (a corpus needs one)"),
                        **guarded}},
            },
            "/api/explain": {"post": {
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["question", "passage_id"], "properties": {
                        "question": text, "passage_id": {"type": "string", "minLength": 1,
                                                         "maxLength": MAX_QUESTION_CHARS},
                        "top_k": {"oneOf": [top_k, {"type": "null"}]},
                        "history": {"oneOf": [{"type": "array", "items": exchange, "maxItems": MAX_HISTORY},
                                              {"type": "null"}]}}}}}},
                "responses": {"200": {"description": "each searched term's part of the passage's score",
                                      "content": {"application/json": {
                                          "schema": {"$ref": "#/components/schemas/Explanation"}}}},
                              "404": {"description": "no such passage", "content": {"application/json": {
                                  "schema": {"$ref": "#/components/schemas/Error"}}}},
                              **errors, **guarded}}},
            "/api/passages/{id}": {"get": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "one passage", "content": {"application/json": {
                    "schema": passage}}},
                    "404": {"description": "no such passage", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Error"}}}}, **guarded}}},
            "/api/admin/reload": {"post": {
                "description": "loads the corpus folder on disk again, aside, and swaps it in (SIGHUP does the "
                               "same); answered to loopback clients only",
                "responses": {
                    "200": {"description": "the new corpus is served", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["status", "documents", "passages", "took_ms"],
                        "properties": {"status": {"const": "reloaded"}, "documents": {"type": "integer"},
                                       "passages": {"type": "integer"}, "took_ms": {"type": "number"}}}}}},
                    "403": refusal("the client is not on this machine"),
                    "409": refusal("the corpus on disk cannot be loaded (the previous one is still served), or "
                                   "the server was not started from a corpus folder"),
                    **{k: v for k, v in guarded.items() if k != "503"}}}},
        },
        "components": {"schemas": {"Answer": answer, "Error": error, "Passage": passage, "Document": document,
                                   "DocumentSummary": summary,
                                   "Explanation": explained}},
    }
