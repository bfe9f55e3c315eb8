"""structlog set-up: JSON lines in production, a readable console in development, PII masked.

Every log line goes through :func:`mask_pii`, so emails, phone numbers, card numbers and dates of
birth never reach a log sink, whatever a caller passes as event data.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_PHONE = re.compile(r"(?<![\w/])\+?\d[\d ().-]{6,}\d(?!\w)")
#: An IPv4 address (``203.0.113.7``, octets 0-255): kept as it is, never read as a phone number or a date.
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.])((?:{_OCTET}\.){{3}}{_OCTET})(?!\.?\w)")
_DATE = re.compile(
    r"\b(?:\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})\b"
    r"|\b\d{1,2}(?:st|nd|rd|th)? (?:of )?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]* \d{4}\b",
    re.IGNORECASE,
)

_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
_STREET = re.compile(
    r"\b\d{1,5}[a-z]?,?\s+(?:(?!(?:on|in|to|for|of|my|your|a|an|by|at|is|are|was|and|or|per|this|that|it)\s)"
    r"[a-z][a-z'-]*\s+){1,3}"
    r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|close|way|court|ct|place|pl|crescent|terrace|gardens|"
    r"grove|square|boulevard|blvd|hill|mews|row|walk|parade)\b\.?",
    re.IGNORECASE,
)
_SECRET = re.compile(r"\b(pin|passcode|code|otp|password)(\s+(?:number\s+)?(?:is|was)|:)?\s*\d{4,8}\b", re.IGNORECASE)

#: Keys whose values are masked whole, whatever they contain.
SENSITIVE_KEYS = frozenset(
    {"email", "phone", "dob", "date_of_birth", "postcode", "pin", "card", "card_number", "password", "token", "otp"}
)


def mask_text(text: str) -> str:
    """Replace emails, card numbers, phone numbers, dates, street addresses, postcodes and PINs or codes
    given after their name ("my pin is 4821") in ``text`` with placeholders; IPv4 addresses stay."""
    parts = _IPV4.split(text)
    parts[::2] = [_mask_segment(part) for part in parts[::2]]
    return "".join(parts)


def _mask_segment(text: str) -> str:
    text = _EMAIL.sub("[email]", text)
    text = _CARD.sub("[card]", text)
    text = _DATE.sub("[date]", text)
    text = _SECRET.sub(lambda m: f"{m.group(1)}{m.group(2) or ''} [secret]", text)
    text = _STREET.sub("[address]", text)
    text = _POSTCODE.sub("[postcode]", text)
    return _PHONE.sub("[phone]", text)


def _mask_value(key: str, value: Any) -> Any:
    if key.lower() in SENSITIVE_KEYS and value not in (None, ""):
        return "[masked]"
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_value(key, v) for v in value]
    return value


def mask_pii(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask PII in every value of the event (the event name included)."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _mask_value(key, value)
    return event_dict


def configure_logging(*, json: bool = False, level: str = "info", stream: Any = None) -> None:
    """Configure structlog once, at the entry point: ``json=True`` in production."""
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_pii,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A bound logger for one module."""
    return structlog.get_logger(name)  # type: ignore[no-any-return]
