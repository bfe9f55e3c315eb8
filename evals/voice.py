"""Voice mode: the same suites spoken over the phone line of a running server.

Each case is a simulated call (:class:`connectors.voice.caller.SimulatedCaller`: espeak-ng speech as
Twilio Media Streams μ-law audio → the server's STT → engine → TTS back). A turn's text is spoken
(digits-only text is pressed as DTMF keys); the turn ends when the bot has finished speaking; the
events come from the tracker as in ``--url`` mode. What the speech recognizer heard is the user event's
text, so the word error rate compares it with what the case said (see :func:`word_error_rate`).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from bot.kernel.errors import ProviderError
from bot.kernel.events import Event
from connectors.voice.config import webhook_auth_token
from evals.format import Case
from evals.targets import HttpTarget, TargetError

_DTMF = re.compile(r"^[0-9#*]{1,12}$")
_WORDS = re.compile(r"[a-z0-9']+")


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance over the reference length (case and punctuation ignored)."""
    ref, hyp = _WORDS.findall(reference.casefold()), _WORDS.findall(hypothesis.casefold())
    if not ref:
        return 0.0 if not hyp else 1.0
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, heard in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != heard))
    return row[-1] / len(ref)


class VoiceTarget(HttpTarget):
    """Calls the server's ``/voice/stream`` once per case and reads the events from the tracker."""

    name = "voice"

    def __init__(self, base_url: str, token: str, *, reply_timeout: float = 20.0) -> None:
        super().__init__(base_url, token, timeout=reply_timeout + 10)
        self.reply_timeout = reply_timeout
        self._calls: dict[str, tuple[contextlib.AsyncExitStack, Any]] = {}

    async def start(self, conversation_id: str, case: Case) -> list[Event]:
        await super().start(conversation_id, case)
        from connectors.voice.caller import SimulatedCaller

        stack = contextlib.AsyncExitStack()
        # the server mints the call's conversation id (a caller never chooses it): the tracker is read under it
        caller = await stack.enter_async_context(SimulatedCaller.connect(
            self.base_url, auth_token=webhook_auth_token()))
        if caller.conversation_id is None:
            await stack.aclose()
            raise TargetError("the server's TwiML minted no stream token, so the call has no conversation id")
        self._calls[conversation_id] = (stack, caller)
        with contextlib.suppress(TimeoutError):
            await caller.next_reply(within=self.reply_timeout)  # the greeting, when the line has one
        return await self._events(caller.conversation_id)

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> tuple[list[Event], float]:
        if conversation_id not in self._calls:
            raise TargetError("no call in progress for this conversation")
        _stack, caller = self._calls[conversation_id]
        if _DTMF.match(text.strip()):
            await caller.press(text.strip())
        else:
            await caller.say(text)
        latency = 0.0
        with contextlib.suppress(TimeoutError):  # a handed-off or silent bot says nothing: judged by events
            reply = await caller.next_reply(within=self.reply_timeout)
            latency = max(reply.latency_ms or 0.0, 0.0)  # a DTMF reply can start before the key gap ends
        return await self._events(caller.conversation_id or conversation_id), latency

    async def _events(self, conversation_id: str) -> list[Event]:
        from evals.targets import event_from_tracker

        try:
            tracker = await self._call("GET", f"/conversations/{conversation_id}/tracker",
                                       headers={"Authorization": f"Bearer {self.token}"})
        except ProviderError as exc:  # a call that has produced no event yet answers 404
            if "HTTP 404" in str(exc):
                return []
            raise
        return [event_from_tracker(e) for e in tracker.get("events", [])]

    async def finish(self, conversation_id: str) -> None:
        call = self._calls.pop(conversation_id, None)
        if call is not None:
            await call[0].aclose()

    async def close(self) -> None:
        for conversation_id in list(self._calls):
            await self.finish(conversation_id)
        await super().close()
