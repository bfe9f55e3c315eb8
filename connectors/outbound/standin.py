"""A local stand-in for Twilio's REST API, for tests (point ``TWILIO_API_BASE`` at it).

It accepts ``Calls.json`` and ``Messages.json`` as Twilio does (basic auth, a form, a JSON answer with a
``sid``), records them, and then plays Twilio's part towards the app, signing every webhook with the auth
token: :meth:`TwilioStandIn.answer_url` / :meth:`SimulatedCaller.answer` picks a placed call up,
:meth:`end_call` sends its status callback, :meth:`text` delivers an inbound SMS::

    standin = TwilioStandIn("secret-token")
    async with standin.serve() as twilio_url:
        ...  # TWILIO_API_BASE=twilio_url; run a campaign tick
        call = await standin.next_call()
        async with SimulatedCaller.answer(call.url, standin.answer_form(call), auth_token="secret-token") as c:
            ...
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from bot.testing.server import serve_app
from connectors.voice.signing import twilio_signature


@dataclass(frozen=True, slots=True)
class PlacedCall:
    """A call the app asked the stand-in to place."""

    sid: str
    to: str
    from_: str
    url: str
    status_callback: str | None
    form: dict[str, str]
    authorization: str | None


@dataclass
class TwilioStandIn:
    """Twilio's REST API on a local port (see the module docstring)."""

    auth_token: str
    account_sid: str = "AC0123"
    calls: list[PlacedCall] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)
    updates: list[dict[str, str]] = field(default_factory=list)
    """Changes to live calls (a hang-up: ``Status=completed``; a transfer: ``Twiml``)."""
    _placed: asyncio.Queue[PlacedCall] = field(default_factory=asyncio.Queue)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Calls.json", self._create_call)
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self._create_message)
        app.router.add_post("/2010-04-01/Accounts/{account}/Calls/{call}.json", self._update_call)
        return app

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        async with serve_app(self.app()) as url:
            yield url

    async def _create_call(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        if request.match_info["account"] != self.account_sid:
            return web.json_response({"message": "account not found"}, status=404)
        call = PlacedCall("CA" + uuid.uuid4().hex, form.get("To", ""), form.get("From", ""), form.get("Url", ""),
                          form.get("StatusCallback"), form, request.headers.get("Authorization"))
        self.calls.append(call)
        self._placed.put_nowait(call)
        return web.json_response({"sid": call.sid, "status": "queued"}, status=201)

    async def _update_call(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.updates.append({"call": request.match_info["call"], **form})
        return web.json_response({"sid": request.match_info["call"], "status": form.get("Status", "in-progress")})

    async def _create_message(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        sid = "SM" + uuid.uuid4().hex
        self.messages.append({**form, "sid": sid})
        return web.json_response({"sid": sid, "status": "queued"}, status=201)

    async def next_call(self, *, within: float = 10.0) -> PlacedCall:
        """The next call the app placed (waits up to ``within`` seconds)."""
        return await asyncio.wait_for(self._placed.get(), timeout=within)

    def answer_form(self, call: PlacedCall, *, answered_by: str = "human") -> dict[str, str]:
        """The form Twilio posts to a placed call's ``Url`` when it is answered (``AnsweredBy`` from AMD)."""
        return {"CallSid": call.sid, "AccountSid": self.account_sid, "To": call.to, "From": call.from_,
                "Direction": "outbound-api", "CallStatus": "in-progress", "AnsweredBy": answered_by}

    async def post(self, url: str, form: dict[str, str], *, sign: bool = True) -> tuple[int, str]:
        """POST a signed webhook to the app; its status and body."""
        headers = {"X-Twilio-Signature": twilio_signature(self.auth_token, url, form.items())} if sign else {}
        async with aiohttp.ClientSession() as session, session.post(url, data=form, headers=headers) as response:
            return response.status, await response.text()

    async def answer(self, call: PlacedCall, *, answered_by: str = "human") -> str:
        """Answer ``call`` without media: the TwiML the app gives (a machine's voicemail, or the stream)."""
        status, body = await self.post(call.url, self.answer_form(call, answered_by=answered_by))
        if status != 200:
            raise AssertionError(f"the answer webhook said HTTP {status}: {body[:200]}")
        return body

    async def end_call(self, call: PlacedCall, status: str = "completed") -> int:
        """The call's status callback (``completed``, ``busy``, ``no-answer``, ``failed``)."""
        assert call.status_callback is not None
        code, _ = await self.post(call.status_callback, {"CallSid": call.sid, "AccountSid": self.account_sid,
                                                          "CallStatus": status})
        return code

    async def text(self, url: str, *, from_: str, body: str, to: str = "+15005550006") -> tuple[int, str]:
        """An inbound SMS to the app's messaging webhook ``url``."""
        return await self.post(url, {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": self.account_sid,
                                     "From": from_, "To": to, "Body": body})
