"""structlog set-up: JSON lines in production, a readable console in development, PII masked.

Every log line goes through :func:`mask_pii` (the patterns of :mod:`bot.kernel.masking`), so emails, phone
numbers, card numbers, IBANs and dates of birth never reach a log sink, whatever a caller passes as event data.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from bot.kernel.masking import mask_value


def mask_pii(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask PII in every value of the event (the event name included)."""
    for key, value in list(event_dict.items()):
        event_dict[key] = mask_value(key, value)
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
