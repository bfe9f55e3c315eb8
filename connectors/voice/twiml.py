"""TwiML documents and the Twilio REST call that transfers a live call.

* :func:`connect_stream` answers an incoming call by connecting it to our Media Streams websocket,
  passing the conversation id as a stream parameter.
* :func:`dial` transfers the call to a number or SIP URI; the conversation id travels as a SIP header
  (``X-Careline-Conversation``) or, for a number, in the call's status-callback query, so the agent
  console can show the whole context before the agent picks up.
* :func:`transfer_call` applies new TwiML to the live call with Twilio's REST API (``Calls/{sid}``).
"""

from __future__ import annotations

from urllib.parse import quote
from xml.sax.saxutils import escape

import aiohttp

from bot.infra.logs import get_logger
from bot.kernel.errors import ProviderError
from connectors.voice.config import HandoffConfig, TwilioCredentials

log = get_logger(__name__)

TWILIO_TIMEOUT_SECS = 10


def quoteattr(value: str) -> str:
    """An XML attribute value in double quotes (``"`` escaped as ``&quot;``)."""
    return '"' + escape(value, {'"': "&quot;"}) + '"'


def connect_stream(stream_url: str, parameters: dict[str, str], *, say: str | None = None) -> str:
    """``<Response><Connect><Stream url=...>`` with ``<Parameter>``s (and an optional ``<Say>`` first)."""
    params = "".join(f"<Parameter name={quoteattr(k)} value={quoteattr(v)}/>" for k, v in parameters.items())
    spoken = f"<Say>{escape(say)}</Say>" if say else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><Response>{spoken}<Connect>'
            f"<Stream url={quoteattr(stream_url)}>{params}</Stream></Connect></Response>")


def say_and_hang_up(text: str) -> str:
    """``<Response><Say>text</Say><Hangup/>``."""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Say>{escape(text)}</Say><Hangup/></Response>'


def dial(config: HandoffConfig, conversation_id: str) -> str:
    """TwiML transferring the call to ``config.dial`` with the conversation id attached."""
    if not config.dial:
        raise ValueError("handoff.dial is not configured")
    caller = f" callerId={quoteattr(config.caller_id)}" if config.caller_id else ""
    if config.dial.startswith("sip:"):
        separator = "&" if "?" in config.dial else "?"
        uri = f"{config.dial}{separator}X-Careline-Conversation={quote(conversation_id, safe='')}"
        target = f"<Sip>{escape(uri)}</Sip>"
    else:
        target = f"<Number>{escape(config.dial)}</Number>"
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Dial{caller}>{target}</Dial></Response>'


async def transfer_call(credentials: TwilioCredentials, call_sid: str, twiml: str) -> None:
    """Replace the live call's TwiML (Twilio ends the media stream and runs ``twiml``)."""
    url = f"{credentials.api_base.rstrip('/')}/2010-04-01/Accounts/{credentials.account_sid}/Calls/{call_sid}.json"
    headers = {"Authorization": aiohttp.encode_basic_auth(credentials.account_sid, credentials.auth_token)}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TWILIO_TIMEOUT_SECS)) as session, \
                session.post(url, headers=headers, data={"Twiml": twiml}) as response:
                if response.status >= 400:
                    body = (await response.text())[:200]
                    raise ProviderError(f"Twilio refused the transfer: HTTP {response.status} {body}",
                                        provider="twilio", permanent=response.status < 500)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ProviderError(f"Twilio unreachable: {exc}", provider="twilio") from exc
    log.info("voice_call_transferred", call_sid=call_sid)
