"""Small matching helpers shared by assertions: partial structure matches and readable diffs."""

from __future__ import annotations

import difflib
import json
from typing import Any

_MISSING = object()


def show(value: Any) -> str:
    """A compact, stable rendering of a value for messages."""
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value, sort_keys=True, default=str)


def lookup(data: Any, path: str) -> Any:
    """``data`` at dotted ``path`` (``customer.verified``, ``flows.started.0``); a sentinel when absent."""
    current = data
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def is_missing(value: Any) -> bool:
    """True for what :func:`lookup` returns when a path is absent."""
    return value is _MISSING


def contains(actual: Any, expected: Any) -> bool:
    """Partial match: mappings match on the keys given, lists contain every expected item,
    a scalar matches a list holding it, strings compare case-insensitively."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and contains(actual[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and all(any(contains(a, e) for a in actual) for e in expected)
    if isinstance(actual, list):
        return any(contains(a, expected) for a in actual)
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.casefold() == actual.casefold()
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


def text_diff(expected: str, actual: str) -> str:
    """A unified diff of two texts, word-wrapped by sentence so a changed word stands out."""
    def split(text: str) -> list[str]:
        return [part.strip() + "\n" for part in text.replace(". ", ".\n").splitlines() if part.strip()]

    lines = difflib.unified_diff(split(expected), split(actual), "expected", "actual", lineterm="\n")
    return "".join(lines).rstrip("\n")


def closest(expected: str, candidates: list[str]) -> str | None:
    """The candidate most similar to ``expected`` (for diffs), or ``None`` when there are none."""
    if not candidates:
        return None
    return max(candidates, key=lambda c: difflib.SequenceMatcher(None, expected, c).ratio())
