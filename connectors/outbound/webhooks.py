"""Twilio's webhooks for outbound contacts (mounted by :func:`setup_routes` in :mod:`.routes`).

    POST /voice/outbound/answer?attempt=ID   the placed call was answered: voicemail TwiML, or the stream
    POST /voice/outbound/status?attempt=ID   the call ended (completed, busy, no-answer, failed, canceled)
    POST /sms/inbound                        a text message to our number: "C" confirms, "STOP" opts out

Every one must carry Twilio's ``X-Twilio-Signature`` when ``TWILIO_AUTH_TOKEN`` is set (403 otherwise), as the
voice webhooks do. ``AnsweredBy`` (Twilio's machine detection) naming a machine gets the voicemail at once; a
person (or ``unknown``) is connected to ``/voice/stream`` with a stream token for conversation
``outbound-<attempt>``, which runs the :class:`~connectors.outbound.bridge.OutboundBridge`.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from aiohttp import web

from bot.infra.logs import get_logger
from bot.kernel.errors import RequestError
from bot.outbound import OutboundService, Outcome, machine_answered
from bot.outbound.errors import CampaignNotFound
from connectors.outbound.bridge import conversation_id
from connectors.voice.errors import WebhookForbidden
from connectors.voice.routes import TOKEN_PARAMETER, VOICE, request_url, stream_url
from connectors.voice.signing import twilio_signature_valid
from connectors.voice.twiml import connect_stream, say_and_hang_up

log = get_logger(__name__)

ATTEMPT_ID = re.compile(r"^[0-9a-f]{16}$")
PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
#: Twilio's CallStatus of a call that ended → the outcome when nothing else was recorded.
END_STATUS = {"completed": Outcome.REACHED, "busy": Outcome.NO_ANSWER, "no-answer": Outcome.NO_ANSWER,
              "failed": Outcome.FAILED, "canceled": Outcome.FAILED}
OUTBOUND: web.AppKey[OutboundService] = web.AppKey("outbound", OutboundService)
WEBHOOK_TOKEN: web.AppKey[str] = web.AppKey("outbound_webhook_token", str)


async def signed_form(request: web.Request) -> dict[str, str]:
    """The webhook's form, after checking Twilio's signature when ``TWILIO_AUTH_TOKEN`` is set."""
    try:
        form = await request.post() if request.content_type == "application/x-www-form-urlencoded" else {}
    except ValueError as exc:
        raise RequestError("the webhook form is not UTF-8 application/x-www-form-urlencoded") from exc
    items = [(str(k), str(v)) for k, v in form.items()]
    token = request.app.get(WEBHOOK_TOKEN) or None
    if token is not None:
        signature = request.headers.get("X-Twilio-Signature")
        if not twilio_signature_valid(token, request_url(request), items, signature):
            reason = "missing X-Twilio-Signature" if not signature else "X-Twilio-Signature does not match"
            log.warning("outbound_webhook_refused", reason=reason, path=request.path)
            raise WebhookForbidden(f"{reason} (Twilio signs every webhook with the account's auth token)")
    return dict(items)


def _attempt_id(request: web.Request) -> str:
    attempt_id = request.query.get("attempt", "")
    if not ATTEMPT_ID.match(attempt_id):
        raise RequestError("'attempt' must be the 16 hex digits of an outbound attempt")
    return attempt_id


async def answer(request: web.Request) -> web.Response:
    """The placed call was answered: the voicemail for a machine, else the stream into the pipeline."""
    service = request.app[OUTBOUND]
    form = await signed_form(request)
    attempt_id = _attempt_id(request)
    attempt = await service.store.attempt(attempt_id)
    if attempt is None:
        raise CampaignNotFound(f"no outbound attempt {attempt_id}")
    call_sid = form.get("CallSid", "")
    if attempt.provider_sid is not None and call_sid != attempt.provider_sid:
        raise RequestError("this CallSid is not the call placed for the attempt")
    if attempt.outcome is not None:
        return web.Response(text=say_and_hang_up("Goodbye."), content_type="text/xml")
    script = await service.script(attempt_id)
    assert script is not None  # the attempt exists, so does its target
    answered_by = form.get("AnsweredBy")
    if machine_answered(answered_by):
        step = script.voicemail()
        await service.report(attempt_id, Outcome.VOICEMAIL, detail=f"AnsweredBy={answered_by}")
        log.info("outbound_voicemail_detected", attempt_id=attempt_id, by="twilio_amd")
        return web.Response(text=say_and_hang_up(step.say), content_type="text/xml")
    state = request.app[VOICE]
    token = state.tokens.mint(conversation_id(attempt_id), call_sid, form.get("To"))
    log.info("outbound_call_answered", attempt_id=attempt_id, answered_by=answered_by or "unknown")
    return web.Response(text=connect_stream(stream_url(request), {TOKEN_PARAMETER: token}), content_type="text/xml")


async def status(request: web.Request) -> web.Response:
    """The call ended: its outcome unless the dialogue already recorded one (then nothing changes)."""
    service = request.app[OUTBOUND]
    form = await signed_form(request)
    attempt_id = _attempt_id(request)
    outcome = END_STATUS.get(form.get("CallStatus", ""))
    if outcome is not None:
        await service.report(attempt_id, outcome, detail=f"CallStatus={form.get('CallStatus')}")
    return web.Response(status=204)


async def sms_inbound(request: web.Request) -> web.Response:
    """A text to our number: the reply TwiML (``C`` confirmed, ``STOP`` opted out, else how to answer)."""
    service = request.app[OUTBOUND]
    form = await signed_form(request)
    phone, body = form.get("From", ""), form.get("Body", "")
    if not PHONE.match(phone):
        raise RequestError("'From' must be an E.164 phone number")
    text = await service.reply(phone, body[:320])
    return web.Response(text=f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(text)}</Message>'
                             "</Response>", content_type="text/xml")
