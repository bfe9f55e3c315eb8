"""Built-in entity extractors: order numbers, emails, phone numbers, dates and times, postcodes, PINs,
yes/no and ordinal choices.

Each extractor is a plain function ``text -> list[Entity]`` (see :data:`EntityExtractor`); values are
canonical (``A1001``, ``+442079460011``, ``1985-12-10``, ``2026-11-24T15:00``, ``True``, ``2``) so flows
and actions compare them without parsing again. ``dateparser`` runs only when the text looks like it
holds a date or time (it costs milliseconds).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.nlu.base import Entity

EntityExtractor = Callable[[str], list[Entity]]

ORDER_NUMBER = re.compile(r"\b([A-Za-z])-?(\d{4})\b")
EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
UK_POSTCODE = re.compile(r"\b([A-Za-z]{1,2}\d[A-Za-z\d]?)\s*(\d[A-Za-z]{2})\b")
US_ZIP = re.compile(r"(?<![\d-])(\d{5})(?![\d-])")
PIN = re.compile(r"(?<![\w:/.+-])(\d{4})(?![\d:/.-])")
MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
          "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DATEISH = re.compile(
    rf"\b(?:{MONTHS}|monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|wed|thu|fri|sat|sun|"
    r"today|tomorrow|tonight|yesterday|next|noon|midday|morning|afternoon|evening|week)\b|"
    r"\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}|\b\d{1,2}(?::\d{2})?\s*(?:am|pm)\b|\b\d{1,2}:\d{2}\b|\b\d{1,2}(?:st|nd|rd|th)\b",
    re.IGNORECASE,
)
YES = re.compile(r"^\s*(?:yes|yeah|yep|yup|sure|ok(?:ay)?|correct|right|confirm(?:ed)?|please do|do it|go ahead|"
                 r"absolutely|definitely|of course|that's right|that is right|affirmative|y)\b", re.IGNORECASE)
NO = re.compile(r"^\s*(?:no|nope|nah|don't|do not|not really|negative|cancel that|n)\b", re.IGNORECASE)
ORDINAL_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "1st": 1, "2nd": 2,
                 "3rd": 3, "4th": 4, "5th": 5, "6th": 6, "last": -1, "latter": -1, "former": 1}
ORDINAL = re.compile(r"\b(?:the\s+)?(first|second|third|fourth|fifth|sixth|last|latter|former|1st|2nd|3rd|4th|5th|6th)"
                     r"(?:\s+(?:one|option|slot|time|appointment))?\b|\b(?:option|number|choice)\s+(\d)\b",
                     re.IGNORECASE)


def extract_order_numbers(text: str) -> list[Entity]:
    """``a1001``, ``A-1001`` → ``A1001``."""
    return [Entity("order_number", (m.group(1) + m.group(2)).upper(), m.start(), m.end(), "builtin")
            for m in ORDER_NUMBER.finditer(text)]


def extract_emails(text: str) -> list[Entity]:
    """Email addresses, lower-cased."""
    return [Entity("email", m.group(0).lower(), m.start(), m.end(), "builtin") for m in EMAIL.finditer(text)]


_DATE_SHAPED = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
"""A number written as a date (``1985-12-10``, ``10/12/1985``) is not a phone number."""


def extract_phones(text: str, regions: tuple[str, ...] = ("GB", "US")) -> list[Entity]:
    """Phone numbers in E.164 (``phonenumbers``), trying each region for national formats: the first region in
    which the number is valid wins ("(415) 555-0100" is American even where British is tried first)."""
    import phonenumbers

    if sum(ch.isdigit() for ch in text) < 7:
        return []
    found: dict[int, tuple[bool, Entity]] = {}
    for region in regions:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE):
            if _DATE_SHAPED.fullmatch(match.raw_string.strip()):
                continue
            valid = phonenumbers.is_valid_number(match.number)
            if match.start in found and (found[match.start][0] or not valid):
                continue  # an earlier region read it already, as validly
            value = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            found[match.start] = (valid, Entity("phone", value, match.start, match.end, "phonenumbers"))
    return [entity for _, entity in found.values()]


def extract_postcodes(text: str) -> list[Entity]:
    """UK postcodes (``sw1a 1aa`` → ``SW1A 1AA``) and 5-digit US ZIP codes."""
    out = [Entity("postcode", f"{m.group(1)} {m.group(2)}".upper(), m.start(), m.end(), "builtin")
           for m in UK_POSTCODE.finditer(text)]
    out += [Entity("postcode", m.group(1), m.start(), m.end(), "builtin") for m in US_ZIP.finditer(text)]
    return out


def extract_pins(text: str) -> list[Entity]:
    """Standalone 4-digit numbers (a PIN, typed or as DTMF)."""
    return [Entity("pin", m.group(1), m.start(), m.end(), "builtin") for m in PIN.finditer(text)]


def extract_yes_no(text: str) -> list[Entity]:
    """``yes``/``sure``/``go ahead`` → True; ``no``/``nope``/``don't`` → False (answers that start with them)."""
    if NO.match(text):
        return [Entity("yes_no", False, 0, len(text), "builtin")]
    if YES.match(text):
        return [Entity("yes_no", True, 0, len(text), "builtin")]
    return []


def extract_ordinals(text: str) -> list[Entity]:
    """``the second one`` → 2, ``option 3`` → 3, ``the last one`` → -1."""
    out = []
    for m in ORDINAL.finditer(text):
        value = ORDINAL_WORDS[m.group(1).lower()] if m.group(1) else int(m.group(2))
        out.append(Entity("ordinal", value, m.start(), m.end(), "builtin"))
    return out


def extract_dates(text: str, *, now: datetime | None = None, date_order: str = "MDY") -> list[Entity]:
    """Dates (``date``: ``1985-12-10``) and, when a time is said, ``datetime`` (``2026-11-24T15:00``).

    ``date_order`` reads all-number dates (``DMY``: 10/12/1985 is 10 December). A two-digit year that would put
    the date more than ten years ahead is of the previous century ("10 Dec 85" is 1985: a date of birth, not 2085).
    """
    if not _DATEISH.search(text):
        return []
    from dateparser.search import search_dates

    settings: dict[str, Any] = {"PREFER_DATES_FROM": "future", "RETURN_AS_TIMEZONE_AWARE": False,
                                "DATE_ORDER": date_order}
    if now is not None:
        settings["RELATIVE_BASE"] = now
    if re.search(r"\b(?:born|birth|dob|birthday)\b|\b(?:19|20)\d{2}\b", text, re.IGNORECASE):
        settings["PREFER_DATES_FROM"] = "past"
    try:
        found = search_dates(text, languages=["en"], settings=settings) or []
    except (ValueError, OverflowError):
        return []
    out: list[Entity] = []
    merged: datetime | None = None
    has_time = False
    for span, value in found:
        if re.fullmatch(r"\d{1,4}", span.strip()) or span.strip().lower() in ("now", "a", "on", "at", "sat", "sun"):
            continue
        start = text.find(span)
        if value.year > (now or datetime.now()).year + 10 and re.search(r"(?<!\d)\d{2}\s*$", span):
            value = value.replace(year=value.year - 100)
        timed = bool(re.search(r"\d:\d|am\b|pm\b|noon|midday|morning|afternoon|evening|tonight|o'clock", span,
                               re.IGNORECASE))
        out.append(Entity("date", value.date().isoformat(), start, start + len(span), "dateparser"))
        if timed:
            has_time = True
            merged = value if merged is None else merged.replace(hour=value.hour, minute=value.minute)
        elif merged is None:
            merged = value
    if has_time and merged is not None:
        out.append(Entity("datetime", merged.strftime("%Y-%m-%dT%H:%M"), 0, len(text), "dateparser"))
    return out


BUILTIN_EXTRACTORS: tuple[EntityExtractor, ...] = (
    extract_order_numbers, extract_emails, extract_phones, extract_postcodes, extract_pins, extract_yes_no,
    extract_ordinals, extract_dates,
)

MONTH_FIRST = frozenset({"US", "PH", "FM", "MH", "PW"})
"""Countries whose all-number dates put the month first (12/10/1985 is 10 December)."""


def builtin_extractors(locale: str = "en-US") -> tuple[EntityExtractor, ...]:
    """The built-in extractors for ``locale`` (``en-GB``): dates in its day/month order, national phone numbers
    read in its country first."""
    country = locale.rpartition("-")[2].upper() or "US"
    order = "MDY" if country in MONTH_FIRST else "DMY"
    regions = tuple(dict.fromkeys((country, "GB", "US")))

    def extract_local_dates(text: str) -> list[Entity]:
        return extract_dates(text, date_order=order)

    def extract_local_phones(text: str) -> list[Entity]:
        return extract_phones(text, regions)

    return (extract_order_numbers, extract_emails, extract_local_phones, extract_postcodes, extract_pins,
            extract_yes_no, extract_ordinals, extract_local_dates)


#: When spans overlap, the entity on the left wins over those on the right ("1985-12-10" is a date, not a phone).
PRECEDENCE = ("email", "date", "phone", "order_number", "postcode", "pin", "ordinal")


def resolve_overlaps(entities: list[Entity]) -> list[Entity]:
    """Drop entities whose span overlaps one of higher :data:`PRECEDENCE` (whole-message ones never clash)."""
    rank = {name: i for i, name in enumerate(PRECEDENCE)}
    spanned = [e for e in entities if e.entity in rank]
    kept = [e for e in entities if e.entity not in rank]
    for entity in sorted(spanned, key=lambda e: rank[e.entity]):
        if not any(k.entity in rank and k.start < entity.end and entity.start < k.end for k in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: (e.start, e.entity))


def extract_all(text: str, extractors: tuple[EntityExtractor, ...] = BUILTIN_EXTRACTORS) -> list[Entity]:
    """Every built-in entity in ``text`` (overlaps resolved)."""
    out: list[Entity] = []
    for extractor in extractors:
        out.extend(extractor(text))
    return resolve_overlaps(out)


def warm_up() -> None:
    """Load dateparser's and phonenumbers' data now (the first call costs seconds), not on a customer's turn."""
    extract_all("born 10 December 1985, call +44 20 7946 0011 next Tuesday at 3pm")
