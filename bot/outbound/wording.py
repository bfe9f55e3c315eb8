"""What an outbound contact says, under the disclosure policy (``outbound.disclosure``).

Until the callee has verified, whoever answers may not be the customer: with ``verified_only`` (the default)
nothing but the organisation and "an appointment" is said; ``name_only`` adds the customer's first name;
``everything`` says the appointment itself. Messages (SMS) and voicemails can be read or heard by anyone
with the phone, so they follow the same policy as an unverified callee.
"""

from __future__ import annotations

from typing import Any

from bot.outbound.config import OutboundConfig


def _when(start: str) -> str:
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(start)
    except (TypeError, ValueError):
        return str(start)
    hour = moment.strftime("%I").lstrip("0")
    minutes = "" if moment.minute == 0 else f":{moment.minute:02d}"
    return f"{moment:%A} {moment.day} {moment:%B} at {hour}{minutes} {moment:%p}".replace("AM", "a m") \
        .replace("PM", "p m")


def describe(subject: dict[str, Any]) -> str:
    """``your Blood test with Nurse Mary Seacole on Saturday 28 November at 8:15 a m``."""
    if "order_id" in subject:
        eta = subject.get("eta")
        return f"your order {subject['order_id']}" + (f", which was due on {eta}," if eta else "")
    return f"your {subject.get('service', 'appointment')} with {subject.get('clinician', 'us')} on " \
           f"{_when(str(subject.get('start', '')))}"


def when(start: str) -> str:
    """A slot's time as said on the phone."""
    return _when(start)


def about(config: OutboundConfig, subject: dict[str, Any], first_name: str | None, *, verified: bool) -> str:
    """What the contact concerns, as much as the policy allows before (or after) verification."""
    kind = "an order" if "order_id" in subject else "an appointment"
    if verified or config.disclosure == "everything":
        return describe(subject)
    if config.disclosure == "name_only" and first_name:
        return f"{kind} for {first_name}"
    return kind


def opening(config: OutboundConfig, subject: dict[str, Any], first_name: str | None) -> str:
    """The first thing an answered call hears."""
    return (f"Hello, this is {config.organisation} calling about {about(config, subject, first_name, verified=False)}."
            " For your security, please enter your PIN, or your date of birth as eight digits, day, month and year,"
            " then press hash. Press 0 at any time to speak to a person.")


def offer(subject: dict[str, Any]) -> str:
    """The choices, once verified."""
    return (f"Thank you. This is about {describe(subject)}. Press 1 to confirm, 2 to reschedule, 3 to cancel,"
            " or 0 to speak to a person. Press 9 if you do not want these calls.")


def voicemail(config: OutboundConfig, subject: dict[str, Any], first_name: str | None) -> str:
    """The short message left on an answering machine (never more than an unverified callee hears)."""
    back = f" on {config.callback_number}" if config.callback_number else ""
    return (f"Hello, this is {config.organisation} with a message about "
            f"{about(config, subject, first_name, verified=False)}. Please call us back{back}. Thank you, goodbye.")


def reminder(config: OutboundConfig, subject: dict[str, Any], first_name: str | None) -> str:
    """An SMS reminder: reply C to confirm, STOP to opt out."""
    if "order_id" in subject:
        return (f"{config.organisation}: there is news about {about(config, subject, first_name, verified=False)}"
                f" - it is running late. Chat with us for details: {config.chat_url} Reply STOP to opt out.")
    return (f"{config.organisation}: a reminder about {about(config, subject, first_name, verified=False)}"
            " tomorrow. Reply C to confirm, or call us to change it. Reply STOP to opt out.")


GOODBYE = "Thank you, goodbye."
CONFIRMED = "Your appointment is confirmed. Thank you, goodbye."
CANCELLED = "Your appointment is cancelled. Thank you, goodbye."
OPTED_OUT = "We will not call you about this again. Goodbye."
NOT_VERIFIED = "Sorry, we could not verify you. Please call us back. Goodbye."
TRY_AGAIN = "Sorry, that did not match. Please enter your PIN or your date of birth again, then press hash."
TRANSFER = "Please hold while I connect you to a person."
PRESS_A_KEY = "Please use your keypad."
ENTER_PROOF = "Please enter your PIN, or your date of birth as eight digits, on the keypad, then press hash."
REPLY_CONFIRMED = "Thank you, your appointment is confirmed."
REPLY_OPTED_OUT = "You will not receive further messages from us."
REPLY_UNKNOWN = "Sorry, we did not understand. Reply C to confirm or STOP to opt out."
