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
    said = {word.removesuffix("'s") for word in words_of(text)}
    matching = [b for b in buttons if ((title := set(words_of(str(b.get("title", ""))))) and title <= said)
                or (said and said <= title and len(said) >= max(1, len(title) - 1))]
    if not matching and (named := said - _FILLER - _TIME_WORDS):  # "the lamp one": the words that name something
        matching = [b for b in buttons if all(_names(word, words_of(str(b.get("title", "")))) for word in named)]
    if not matching:
        matching = _by_time(text, buttons)
    return matching[0] if len(matching) == 1 else None


_WEEKDAYS = {"monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu", "friday": "fri",
             "saturday": "sat", "sunday": "sun", "tues": "tue", "weds": "wed", "thurs": "thu"}
_TIME_WORDS = {"earlier", "earliest", "sooner", "soonest", "later", "latest", "morning", "afternoon", "evening",
               "works", "suits", "fine", "good", "time", "slot", "day", "do", "can", "best", *_WEEKDAYS}
_WHEN = re.compile(r"\b(mon|tue|wed|thu|fri|sat|sun)\w*\s+(\d{1,2})\s+([a-z]{3})\w*(?:\s+at\s+(\d{1,2}):(\d{2}))?",
                   re.IGNORECASE)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CLOCK = re.compile(r"\b(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)\b|\b(\d{1,2})[:.](\d{2})\b", re.IGNORECASE)
_DAY_OF_MONTH = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b", re.IGNORECASE)


def _names(word: str, title: list[str]) -> bool:
    """``word`` names a word of the title: the same word, or its start ("physio" for "physiotherapy")."""
    return word in title or (len(word) >= 4 and any(t.startswith(word) for t in title))


def _by_time(text: str, buttons: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The buttons whose date and time (``Tue 1 Dec at 09:00``) fit a weekday, a day of the month, a clock time,
    a part of the day or "the earlier / later one" said in ``text``; empty when nothing of the kind is said."""
    when: list[tuple[dict[str, Any], tuple[str, int, int, int, int]]] = []
    for button in buttons:
        m = _WHEN.search(str(button.get("title", "")))
        if m is None:
            return []
        month = _MONTHS.index(m.group(3).lower()) if m.group(3).lower() in _MONTHS else 0
        when.append((button, (m.group(1).lower(), int(m.group(2)), month, int(m.group(4) or 0), int(m.group(5) or 0))))
    said = words_of(text)
    found = False
    if days := {_WEEKDAYS[w.removesuffix("'s")] for w in said if w.removesuffix("'s") in _WEEKDAYS}:
        when, found = [(b, k) for b, k in when if k[0] in days], True
    if (dom := _DAY_OF_MONTH.search(text)) is not None:
        when, found = [(b, k) for b, k in when if k[1] == int(dom.group(1))], True
    if (clock := _CLOCK.search(text)) is not None:
        if clock.group(3):
            hour = int(clock.group(1)) % 12 + (12 if clock.group(3).lower() == "pm" else 0)
            minute = int(clock.group(2) or 0)
        else:
            hour, minute = int(clock.group(4)), int(clock.group(5))
        when, found = [(b, k) for b, k in when if (k[3], k[4]) == (hour, minute)], True
    if "morning" in said:
        when, found = [(b, k) for b, k in when if k[3] < 12], True
    if "afternoon" in said or "evening" in said:
        when, found = [(b, k) for b, k in when if k[3] >= 12], True
    order = sorted(when, key=lambda item: (item[1][2] if item[1][2] >= when[0][1][2] else item[1][2] + 12,
                                           item[1][1], item[1][3], item[1][4])) if when else []
    if {"earlier", "earliest", "sooner", "soonest"} & set(said) and order:
        return [order[0][0]]
    if {"later", "latest"} & set(said) and order:
        return [order[-1][0]]
    return [b for b, _ in when] if found else []
