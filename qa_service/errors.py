"""One error hierarchy: every error we raise on purpose carries an HTTP status and a
machine-readable code, so the web app turns it into the one JSON error body and the CLI into
one line and a non-zero exit. Anything else is a bug and is allowed to look like one.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "Conflict",
    "CorpusError",
    "EmptyCorpusError",
    "EvalError",
    "Forbidden",
    "IngestError",
    "Loading",
    "NotFound",
    "PayloadTooLarge",
    "QAError",
    "RateLimited",
    "ReloadFailed",
    "SettingsError",
    "Unauthorized",
    "UnsupportedMedia",
]


class QAError(Exception):
    """An error a user or client caused or should know about; the message says what and where.

    Each kind states its HTTP status and machine-readable code in its class line.
    """

    status = 500
    code = "error"

    def __init_subclass__(cls, status: int = 500, code: str = "error", **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.status, cls.code = status, code

    def __init__(self, message: str, *, code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})  # sent with the error: Retry-After, WWW-Authenticate
        if code is not None:
            self.code = code


# Requests (4xx): the client can fix them.
class BadRequest(QAError, status=400, code="bad_request"):
    """A request we cannot answer as sent (a missing or bad field, bad JSON)."""


class NotFound(QAError, status=404, code="not_found"):
    """No such passage, document or endpoint."""


class UnsupportedMedia(QAError, status=415, code="unsupported_media_type"):
    """A body that is not what the endpoint reads."""


class PayloadTooLarge(QAError, status=413, code="payload_too_large"):
    """A body over the limit, refused before it is read."""


class Unauthorized(QAError, status=401, code="unauthorized"):
    """An API key is set and the request did not carry it."""


class Forbidden(QAError, status=403, code="forbidden"):
    """Not for this client (the admin routes answer loopback clients only)."""


class RateLimited(QAError, status=429, code="rate_limited"):
    """This client sent more requests than the rate limit allows; Retry-After says when to come back."""


class ReloadFailed(QAError, status=409, code="reload_failed"):
    """The corpus on disk could not be loaded; the previous one is still served."""


class Conflict(QAError, status=409, code="conflict"):
    """The change clashes with what is there (a document id the corpus already has)."""


class Loading(QAError, status=503, code="loading"):
    """The corpus is still being loaded; Retry-After says when to ask again."""


# Files and settings: the person running the service can fix them.
class IngestError(QAError, status=422, code="ingest_error"):
    """A source document cannot be read; the message names the file."""


class CorpusError(QAError, status=500, code="corpus_error"):
    """A prepared corpus folder is missing or broken; the message names the file."""


class EmptyCorpusError(CorpusError, status=500, code="empty_corpus"):
    """There is nothing to index (rank-bm25 would divide by zero)."""


class SettingsError(QAError, status=500, code="settings_error"):
    """A setting has a value we cannot use; the message names the setting."""


class EvalError(QAError, status=500, code="eval_error"):
    """A question set or an evaluation target cannot be used; the message says which and why."""
