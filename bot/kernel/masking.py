"""PII masking: the one set of patterns every sink uses (log lines, LLM prompts, handoff summaries, agent views).

:func:`mask_text` replaces emails, IBANs, national numbers, card numbers, dates, PINs or codes given by name,
street addresses, postcodes and phone numbers with placeholders (``[email]``, ``[iban]`` ...); IPv4 addresses
stay. :func:`mask_value` does the same through nested event data and masks whole the values of
:data:`SENSITIVE_KEYS`. :func:`pii_kinds` says which kinds a text holds (the PII guardrail's evidence).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["SENSITIVE_KEYS", "iban_valid", "luhn_valid", "mask_text", "mask_value", "pii_kinds"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: An IBAN, spaced in groups of four or written in one run (``GB82 WEST 1234 …``, ``DE89370400440532013000``).
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b", re.IGNORECASE)
#: A UK National Insurance number (``AB 12 34 56 C``, ``QQ123456C``): any two letters, as HMRC's own examples
#: (``QQ``) and mistyped prefixes are still someone's number; six digits, spaced in pairs or not; suffix A-D.
_NINO = re.compile(r"\b[A-Z]{2}(?:\s?\d{2}){3}\s?[A-D]\b", re.IGNORECASE)
#: A US Social Security number (``123-45-6789``).
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_PHONE = re.compile(r"(?<![\w/])\+?\d[\d ().-]{6,}\d(?!\w)")
#: An IPv4 address (``203.0.113.7``, octets 0-255): kept as it is, never read as a phone number or a date.
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.])((?:{_OCTET}\.){{3}}{_OCTET})(?!\.?\w)")
_DATE = re.compile(
    r"\b(?:\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})\b"
    r"|\b\d{1,2}(?:st|nd|rd|th)? (?:of )?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]* \d{4}\b",
    re.IGNORECASE,
)
_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
_STREET = re.compile(
    r"\b\d{1,5}[a-z]?,?\s+(?:(?!(?:on|in|to|for|of|my|your|a|an|by|at|is|are|was|and|or|per|this|that|it)\s)"
    r"[a-z][a-z'-]*\s+){1,3}"
    r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|close|way|court|ct|place|pl|crescent|terrace|gardens|"
    r"grove|square|boulevard|blvd|hill|mews|row|walk|parade)\b\.?",
    re.IGNORECASE,
)
_SECRET = re.compile(r"\b(pin|passcode|code|otp|password)(\s+(?:number\s+)?(?:is|was)|:)?\s*\d{4,8}\b", re.IGNORECASE)

#: Keys whose values are masked whole, whatever they contain.
SENSITIVE_KEYS = frozenset(
    {"email", "phone", "dob", "date_of_birth", "postcode", "pin", "card", "card_number", "password", "token", "otp"}
)


def iban_valid(candidate: str) -> bool:
    """True when ``candidate`` (spaces allowed) passes the IBAN check (ISO 13616: mod 97 == 1)."""
    compact = re.sub(r"\s", "", candidate).upper()
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _iban(match: re.Match[str]) -> str:
    return "[iban]" if iban_valid(match.group(0)) else match.group(0)


def _card(match: re.Match[str]) -> str:
    """A 13-19 digit run is a card only when it passes Luhn (an order or tracking number usually does not)."""
    return "[card]" if luhn_valid(re.sub(r"\D", "", match.group(0))) else match.group(0)


def _phone(match: re.Match[str]) -> str:
    """9-15 digits, written with a ``+``, a leading 0, brackets or separators: a reference number written in one
    run (``100423345``) is not a phone number."""
    value = match.group(0)
    digits = re.sub(r"\D", "", value)
    spelled = value[0] in "+0(" or bool(re.search(r"[ ().-]", value))
    return "[phone]" if 9 <= len(digits) <= 15 and spelled else value


def mask_text(text: str) -> str:
    """``text`` with emails, IBANs, national numbers, card numbers, dates, PINs or codes given after their name
    ("my pin is 4821"), street addresses, postcodes and phone numbers replaced by placeholders; IPv4
    addresses stay."""
    parts = _IPV4.split(text)
    parts[::2] = [_mask_segment(part) for part in parts[::2]]
    return "".join(parts)


def _mask_segment(text: str) -> str:
    text = _EMAIL.sub("[email]", text)
    text = _IBAN.sub(_iban, text)
    text = _NINO.sub("[national_id]", text)
    text = _SSN.sub("[national_id]", text)
    text = _CARD.sub(_card, text)
    text = _DATE.sub("[date]", text)
    text = _SECRET.sub(lambda m: f"{m.group(1)}{m.group(2) or ''} [secret]", text)
    text = _STREET.sub("[address]", text)
    text = _POSTCODE.sub("[postcode]", text)
    return _PHONE.sub(_phone, text)


def mask_value(key: str, value: Any) -> Any:
    """``value`` (found under ``key``) masked: whole for a sensitive key, else every string in it."""
    if key.lower() in SENSITIVE_KEYS and value not in (None, ""):
        return "[masked]"
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(key, v) for v in value]
    return value


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` passes the Luhn checksum (payment card numbers do)."""
    total, parity = 0, len(digits) % 2
    for index, char in enumerate(digits):
        value = int(char)
        if index % 2 == parity:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def pii_kinds(text: str) -> list[str]:
    """Which kinds of PII ``text`` holds (``card`` only for Luhn-valid numbers)."""
    kinds = []
    for match in _CARD.finditer(text):
        if luhn_valid(re.sub(r"\D", "", match.group(0))):
            kinds.append("card")
            break
    if any(iban_valid(m.group(0)) for m in _IBAN.finditer(text)):
        kinds.append("iban")
    for kind, pattern in (("national_id", _NINO), ("national_id", _SSN)):
        if kind not in kinds and pattern.search(text):
            kinds.append(kind)
    masked = mask_text(_CARD.sub("", text))
    kinds += [k for k in ("email", "phone", "date") if f"[{k}]" in masked]
    return kinds
