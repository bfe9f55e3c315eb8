"""pipecat logs with loguru; route its warnings and errors into structlog, drop its debug chatter."""

from __future__ import annotations

from typing import Any

from bot.infra.logs import get_logger

log = get_logger("pipecat")
_ROUTED = False


def forward_record(message: Any) -> None:
    """loguru sink: one pipecat log record as a structlog event (``pipecat_log``)."""
    record = message.record
    level = record["level"].name.lower()
    method = {"warning": log.warning, "error": log.error, "critical": log.critical}.get(level, log.info)
    method("pipecat_log", module=record["name"], text=str(record["message"])[:500])


def route_pipecat_logs(level: str = "WARNING") -> None:
    """Replace loguru's default stderr sink with :func:`forward_record` at ``level`` (once per process)."""
    global _ROUTED
    if _ROUTED:
        return
    from loguru import logger

    logger.remove()
    logger.add(forward_record, level=level)
    _ROUTED = True
