"""Spoken forms → written forms, before understanding (voice transcripts say numbers as words).

    "four five six seven"                 → "4567"
    "a one zero zero one"                 → "A1001"
    "double three"                        → "33"
    "the third of March nineteen eighty"  → "1980-03-03"
    "john at example dot com"             → "john@example.com"

:func:`normalize_spoken` is a :data:`bot.pipeline.stages.Normalizer` (``str -> str``); it only rewrites runs it
is sure about, so typed text passes through unchanged.
"""

from __future__ import annotations

import re

DIGITS = {"zero": "0", "oh": "0", "o": "0", "nought": "0", "one": "1", "two": "2", "three": "3", "four": "4",
          "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
         "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
            "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
            "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
            "twentieth": 20, "thirtieth": 30}
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]

_DIGIT_WORD = r"(?:zero|oh|nought|one|two|three|four|five|six|seven|eight|nine|double|triple)"
_DIGIT_RUN = re.compile(rf"\b{_DIGIT_WORD}(?:[\s,-]+{_DIGIT_WORD})+\b", re.IGNORECASE)
_LETTER_CODE = re.compile(r"\b([a-z])\s+(\d{3,})\b", re.IGNORECASE)
_SPOKEN_EMAIL = re.compile(
    r"\b([a-z0-9]+(?:\s+(?:dot|underscore|dash)\s+[a-z0-9]+)*)\s+at\s+([a-z0-9]+(?:\s+dot\s+[a-z0-9]+)+)\b",
    re.IGNORECASE)
_ORDINAL_WORD = "|".join(sorted(ORDINALS, key=len, reverse=True))
_TENS_WORD = "|".join(TENS)
_SPOKEN_DAY = re.compile(
    rf"\b(?:the\s+)?(?:(twenty|thirty)[\s-]+)?({_ORDINAL_WORD})(?:\s+of)?\s+({'|'.join(MONTHS)})\b", re.IGNORECASE)
_YEAR_WORDS = r"(?:(?:nineteen|twenty)(?:\s+(?:hundred|oh\s+\w+|(?:" + _TENS_WORD + r")(?:[\s-]+\w+)?|\w+teen|ten|"
_YEAR_WORDS += r"one|two|three|four|five|six|seven|eight|nine))?|two\s+thousand(?:\s+and)?(?:\s+\w+(?:[\s-]+\w+)?)?)"
_DATE_WITH_YEAR = re.compile(
    rf"\b(\d{{1,2}})\s+({'|'.join(MONTHS)})\s+(\d{{4}}|{_YEAR_WORDS})\b", re.IGNORECASE)


def _digits(match: re.Match[str]) -> str:
    words = re.split(r"[\s,-]+", match.group(0).lower())
    out, repeat = [], 1
    for word in words:
        if word in ("double", "triple"):
            repeat = 2 if word == "double" else 3
            continue
        out.append(DIGITS[word] * repeat)
        repeat = 1
    return "".join(out)


def _small_number(words: list[str]) -> int | None:
    """``["eighty", "five"]`` → 85; ``["ten"]`` → 10; ``[]`` → 0."""
    if not words:
        return 0
    if len(words) == 1:
        w = words[0]
        return UNITS.get(w, TEENS.get(w, TENS.get(w)))
    if len(words) == 2 and words[0] in TENS and words[1] in UNITS:
        return TENS[words[0]] + UNITS[words[1]]
    if len(words) == 2 and words[0] == "oh" and words[1] in UNITS:
        return UNITS[words[1]]
    return None


def spoken_year(text: str) -> int | None:
    """``nineteen eighty`` → 1980, ``nineteen eighty five`` → 1985, ``two thousand and five`` → 2005."""
    if text.isdigit():
        return int(text)
    words = [w for w in re.split(r"[\s-]+", text.lower()) if w and w != "and"]
    if words[:2] == ["two", "thousand"]:
        rest = _small_number(words[2:])
        return 2000 + rest if rest is not None else None
    if words and words[0] in ("nineteen", "twenty"):
        century = 1900 if words[0] == "nineteen" else 2000
        if words[1:] == ["hundred"]:
            return century
        rest = _small_number(words[1:])
        return century + rest if rest is not None and rest < 100 else None
    return None


def _day(match: re.Match[str]) -> str:
    tens = {"twenty": 20, "thirty": 30}.get((match.group(1) or "").lower(), 0)
    return f"{tens + ORDINALS[match.group(2).lower()]} {match.group(3)}"


def _iso_date(match: re.Match[str]) -> str:
    year = spoken_year(match.group(3))
    if year is None:
        return match.group(0)
    return f"{year:04d}-{MONTHS.index(match.group(2).lower()) + 1:02d}-{int(match.group(1)):02d}"


def _email(match: re.Match[str]) -> str:
    def join(part: str) -> str:
        part = re.sub(r"\s+dot\s+", ".", part, flags=re.IGNORECASE)
        part = re.sub(r"\s+underscore\s+", "_", part, flags=re.IGNORECASE)
        return re.sub(r"\s+dash\s+", "-", part, flags=re.IGNORECASE)

    return f"{join(match.group(1))}@{join(match.group(2))}".lower()


def normalize_spoken(text: str) -> str:
    """Rewrite spoken numbers, codes, dates and emails in ``text`` into written form."""
    text = _SPOKEN_EMAIL.sub(_email, text)
    text = _SPOKEN_DAY.sub(_day, text)
    text = _DATE_WITH_YEAR.sub(_iso_date, text)
    text = _DIGIT_RUN.sub(_digits, text)
    return _LETTER_CODE.sub(lambda m: f"{m.group(1).upper()}{m.group(2)}", text)
