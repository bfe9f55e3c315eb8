"""Assertions on what the bot said: response names, text (regex or exact, with a diff), buttons."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from evals.assertions.base import Assertion, AssertionSyntaxError, CheckContext, Outcome
from evals.matching import closest, contains, text_diff
from evals.observation import TurnObservation


@dataclass(frozen=True, slots=True)
class Utterance:
    """What a bot message must look like: response name, text regex, exact text, buttons (any subset)."""

    utter_name: str | None = None
    text_matches: str | None = None
    text: str | None = None
    buttons: tuple[dict[str, str], ...] | None = None

    @classmethod
    def parse(cls, value: Any, kind: str) -> Utterance:
        if isinstance(value, str):
            return cls(utter_name=value)
        if not isinstance(value, dict) or not value:
            raise AssertionSyntaxError(f"{kind} expects a response name or utter_name/text_matches/buttons")
        unknown = set(value) - {"utter_name", "text_matches", "text", "buttons"}
        if unknown:
            raise AssertionSyntaxError(f"{kind}: unknown key(s) {sorted(unknown)}")
        pattern = value.get("text_matches")
        if pattern is not None:
            try:
                re.compile(str(pattern))
            except re.error as exc:
                raise AssertionSyntaxError(f"{kind}.text_matches is not a valid regex: {exc}") from exc
        buttons = value.get("buttons")
        if buttons is not None and not (isinstance(buttons, list) and all(isinstance(b, dict) for b in buttons)):
            raise AssertionSyntaxError(f"{kind}.buttons expects a list of title/payload mappings")
        return cls(value.get("utter_name"), None if pattern is None else str(pattern), value.get("text"),
                   None if buttons is None else tuple(buttons))

    def describe(self) -> str:
        parts = []
        if self.utter_name:
            parts.append(self.utter_name)
        if self.text is not None:
            parts.append(f"text {self.text!r}")
        if self.text_matches:
            parts.append(f"text matching /{self.text_matches}/")
        if self.buttons is not None:
            parts.append("buttons " + ", ".join(b.get("title", b.get("payload", "?")) for b in self.buttons))
        return " with ".join(parts[:1]) + "".join(f", {p}" for p in parts[1:]) if parts else "a message"

    def matches(self, response: str | None, text: str, buttons: list[dict[str, Any]]) -> bool:
        if self.utter_name is not None and response != self.utter_name:
            return False
        if self.text is not None and text.strip() != self.text.strip():
            return False
        if self.text_matches is not None and not re.search(self.text_matches, text, re.IGNORECASE | re.DOTALL):
            return False
        if self.buttons is not None:
            if len(self.buttons) != len(buttons):
                return False
            return all(contains(actual, expected) for expected, actual in zip(self.buttons, buttons, strict=True))
        return True


def _said(turn: TurnObservation) -> str:
    if not turn.bot:
        return "the bot said nothing"
    lines = []
    for message in turn.bot:
        buttons = f" [buttons: {', '.join(b.get('title', '') for b in message.buttons)}]" if message.buttons else ""
        lines.append(f"{message.response or '(no response name)'}: {message.text!r}{buttons}")
    return "the bot said: " + " | ".join(lines)


@dataclass(frozen=True, slots=True)
class BotSaid(Assertion):
    """Some bot message in this turn matches (response name, text regex or exact text, buttons)."""

    kind: ClassVar[str] = "bot_uttered"
    expect: Utterance

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        return cls(Utterance.parse(value, cls.kind))

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        passed = any(self.expect.matches(m.response, m.text, list(m.buttons)) for m in turn.bot)
        diff = ""
        if not passed and self.expect.text is not None:
            near = closest(self.expect.text, [m.text for m in turn.bot])
            diff = text_diff(self.expect.text, near) if near is not None else ""
        return self.outcome(passed, f"bot uttered {self.expect.describe()}", _said(turn), diff)


@dataclass(frozen=True, slots=True)
class BotDidNotSay(Assertion):
    """No bot message in this turn matches."""

    kind: ClassVar[str] = "bot_did_not_utter"
    negative: ClassVar[bool] = True
    expect: Utterance

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        return cls(Utterance.parse(value, cls.kind))

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        passed = not any(self.expect.matches(m.response, m.text, list(m.buttons)) for m in turn.bot)
        return self.outcome(passed, f"bot did not utter {self.expect.describe()}", _said(turn))
