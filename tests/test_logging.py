"""Log lines are structured and never carry customers' personal data."""

from __future__ import annotations

import io
import json

import structlog

from bot.infra.logs import configure_logging
from bot.kernel.masking import mask_text


def test_mask_text_hides_emails_phones_cards_and_dates() -> None:
    """Each kind of PII is replaced by a placeholder while other words stay."""
    text = ("mail ada@example.com, call +44 20 7946 0011, card 4111 1111 1111 1111, born 1985-12-10 "
            "or 10/12/1985, order A1001")
    masked = mask_text(text)
    for secret in ("ada@example.com", "7946", "4111", "1985"):
        assert secret not in masked
    assert "[email]" in masked and "[phone]" in masked and "[card]" in masked and "[date]" in masked
    assert "order A1001" in masked


def test_mask_text_hides_addresses_postcodes_and_named_secrets() -> None:
    """Street addresses, UK postcodes and a PIN or code given by name are masked; order numbers and counts stay."""
    masked = mask_text("my postcode is SW1A 1AA and my pin is 4821; send A1001 to 12 Baker Street, London NW1 6XE")
    for secret in ("SW1A", "4821", "Baker", "NW1 6XE"):
        assert secret not in masked
    assert "[postcode]" in masked and "[secret]" in masked and "[address]" in masked and "A1001" in masked
    assert mask_text("the code: 553201") == "the code: [secret]"
    kept = "2 parcels on the way, 3 items in my order A1002 are damaged"
    assert mask_text(kept) == kept


def test_log_lines_mask_ibans_and_national_numbers_like_every_other_sink() -> None:
    """One set of patterns: an IBAN written in one run or spaced, a UK NI number and a US SSN are masked in a
    log line as they are in an LLM prompt (the log masker once let an unspaced IBAN through)."""
    stream = io.StringIO()
    configure_logging(json=True, stream=stream)
    structlog.get_logger("t").info("refund_requested", note="iban DE89370400440532013000 please",
                                   spaced="GB82 WEST 1234 5698 7654 32", ni="AB 12 34 56 C", ssn="123-45-6789")
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["note"] == "iban [iban] please" and line["spaced"] == "[iban]"
    assert line["ni"] == "[national_id]" and line["ssn"] == "[national_id]"
    assert mask_text("order A1002, 3 items") == "order A1002, 3 items"


def test_mask_text_keeps_ip_addresses_and_still_hides_phone_numbers() -> None:
    """IPv4 addresses (which operators need) are never masked as phones or dates; phone numbers still are."""
    for kept in ("client ip:203.0.113.7 refused", "peer 127.0.0.1:8080", "from 10.10.10.10.", "192.168.100.200"):
        assert mask_text(kept) == kept
    masked = mask_text("from 203.0.113.7: call 020 7946 0011 or +1 212.555.0102, or 020.794.600.11")
    assert masked == "from 203.0.113.7: call [phone] or [phone], or [phone]"


def test_json_logs_mask_pii_in_every_field_and_keep_bound_context() -> None:
    """A JSON log line masks PII in values and nested data and carries the bound conversation id."""
    stream = io.StringIO()
    configure_logging(json=True, stream=stream)
    log = structlog.get_logger("t")
    with structlog.contextvars.bound_contextvars(conversation_id="c-42"):
        log.info("customer_said", text="I'm grace@example.com", slots={"email": "x@y.io", "dob": "1979-03-03"},
                 pin="1234")
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["event"] == "customer_said" and line["conversation_id"] == "c-42" and line["level"] == "info"
    assert line["text"] == "I'm [email]"
    assert line["slots"] == {"email": "[masked]", "dob": "[masked]"}
    assert line["pin"] == "[masked]"
    configure_logging()
