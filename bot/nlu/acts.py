"""Short replies read against what the bot just offered: yes, no, or which of the buttons shown.

"yes please", "sure, do that", "ok", "go on then" affirm; "nah, it's fine", "no thanks", "not now", "I'm good",
"never mind" deny; "the second one", "option 2", "the last" or a button's own words choose. Only a short reply
(at most :data:`MAX_REPLY_WORDS` words) is read this way: a longer message says something of its own and goes
through understanding as usual ("yes but where is my order?" is about the order).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from typing import Any

from bot.nlu.entities import NO, YES, extract_ordinals

MAX_REPLY_WORDS = 6
"""Longest message read as a bare reply to the bot's offer."""


class Act(enum.StrEnum):
    AFFIRM = "affirm"
    DENY = "deny"


_MORE_YES = re.compile(r"^\s*(?:why not|go on|please|yes please|that would be (?:great|lovely|good)|"
                       r"that'?d be (?:great|lovely|good)|sounds good|lovely|great|perfect|brilliant|cheers|"
                       r"i would|i'd like that|yes i would|let'?s do (?:it|that))\b", re.IGNORECASE)
_MORE_NO = re.compile(r"^\s*(?:not now|not (?:right )?now|no need|never ?mind|i'?m (?:good|fine|ok|okay|alright)|"
                      r"it'?s (?:fine|ok|okay|alright)|that'?s (?:ok|okay|alright) thanks|all good|no worries|"
                      r"don'?t bother|not needed|maybe later|leave it)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9']+")
_FILLER = {"the", "one", "a", "an", "please", "that", "this", "it", "my", "for", "with", "about", "is", "i", "mean",
           "want", "like", "would", "option", "choice", "thanks", "thank", "you", "ok", "okay", "yes", "on", "at"}
_YES_TITLE = re.compile(r"^\s*(?:yes|yep|confirm|ok|okay|sure)\b", re.IGNORECASE)
_NO_TITLE = re.compile(r"^\s*(?:no|cancel|not now)\b", re.IGNORECASE)


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def reply_act(text: str) -> Act | None:
    """``AFFIRM`` or ``DENY`` when ``text`` is a short yes or no, else ``None``."""
    if len(words_of(text)) > MAX_REPLY_WORDS:
        return None
    if _MORE_NO.match(text) or NO.match(text):
        return Act.DENY
    if YES.match(text) or _MORE_YES.match(text):
        return Act.AFFIRM
    return None


def chosen_button(text: str, buttons: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The button a short reply picks: "yes" when one button is offered (or one says yes), "no" when one says
    no, "the second one" by position, or the words of exactly one button's title; else ``None``."""
    if not buttons or len(words_of(text)) > MAX_REPLY_WORDS:
        return None
    act = reply_act(text)
    if act is Act.AFFIRM:
        if len(buttons) == 1:
            return buttons[0]
        yes = [b for b in buttons if _YES_TITLE.match(str(b.get("title", "")))]
        return yes[0] if len(yes) == 1 else None
    if act is Act.DENY:
        no = [b for b in buttons if _NO_TITLE.match(str(b.get("title", "")))]
        return no[0] if len(no) == 1 else None
    ordinals = [e.value for e in extract_ordinals(text) if isinstance(e.value, int)]
    if text.strip().rstrip(".").isdigit():
        ordinals = [int(text.strip().rstrip("."))]
    if len(ordinals) == 1:
        position = ordinals[0] - 1 if ordinals[0] > 0 else len(buttons) + ordinals[0]
        return buttons[position] if 0 <= position < len(buttons) else None
    said = set(words_of(text))
    matching = [b for b in buttons if ((title := set(words_of(str(b.get("title", ""))))) and title <= said)
                or (said and said <= title and len(said) >= max(1, len(title) - 1))]
    if not matching and (named := said - _FILLER):  # "the lamp one": the words that name something
        matching = [b for b in buttons if named <= set(words_of(str(b.get("title", ""))))]
    return matching[0] if len(matching) == 1 else None
