"""The one PII masker (``bot.kernel.masking``) on a table of formats written apart from its patterns: IBANs of
several countries spaced and unspaced (checksum-validated), UK National Insurance numbers, Luhn-valid cards,
emails and phones; and hard negatives that must stay readable (order and tracking numbers, a mistyped IBAN,
versions, counts). Dates are masked as dates, never read as a card or a phone."""

from __future__ import annotations

import pytest

from bot.kernel.masking import iban_valid, luhn_valid, mask_text, pii_kinds

MASKED = [
    ("refund to DE89370400440532013000 please", "refund to [iban] please", "iban"),
    ("iban: DE89 3704 0044 0532 0130 00", "iban: [iban]", "iban"),
    ("GB82WEST12345698765432", "[iban]", "iban"),
    ("my account gb82 west 1234 5698 7654 32", "my account [iban]", "iban"),
    ("FR14 2004 1010 0505 0001 3M02 606", "[iban]", "iban"),
    ("NL91ABNA0417164300 is mine", "[iban] is mine", "iban"),
    ("BE68 5390 0754 7034", "[iban]", "iban"),
    ("ES9121000418450200051332", "[iban]", "iban"),
    ("IT60X0542811101000000123456", "[iban]", "iban"),
    ("CH93 0076 2011 6238 5295 7", "[iban]", "iban"),
    ("NO9386011117947", "[iban]", "iban"),
    ("my NI number is QQ123456C", "my NI number is [national_id]", "national_id"),
    ("ni: ab 12 34 56 d", "ni: [national_id]", "national_id"),
    ("JG103759A is my national insurance", "[national_id] is my national insurance", "national_id"),
    ("ssn 123-45-6789", "ssn [national_id]", "national_id"),
    ("card 4111111111111111", "card [card]", "card"),
    ("5555 5555 5555 4444 is the card", "[card] is the card", "card"),
    ("amex 3782 822463 10005", "amex [card]", "card"),
    ("4012-8888-8888-1881", "[card]", "card"),
    ("write to Ann.Lee+shop@mail.example.co.uk", "write to [email]", "email"),
    ("ring me on 07700 900123", "ring me on [phone]", "phone"),
    ("+44 (0)20 7946 0958", "[phone]", "phone"),
    ("call 212-555-0102", "call [phone]", "phone"),
    ("born 1985-12-10", "born [date]", "date"),
]

KEPT = [
    "order 1234567890123 has not arrived",
    "order number 4111111111111112",
    "tracking 100423345678 says delivered",
    "order A-1042 and order A1002",
    "ref GB00WEST12345698765432",
    "product code ABCD12345678901234",
    "version 2.13.0 of the app",
    "3 items, 2 parcels, 10042 points",
    "order #10042 please",
    "AB123456 is my order",
]


@pytest.mark.parametrize(("text", "masked", "kind"), MASKED)
def test_each_format_is_masked_and_reported(text: str, masked: str, kind: str) -> None:
    assert mask_text(text) == masked
    assert kind in pii_kinds(text)


@pytest.mark.parametrize("text", KEPT)
def test_hard_negatives_stay_readable(text: str) -> None:
    assert mask_text(text) == text
    assert not {"card", "iban", "national_id", "phone"} & set(pii_kinds(text))


def test_checksums() -> None:
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB83 WEST 1234 5698 7654 32")
    assert not iban_valid("GB82")
    assert luhn_valid("378282246310005") and not luhn_valid("378282246310006")
