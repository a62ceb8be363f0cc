"""One error hierarchy: every error we raise on purpose carries an HTTP status and a
machine-readable code, so the web app turns it into the one JSON error body and the CLI into
one line and a non-zero exit. Anything else is a bug and is allowed to look like one.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "CorpusError",
    "EmptyCorpusError",
    "EvalError",
    "IngestError",
    "NotFound",
    "QAError",
    "SettingsError",
    "UnsupportedMedia",
]


class QAError(Exception):
    """An error a user or client caused or should know about; the message says what and where."""

    status = 500
    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadRequest(QAError):
    """A request we cannot answer as sent (a missing or bad field, bad JSON)."""

    status = 400
    code = "bad_request"


class NotFound(QAError):
    status = 404
    code = "not_found"


class UnsupportedMedia(QAError):
    status = 415
    code = "unsupported_media_type"


class IngestError(QAError):
    """A source document cannot be read; the message names the file."""

    status = 422
    code = "ingest_error"


class CorpusError(QAError):
    """A prepared corpus folder is missing or broken; the message names the file."""

    status = 500
    code = "corpus_error"


class EmptyCorpusError(CorpusError):
    """There is nothing to index (rank-bm25 would divide by zero)."""

    code = "empty_corpus"


class SettingsError(QAError):
    """A setting has a value we cannot use; the message names the setting."""

    status = 500
    code = "settings_error"


class EvalError(QAError):
    """A question set or an evaluation target cannot be used; the message says which and why."""

    status = 500
    code = "eval_error"
