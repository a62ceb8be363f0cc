"""Who may ask, and how often: an optional API key and an optional per-client rate limit.

Both are off by default and know nothing of Flask: the web app hands them header values and
the client's address, and they raise :class:`Unauthorized` or :class:`RateLimited`.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections import OrderedDict
from typing import Callable

from .errors import RateLimited, Unauthorized

__all__ = ["ApiKey", "MAX_CLIENTS", "RateLimiter"]

# Clients the rate limiter remembers; the least recently seen is forgotten first (its bucket
# starts full again), so an address-spraying client cannot grow the table.
MAX_CLIENTS = 10_000


class ApiKey:
    """The key a request must carry, as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""

    CHALLENGE = 'Bearer realm="qa-service"'

    def __init__(self, key: str) -> None:
        self._key = key.encode("utf-8")

    def check(self, authorization: str | None, x_api_key: str | None) -> None:
        """Raise :class:`Unauthorized` unless one of the headers holds the key (compared in constant time)."""
        given = x_api_key
        if given is None and authorization is not None:
            scheme, _, token = authorization.strip().partition(" ")
            given = token.strip() if scheme.lower() == "bearer" else None
        try:  # WSGI hands headers over as latin-1: back to the bytes the client sent
            sent = given.encode("latin-1") if given is not None else None
        except UnicodeEncodeError:
            sent = None
        if sent is None or not hmac.compare_digest(sent, self._key):
            message = ("this API needs a key: send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
                       if given is None else "the API key is not the right one")
            raise Unauthorized(message, headers={"WWW-Authenticate": self.CHALLENGE})


class RateLimiter:
    """A token bucket per client: ``per_minute`` requests a minute on average, bursts of as many."""

    def __init__(self, per_minute: int, max_clients: int = MAX_CLIENTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1 or max_clients < 1:
            raise ValueError("per_minute and max_clients must be at least 1")
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60.0
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, when)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, client: str) -> None:
        """Take one request from ``client``'s bucket, or raise :class:`RateLimited` with Retry-After."""
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.pop(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.per_second)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[client] = (tokens, now)  # most recently seen last
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        if not allowed:
            wait = max(1, math.ceil((1.0 - tokens) / self.per_second))
            raise RateLimited(f"too many requests: at most {int(self.capacity)} a minute; try again in {wait} s",
                              headers={"Retry-After": str(wait)})
