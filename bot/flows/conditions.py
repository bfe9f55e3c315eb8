"""The condition language of flows' ``if`` (Rasa CALM-like predicates over slots).

    slots.authenticated
    not slots.order_found
    slots.order_status == "processing" and slots.confirm
    slots.order_status in ["processing", "packed"]
    slots.postcode matches "^[A-Z0-9 ]+$"
    slots.auth_attempts >= 3 or slots.auth_locked
    slots.plan = "fibre" and slots.usage_gb is not null      (Rasa's forms: one "=", "is [not] null")
    slots.interests contains "fibre"

``and`` binds tighter than ``or``; ``not`` tighter than both; parentheses group. Comparisons of
strings ignore case. :func:`parse` raises :class:`ConditionError` (a ``ValueError``) naming the
position; the project loader turns that into a config problem with file and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

Predicate = Callable[[dict[str, Any]], Any]

_TOKEN = re.compile(r"""\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>"[^"]*"|'[^']*')|(?P<op>==|!=|>=|<=|=|>|<|\(|\)|\[|\]|,)
                        |(?P<name>[A-Za-z_][A-Za-z0-9_.]*))""", re.VERBOSE)
KEYWORDS = {"and", "or", "not", "in", "matches", "contains", "is", "true", "false", "null", "none"}


class ConditionError(ValueError):
    """A condition that does not parse."""


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ConditionError(f"cannot read condition {text!r} at position {pos}")
        out.append(match.group(0).strip())
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token.lower() != expected):
            raise ConditionError(f"expected {expected or 'more'} in condition {self.text!r}, got {token!r}")
        self.pos += 1
        return token

    def parse(self) -> Predicate:
        predicate = self.or_()
        if self.peek() is not None:
            raise ConditionError(f"unexpected {self.peek()!r} in condition {self.text!r}")
        return predicate

    def or_(self) -> Predicate:
        parts = [self.and_()]
        while (self.peek() or "").lower() == "or":
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else lambda s: any(p(s) for p in parts)

    def and_(self) -> Predicate:
        parts = [self.not_()]
        while (self.peek() or "").lower() == "and":
            self.take()
            parts.append(self.not_())
        return parts[0] if len(parts) == 1 else lambda s: all(p(s) for p in parts)

    def not_(self) -> Predicate:
        if (self.peek() or "").lower() == "not":
            self.take()
            inner = self.not_()
            return lambda s: not inner(s)
        return self.comparison()

    def comparison(self) -> Predicate:
        left = self.operand()
        op = (self.peek() or "").lower()
        if op == "is":  # Rasa's "is null" / "is not null" ("is" with anything else: equality)
            self.take()
            negated = (self.peek() or "").lower() == "not"
            if negated:
                self.take()
            right = self.operand()
            return lambda s: _compare("==", left(s), right(s)) != negated
        if op not in ("==", "=", "!=", ">", ">=", "<", "<=", "in", "matches", "contains"):
            return left
        self.take()
        right = self.operand()
        op = "==" if op == "=" else op  # Rasa writes equality with one "="
        return lambda s: _compare(op, left(s), right(s))

    def operand(self) -> Predicate:
        token = self.take()
        low = token.lower()
        if token == "(":  # noqa: S105 - a parser token, not a password
            inner = self.or_()
            self.take(")")
            return inner
        if token == "[":  # noqa: S105 - a parser token, not a password
            items: list[Predicate] = []
            while self.peek() != "]":
                items.append(self.operand())
                if self.peek() == ",":
                    self.take()
            self.take("]")
            return lambda s: [item(s) for item in items]
        if token[0] in "\"'":
            value: Any = token[1:-1]
            return lambda s: value
        if re.fullmatch(r"-?\d+(?:\.\d+)?", token):
            number = float(token)
            return lambda s: number
        if low in ("true", "false"):
            flag = low == "true"
            return lambda s: flag
        if low in ("null", "none"):
            return lambda s: None
        if low.startswith("slots."):
            name = token[len("slots."):]
            return lambda s: s.get(name)
        raise ConditionError(f"unknown name {token!r} in condition {self.text!r} (use slots.<name>)")


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return bool(_norm(left) == _norm(right))
    if op == "!=":
        return bool(_norm(left) != _norm(right))
    if op == "in":
        return isinstance(right, (list, tuple)) and _norm(left) in [_norm(v) for v in right]
    if op == "contains":  # a list holding the value, or a string holding the text (case ignored)
        if isinstance(left, (list, tuple)):
            return _norm(right) in [_norm(v) for v in left]
        return isinstance(left, str) and isinstance(right, str) and right.lower() in left.lower()
    if op == "matches":
        return left is not None and re.search(str(right), str(left)) is not None
    try:
        a, b = float(left), float(right)
    except (TypeError, ValueError):
        return False
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


@lru_cache(maxsize=512)
def parse(condition: str) -> Predicate:
    """Compile ``condition`` (cached); raises :class:`ConditionError`."""
    return _Parser(condition).parse()


def slot_names(condition: str) -> set[str]:
    """Slots a condition reads (for load-time validation)."""
    return {t[len("slots."):] for t in _tokens(condition) if t.lower().startswith("slots.")}


def evaluate(condition: str, slots: dict[str, Any]) -> bool:
    """Whether ``condition`` holds for ``slots``."""
    return bool(parse(condition)(slots))
