"""HMAC-SHA256 signatures over ``"{timestamp}.{body}"`` (Stripe-like), checked in constant time.

Headers: ``X-Careline-Timestamp`` (unix seconds) and ``X-Careline-Signature: sha256=<hex>``. A
signature older than ``tolerance`` seconds is refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from bot.kernel.errors import RequestError

TIMESTAMP_HEADER = "X-Careline-Timestamp"
SIGNATURE_HEADER = "X-Careline-Signature"
DEFAULT_TOLERANCE = 300.0


class SignatureInvalid(RequestError):
    """The request is unsigned, wrongly signed or too old (HTTP 401)."""

    status = 401


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of ``timestamp.body`` under ``secret``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def sign(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The two headers that sign ``body``."""
    timestamp = str(int(now if now is not None else time.time()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, tolerance: float = DEFAULT_TOLERANCE,
           now: float | None = None) -> None:
    """Raise :class:`SignatureInvalid` unless ``headers`` sign ``body`` with ``secret`` within ``tolerance``."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    given = headers.get(SIGNATURE_HEADER, "")
    if not timestamp or not given:
        raise SignatureInvalid(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError as exc:
        raise SignatureInvalid(f"{TIMESTAMP_HEADER} must be unix seconds, got {timestamp!r:.20}") from exc
    if age > tolerance:
        raise SignatureInvalid(f"signature timestamp is {int(age)} s old; the limit is {int(tolerance)} s")
    if not hmac.compare_digest(given.encode(), signature(secret, timestamp, body).encode()):
        raise SignatureInvalid("signature does not match the body")
