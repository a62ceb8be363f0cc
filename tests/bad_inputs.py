"""The README's table of bad inputs, as data: each row is one input and what it gets, and one test.

Rows with a ``request`` are run by ``test_bad_inputs.py::test_bad_input[<id>]`` (through the app,
or over a socket to the real server when ``raw`` is set); the others name the test that proves
them. ``python3 tests/bad_inputs.py`` prints the table; a test checks the README holds it.
In a message, ``<n>`` stands for a number that depends on timing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

JSON = "application/json"
BUILT = "When was the lighthouse built?"
KEY = "a-key-of-at-least-16-characters"
TOP_K = "'top_k' must be a whole number from 1 to 20"
NOT_JSON = "the request body is not valid JSON"
BAD_HTTP = "the request is not valid HTTP (Content-Length is invalid)"
NEEDS_KEY = "this API needs a key: send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
EXCHANGE = "'history' items must be strings or {\"question\", \"answer\"} objects"


@dataclass(frozen=True)
class Row:
    id: str
    input: str  # Markdown, as the README shows it
    status: str  # an HTTP status, or what a command does
    code: str  # the error code, or "" when there is none
    message: str  # the error message exactly, or what happens
    request: dict[str, Any] | None = None  # test-client arguments: method, path, data, content_type, headers, ...
    app: str = "plain"  # plain | keyed | limited | loading: which app answers the request
    raw: bytes | None = None  # a hand-written HTTP request, sent to the real server
    test: str = ""  # the test proving a row without a request

    @property
    def proof(self) -> str:
        return self.test or f"`test_bad_inputs.py::test_bad_input[{self.id}]`"


def _post(body: Any, **extra: Any) -> dict[str, Any]:
    return {"method": "POST", "path": "/api/ask", "data": json.dumps(body), "content_type": JSON, **extra}


def _raw(length: str, body: bytes = b"{}", extra: str = "") -> bytes:
    return (f"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {length}\r\n\r\n").encode() + body


_LIGATURES = "".join(chr(0xFDF0 + i % 10) if i % 5 else " " for i in range(1000))

ROWS: tuple[Row, ...] = (
    # ---- the body of POST /api/ask
    Row("invalid-json", '`{"question": ` (cut short)', "400", "invalid_json", NOT_JSON,
        {"method": "POST", "path": "/api/ask", "data": '{"question": ', "content_type": JSON}),
    Row("deeply-nested-json", "`[` × 60,000", "400", "invalid_json", NOT_JSON,
        {"method": "POST", "path": "/api/ask", "data": "[" * 60_000, "content_type": JSON}),
    Row("json-not-an-object", '`["When was it built?"]`', "400", "invalid_json", "the request body must be a JSON object",
        _post([BUILT])),
    Row("missing-question", "`{}`", "400", "missing_field", "'question' is required", _post({})),
    Row("question-not-a-string", '`{"question": 42}`', "400", "invalid_field", "'question' must be a string",
        _post({"question": 42})),
    Row("question-blank", '`{"question": " \\t\\n "}`', "400", "invalid_field", "'question' must not be empty",
        _post({"question": " \t\n "})),
    Row("question-control-characters", '`{"question": "\\u0000\\u0007"}` (removed, nothing left)', "400",
        "invalid_field", "'question' must not be empty", _post({"question": "\x00\x07"})),
    Row("question-1001-characters", "a question of 1001 characters", "400", "invalid_field",
        "'question' must be at most 1000 characters", _post({"question": "a" * 1001})),
    Row("top-k-0", '`"top_k": 0` (or 21, -1)', "400", "invalid_field", TOP_K, _post({"question": BUILT, "top_k": 0})),
    Row("top-k-string", '`"top_k": "3"` (also `" 3 "`, `"1_0"`, `"٣"`)', "400", "invalid_field", TOP_K,
        _post({"question": BUILT, "top_k": "3"})),
    Row("top-k-true", '`"top_k": true` (or 2.5)', "400", "invalid_field", TOP_K,
        _post({"question": BUILT, "top_k": True})),
    Row("top-k-5000-digits", '`"top_k": 999…9` (5000 digits, more than Python\'s int() takes)', "400",
        "invalid_field", TOP_K, {"method": "POST", "path": "/api/ask", "content_type": JSON,
                                 "data": f'{{"question": "{BUILT}", "top_k": {"9" * 5000}}}'}),
    Row("history-not-a-list", '`"history": "When was it automated?"`', "400", "invalid_field",
        "'history' must be a list", _post({"question": BUILT, "history": "When was it automated?"})),
    Row("history-51-items", "51 history items", "400", "invalid_field", "'history' may hold at most 50 items",
        _post({"question": BUILT, "history": ["keeper"] * 51})),
    Row("history-item-a-number", '`"history": ["station", 3]`', "400", "invalid_field", EXCHANGE,
        _post({"question": BUILT, "history": ["station", 3]})),
    Row("history-item-blank", '`"history": [" "]` (`qa-service ask --history " "` says the same)', "400",
        "invalid_field", "'history[]' must not be empty", _post({"question": BUILT, "history": [" "]})),
    Row("history-answer-negative-start", '`{"question": …, "answer": {"text": …, "start": -1}}`', "400",
        "invalid_field", "'history[].answer.start' must be a whole number of at least 0",
        _post({"question": BUILT, "history": [{"question": "Who?", "answer": {"text": "Ingrid", "start": -1}}]})),
    Row("body-over-64-kib", "a body of 64 KiB + 1 byte or more", "413", "payload_too_large",
        "the request body is larger than 64 KiB", _post({"question": BUILT, "padding": "x" * 65536})),
    Row("body-of-2-mib", "a body of 2 MiB (refused by waitress, read and dropped: no connection reset)", "413",
        "payload_too_large", "the request body is larger than 64 KiB",
        {"method": "POST", "path": "/api/ask"}, raw=_raw(str(2 * 1024 * 1024), b"x" * (2 * 1024 * 1024))),
    Row("content-length-letters", "`Content-Length: abc` (refused by waitress)", "400", "bad_request", BAD_HTTP,
        {"method": "POST", "path": "/api/ask"}, raw=_raw("abc")),
    Row("content-length-negative", "`Content-Length: -5` (refused by waitress)", "400", "bad_request", BAD_HTTP,
        {"method": "POST", "path": "/api/ask"}, raw=_raw("-5")),
    Row("transfer-encoding-gzip", "`Transfer-Encoding: gzip` (waitress reads only chunked; RFC 9112 says 501)",
        "501", "not_implemented", "Transfer-Encoding other than chunked is not supported",
        {"method": "POST", "path": "/api/ask"}, raw=_raw("2", extra="Transfer-Encoding: gzip\r\n")),
    Row("text-plain-body", "a body sent as `text/plain` (or a form, or no Content-Type)", "415",
        "unsupported_media_type", "send the question as JSON (Content-Type: application/json)",
        {"method": "POST", "path": "/api/ask", "data": BUILT, "content_type": "text/plain"}),
    # ---- GET /api/ask and the other routes
    Row("get-without-q", "`GET /api/ask`", "400", "missing_field", "add the question as ?q=...",
        {"method": "GET", "path": "/api/ask"}),
    Row("get-top-k-underscore", "`GET /api/ask?q=…&top_k=1_0` (also ` 3 `, `٣`, `+3`)", "400", "invalid_field", TOP_K,
        {"method": "GET", "path": "/api/ask", "query_string": {"q": BUILT, "top_k": "1_0"}}),
    Row("get-history-51-items", "`GET /api/ask` with 51 `history` parameters", "400", "invalid_field",
        "'history' may hold at most 50 items",
        {"method": "GET", "path": "/api/ask", "query_string": [("q", BUILT)] + [("history", "keeper")] * 51}),
    Row("unknown-endpoint", "`GET /api/nope`", "404", "not_found", "no API endpoint at /api/nope",
        {"method": "GET", "path": "/api/nope"}),
    Row("doubled-slash-forged-host", "`GET /api//health` with `Host: evil.example` (no redirect)", "404", "not_found",
        "no API endpoint at /api//health", {"method": "GET", "path": "/api//health",
                                            "headers": {"Host": "evil.example"}}),
    Row("options-unknown-endpoint", "`OPTIONS /api/nowhere` (`OPTIONS /api/ask` is a JSON 200 with the methods)",
        "404", "not_found", "no API endpoint at /api/nowhere", {"method": "OPTIONS", "path": "/api/nowhere"}),
    Row("wrong-method", "`DELETE /api/ask` (Allow says GET, HEAD, OPTIONS, POST)", "405", "method_not_allowed",
        "DELETE is not allowed here", {"method": "DELETE", "path": "/api/ask"}),
    Row("unknown-passage", "`GET /api/passages/nope`", "404", "not_found", "no passage with id 'nope'",
        {"method": "GET", "path": "/api/passages/nope"}),
    Row("negative-offset", "`GET /api/passages?offset=-1`", "400", "invalid_field",
        "'offset' must be a whole number from 0 to 2147483647", {"method": "GET", "path": "/api/passages?offset=-1"}),
    Row("limit-0", "`GET /api/passages?limit=0` (or over 1000)", "400", "invalid_field",
        "'limit' must be a whole number from 1 to 1000", {"method": "GET", "path": "/api/passages?limit=0"}),
    # ---- keys, limits, reloads, loading
    Row("no-api-key", "no key when `QA_API_KEY` is set (`/api/health` never needs one)", "401", "unauthorized",
        NEEDS_KEY, {"method": "GET", "path": "/api/documents"}, app="keyed"),
    Row("wrong-api-key", "`Authorization: Bearer <another key>`", "401", "unauthorized",
        "the API key is not the right one",
        {"method": "GET", "path": "/api/documents", "headers": {"Authorization": "Bearer not-the-key-at-all"}},
        app="keyed"),
    Row("over-the-rate-limit", "request 6 in a minute with `QA_RATE_LIMIT=5`", "429", "rate_limited",
        "too many requests: at most 5 a minute; try again in <n> s", {"method": "GET", "path": "/api/documents"},
        app="limited"),
    Row("reload-from-elsewhere", "`POST /api/admin/reload` from another machine", "403", "forbidden",
        "reload is only answered to clients on this machine (loopback)",
        {"method": "POST", "path": "/api/admin/reload", "environ_base": {"REMOTE_ADDR": "203.0.113.5"}}),
    Row("reload-broken-corpus", "a reload (SIGHUP, `qa-service reload`) of a broken corpus folder", "409",
        "reload_failed", "the corpus in … could not be loaded (…); still serving … — one log line; the old corpus "
        "keeps answering", test="`test_live.py::test_a_broken_corpus_keeps_the_old_one_serving_and_says_why_once`"),
    Row("while-loading", "any `/api/` request but health while the corpus loads", "503", "loading",
        "the corpus is still loading; try again shortly", {"method": "GET", "path": "/api/documents"}, app="loading"),
    # ---- adding and removing documents (issue #14)
    Row("upload-off", "`POST /api/documents` or `DELETE /api/documents/<id>` on a server without `--allow-uploads`",
        "403", "forbidden", "adding and removing documents is off; start the server with --allow-uploads",
        test="`test_uploads.py::test_uploads_are_off_unless_allowed`"),
    Row("upload-bad-file", "an upload holding one unreadable file among good ones (binary, empty, not UTF-8)",
        "422", "ingest_error", "one line naming that file; nothing is added, on disk or in memory",
        test="`test_uploads.py::test_a_refused_upload_names_the_file_and_changes_nothing`"),
    Row("upload-taken", "an upload whose document id or content the corpus already has", "409", "conflict",
        "one line naming the file and the document it clashes with",
        test="`test_uploads.py::test_a_refused_upload_names_the_file_and_changes_nothing`"),
    Row("upload-limits", "a file over `--upload-max-mb`, more files than `--upload-max-files`, a JSON body, "
        "no files", "413 / 415 / 400", "", "the limit or what to send, in one line",
        test="`test_uploads.py::test_upload_limits`"),
    Row("upload-elsewhere", "an upload from another site's page (its `Origin` or `Sec-Fetch-Site`)", "403",
        "forbidden", "documents can only be changed from this server's own page or by a program, not from another site",
        test="`test_uploads.py::test_another_sites_page_cannot_add_documents`"),
    Row("upload-path-name", "a file named `../../etc/notes.txt` or `C:\\docs\\plan.md`", "201", "",
        "only the last part of the name is kept", test="`test_uploads.py::test_only_the_last_part_of_a_file_name_is_kept`"),
    Row("remove-last", "`DELETE` of the last document, or of an unknown id", "409 / 404", "conflict / not_found",
        "a corpus needs at least one document: add another before removing this one",
        test="`test_uploads.py::test_removing`"),
    # ---- the defects of issue #11 that are not one request's answer
    Row("worst-case-questions", f"8 questions at once of 1000 ligature characters (U+FDF0–U+FDF9) with 20 such "
        "earlier questions", "200", "", "each answered; `/api/health` answered at once all along",
        test="`test_server.py::test_health_answers_at_once_while_8_worst_case_questions_run`"),
    Row("made-up-words", "questions of made-up words (60 of them, in the question and 3 earlier turns)", "200", "",
        "at most 12 near-spelling searches a text, 400 characters embedded",
        test="`test_pipeline.py::test_the_work_of_one_request_is_bounded`"),
    Row("fifty-earlier-questions", "50 earlier questions of words the corpus knows", "200", "",
        "costs what 3 do (only the last `max_turns` are read)",
        test="`test_pipeline.py::test_fifty_earlier_questions_cost_what_three_do`"),
    Row("growing-words", "U+FDFA (18 letters under NFKC) and long made-up words, request after request", "200", "",
        "caches do not grow", test="`test_pipeline.py::test_caches_do_not_grow_with_made_up_words`"),
    Row("idle-and-slow-sockets", "200 idle sockets and 200 sending a header line a second", "—", "",
        "other clients are answered; idle ones closed after `channel_timeout`",
        test="`test_server.py::test_idle_and_slow_connections_do_not_lock_clients_out`"),
    Row("sixty-turn-chat", "a 60-question conversation on the chat page", "200", "",
        "the page sends the last 5 exchanges",
        test="`test_browser.py::test_a_sixty_turn_conversation_keeps_working_and_sends_a_bounded_window`"),
    Row("hostile-sources", "`index` on 100 KB of dots, `' *a'` or brackets", "exit 0", "",
        "costs about what a normal file does",
        test="`test_ingest.py::test_hostile_sources_cost_about_what_a_normal_file_of_their_size_does`"),
    Row("link-out-of-source", "`index` on a folder with a link to a file elsewhere", "exit 1", "",
        "one line naming the link", test="`test_ingest.py::test_links_that_leave_the_source_folder_are_refused`"),
    Row("huge-source", "`index` on a file over 20 MiB", "exit 1", "", "one line, before the file is read",
        test="`test_ingest.py::test_a_huge_source_is_refused_before_it_is_read`"),
    Row("not-a-document", "`index` on an `.exe`, a PNG, another ZIP or an old `.doc` called `.pdf` or `.docx`",
        "exit 1", "", "one line naming the file",
        test="`test_sources.py::test_files_that_are_not_documents_are_refused_in_one_line`"),
    Row("scanned-pdf", "`index` on a scanned (image-only) PDF", "exit 1", "",
        "`scan.pdf: no text layer (a scanned PDF?); OCR is not supported`",
        test="`test_sources.py::test_a_scanned_pdf_is_refused_not_read_as_an_empty_document`"),
    Row("password-pdf", "`index` on a PDF that needs a password to open", "exit 1", "",
        "`secret.pdf: encrypted; remove the password and try again`",
        test="`test_sources.py::test_a_pdf_locked_with_a_user_password_is_refused`"),
    Row("truncated-pdf", "`index` on a truncated PDF", "exit 1", "", "one line naming the file, none of pypdf's warnings",
        test="`test_sources.py::test_a_truncated_pdf_on_the_command_line_is_one_line_without_pypdf_warnings`"),
    Row("docx-zip-bomb", "`index` on a ZIP bomb called `.docx` (200 MiB of zeros, or headers that lie)", "exit 1", "",
        "one line, before it is unpacked",
        test="`test_sources.py::test_a_zip_bomb_named_docx_is_refused_before_it_is_inflated`"),
    Row("non-utf8-file-name", "`index` on a file whose name is not UTF-8, into an existing corpus", "exit 1", "",
        "one line naming it; the old corpus stays",
        test="`test_ingest.py::test_a_file_name_that_is_not_utf8_is_one_line_and_the_old_corpus_stays`"),
    Row("nested-json-in-corpus", "`[` × 200,000 in `passages.jsonl`, `documents.jsonl` or `questions.jsonl`",
        "exit 1", "", "one line naming the file",
        test="`test_ingest.py::test_deeply_nested_json_in_a_corpus_file_is_one_line`"),
    Row("manifest-disagrees", "a missing, garbage or disagreeing `manifest.json`", "exit 1", "",
        "one line naming the file", test="`test_ingest.py::test_the_manifest_is_checked`"),
    Row("negative-offsets-in-corpus", "negative or reversed passage offsets in `passages.jsonl`", "exit 1", "",
        "one line naming the file", test="`test_ingest.py::test_negative_or_reversed_offsets_are_refused`"),
    Row("squad-wrong-shape", '`eval --squad` on `{"data":[{"title":5,"paragraphs":"x"}]}`', "exit 1", "",
        "one line saying what is wrong", test="`test_eval.py::test_a_squad_file_of_the_wrong_shape_is_one_line`"),
)


def markdown_table() -> str:
    """The README's table, from :data:`ROWS`."""
    lines = ["| input | status | code | message | test |", "|---|---|---|---|---|"]
    for row in ROWS:
        message = f"`{row.message}`" if row.code and not row.test else row.message
        cells = [row.input, row.status, f"`{row.code}`" if row.code else "—", message, row.proof]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
