"""The customer's 1-5 satisfaction rating after an agent closed the conversation.

:class:`RecordCsat` is a turn stage (added after ``normalize`` when ``handoff.csat`` is on): when the
bot's last words were the CSAT question and the customer answers with a score (typed, or the button
payload ``/csat{"score": 4}``), it records :class:`~bot.kernel.events.CsatGiven` and thanks them. Any other
answer is an ordinary new message.
"""

from __future__ import annotations

import json
import re

from bot.handoff.notices import DEFAULTS
from bot.infra.logs import get_logger
from bot.kernel.events import BotUttered, CsatGiven, UserUttered
from bot.pipeline.turn import ANSWERED, CONTINUE, StageResult, Turn

log = get_logger(__name__)

_TYPED = re.compile(r"^\s*([1-5])\s*(?:/\s*5|stars?|out of 5)?\s*[.!]?\s*$", re.IGNORECASE)
_PAYLOAD = re.compile(r"^/csat(\{.*\})$")
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


def parse_score(text: str) -> int | None:
    """A 1-5 score from ``text`` ("4", "4/5", "five", ``/csat{"score": 4}``), else ``None``."""
    text = text.strip()
    if match := _PAYLOAD.match(text):
        try:
            score = json.loads(match.group(1)).get("score")
        except (json.JSONDecodeError, AttributeError):
            return None
        return score if isinstance(score, int) and 1 <= score <= 5 else None
    if match := _TYPED.match(text):
        return int(match.group(1))
    return _WORDS.get(text.lower().rstrip(".!"))


class RecordCsat:
    """Turn stage: record the answer to the CSAT question."""

    name = "csat"

    async def run(self, turn: Turn) -> StageResult:
        earlier = turn.state.events[: -len(turn.events)] if turn.events else turn.state.events
        last = next((e for e in reversed(earlier) if isinstance(e, BotUttered | UserUttered)), None)
        if not isinstance(last, BotUttered) or last.response != "utter_csat":
            return CONTINUE
        score = parse_score(turn.text)
        if score is None:
            return CONTINUE
        turn.emit(CsatGiven(score=score))
        turn.say("utter_csat_thanks", default=DEFAULTS["utter_csat_thanks"])
        log.info("csat_given", score=score)
        return ANSWERED
