"""Load drivers over HTTP: closed loop (N conversations, each sending its next message as soon as the last is
answered), open loop (Poisson message arrivals at a fixed rate, whatever the latency), one long conversation,
and widget websocket sessions that each send a message every few seconds.

A turn is an *error* when the request fails or answers a non-200 status; *unexpected* when it succeeds but the
reply lacks the script's expected text; *unanswered* when a 200 carries no reply (normal after a handoff).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks._load.scripts import KNOWLEDGE_QUESTIONS, SMALL_TALK, Say, Script, long_conversation, make_script
from benchmarks._load.stats import percentiles_ms

TIMEOUT = aiohttp.ClientTimeout(total=120)


def new_session() -> aiohttp.ClientSession:
    """A client session without a connection cap (aiohttp's default of 100 would queue the 200-conversation run
    in the client, not the server)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=TIMEOUT)


@dataclass
class Recorder:
    """Latencies and outcomes of the turns of one measurement."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    unexpected: int = 0
    unanswered: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    """The first few error descriptions."""

    def error(self, what: str) -> None:
        self.errors += 1
        self.statuses[what.split(":", 1)[0]] += 1
        if len(self.samples) < 5:
            self.samples.append(what[:300])

    def summary(self, seconds: float | None = None) -> dict[str, Any]:
        """Counts and p50/p95/p99; ``turns_per_s`` when the measured ``seconds`` are given."""
        out: dict[str, Any] = {"turns": len(self.latencies), **percentiles_ms(self.latencies), "errors": self.errors,
                               "unexpected": self.unexpected, "unanswered": self.unanswered}
        if seconds:
            out["turns_per_s"] = round(len(self.latencies) / seconds, 2)
        if self.samples:
            out["error_samples"] = self.samples
        return out


class RestClient:
    """Sends turns to the REST channel of one or more servers, round-robin per turn (any worker takes any turn)."""

    def __init__(self, http: aiohttp.ClientSession, urls: Sequence[str], token: str | None) -> None:
        self.http = http
        self.urls = list(urls)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._next = itertools.cycle(range(len(self.urls)))
        self.senders: set[str] = set()
        """Every conversation this client has sent to."""

    async def say(self, sender: str, text: str) -> tuple[int, list[dict[str, Any]] | str]:
        """POST one message; (status, the reply list) or (status, the error body)."""
        url = self.urls[next(self._next)] + "/webhooks/rest/webhook"
        self.senders.add(sender)
        async with self.http.post(url, json={"sender": sender, "message": text}, headers=self.headers) as resp:
            if resp.status != 200:
                return resp.status, (await resp.text())[:200]
            body = await resp.json()
            return 200, body if isinstance(body, list) else []

    async def turn(self, sender: str, say: Say, recorder: Recorder | None) -> float:
        """One timed turn, recorded (when ``recorder``); returns its seconds."""
        started = time.perf_counter()
        try:
            status, body = await self.say(sender, say.text)
        except (aiohttp.ClientError, TimeoutError) as exc:
            elapsed = time.perf_counter() - started
            if recorder is not None:
                recorder.error(f"{type(exc).__name__}: {exc}")
            return elapsed
        elapsed = time.perf_counter() - started
        if recorder is None:
            return elapsed
        if status != 200 or isinstance(body, str):
            recorder.error(f"{status}: {body}")
            return elapsed
        recorder.latencies.append(elapsed)
        text = " ".join(str(r.get("text", "")) for r in body).lower()
        if not body:
            recorder.unanswered += 1
        if say.expect and say.expect not in text:
            recorder.unexpected += 1
        return elapsed


def _sender(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}"


async def closed_loop(client: RestClient, conversations: int, seconds: float, *, seed: int = 0,
                      tag: str = "closed", sent: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """``conversations`` customers at once, each sending its next message when the last is answered (scripts
    drawn from the mix, a new conversation when one ends) for ``seconds``; turns finishing inside the window
    count. ``sent`` collects the messages each conversation had answered with a 200, in order."""
    recorder = Recorder()
    kinds: Counter[str] = Counter()
    started = time.perf_counter()
    deadline = started + seconds

    async def customer(index: int) -> None:
        rng = random.Random(seed * 100_003 + index)
        while time.perf_counter() < deadline:
            script = make_script(rng)
            kinds[script.kind] += 1
            sender = _sender(f"{tag}{conversations}")
            for say in script.turns:
                if time.perf_counter() >= deadline:
                    return
                result = Recorder()
                await client.turn(sender, say, result)
                if sent is not None and result.latencies:
                    sent.setdefault(sender, []).append(say.text)
                if time.perf_counter() <= deadline:
                    _merge(recorder, result)

    await asyncio.gather(*(customer(i) for i in range(conversations)))
    elapsed = min(time.perf_counter(), deadline) - started
    return {"conversations": conversations, "seconds": round(elapsed, 2), **recorder.summary(elapsed),
            "mix": dict(kinds)}


def _merge(into: Recorder, part: Recorder) -> None:
    into.latencies += part.latencies
    into.unexpected += part.unexpected
    into.unanswered += part.unanswered
    for sample in part.samples:
        into.error(sample)


async def open_loop(client: RestClient, rate: float, seconds: float, *, seed: int = 0, tag: str = "open",
                    drain: float = 60.0, max_outstanding: int = 2000) -> dict[str, Any]:
    """Messages arrive as a Poisson process of ``rate`` per second for ``seconds``, each the next message of an
    idle conversation (a new one when all are waiting for a reply), so arrivals never wait on answers. Turns
    still unanswered ``drain`` seconds after the window count as ``incomplete``."""
    rng = random.Random(seed)
    recorder = Recorder()
    idle: deque[tuple[str, Script, int]] = deque()
    tasks: set[asyncio.Task[None]] = set()
    dropped = 0

    async def send(sender: str, script: Script, index: int) -> None:
        await client.turn(sender, script.turns[index], recorder)
        if index + 1 < len(script.turns):
            idle.append((sender, script, index + 1))

    started = time.perf_counter()
    next_at = started
    arrivals = 0
    while True:
        next_at += rng.expovariate(rate)
        if next_at - started >= seconds:
            break
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        if len(tasks) >= max_outstanding:
            dropped += 1
            continue
        sender, script, index = idle.popleft() if idle else (_sender(f"{tag}{rate:g}"), make_script(rng), 0)
        task = asyncio.create_task(send(sender, script, index))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        arrivals += 1
    window = time.perf_counter() - started
    incomplete = 0
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=drain)
        incomplete = len(pending)
        for task in pending:
            task.cancel()
    return {"rate_per_s": round(rate, 2), "seconds": round(window, 2), "arrivals": arrivals,
            "achieved_rate_per_s": round(arrivals / window, 2), **recorder.summary(),
            "incomplete": incomplete, "not_sent_over_cap": dropped}


async def long_turns(client: RestClient, turns: int, *, around: Sequence[int] = (20,), span: int = 10,
                     tag: str = "long") -> dict[str, Any]:
    """One conversation of ``turns`` messages, one at a time; p50 of the turns within ``span`` of each index in
    ``around`` and of the last ``2 * span`` turns (and the last's ratio to the first)."""
    recorder = Recorder()
    sender = _sender(tag)
    times: list[float] = []
    for say in long_conversation(turns):
        before = len(recorder.latencies)
        elapsed = await client.turn(sender, say, recorder)
        times.append(elapsed if len(recorder.latencies) > before else float("nan"))
    windows: dict[str, Any] = {}
    for center in (*around, turns):
        low, high = max(0, center - span), min(turns, center + span)
        if center == turns:
            low = max(0, turns - 2 * span)
        part = [t for t in times[low:high] if t == t]
        windows[f"turn_{center}"] = {"turns": f"{low + 1}-{high}", **percentiles_ms(part)}
    first, last = windows[f"turn_{around[0]}"]["p50_ms"], windows[f"turn_{turns}"]["p50_ms"]
    ratio = round(last / first, 3) if first and last else None
    return {"turns": turns, "windows": windows, "last_over_first_p50": ratio,
            "within_10_percent": ratio is not None and ratio <= 1.10, **recorder.summary()}


async def widget_sessions(http: aiohttp.ClientSession, urls: Sequence[str], sessions: int, seconds: float, *,
                          gap: tuple[float, float] = (3.0, 6.0), seed: int = 0, drain: float = 60.0,
                          ) -> dict[str, Any]:
    """``sessions`` widget websockets (round-robin over ``urls``), each sending a varied question every
    ``gap`` seconds for ``seconds``; latency is message sent → its ``ack`` (sent once the bot's replies are
    stored). Error frames and failed connections are errors."""
    recorder = Recorder()
    questions = [*KNOWLEDGE_QUESTIONS, *SMALL_TALK]
    replies = 0
    connected = 0

    async def session(index: int) -> None:
        nonlocal replies, connected
        rng = random.Random(seed * 7919 + index)
        conversation = "w_" + uuid.uuid4().hex + uuid.uuid4().hex[:6]
        url = urls[index % len(urls)] + f"/ws/chat?conversation_id={conversation}"
        pending: dict[str, float] = {}
        settled = asyncio.Event()
        try:
            async with http.ws_connect(url, heartbeat=30) as ws:
                first = await ws.receive_json(timeout=60)
                if first.get("type") != "history":
                    recorder.error(f"protocol: first frame {first.get('type')!r}")
                    return
                connected += 1

                async def read() -> None:
                    nonlocal replies
                    async for message in ws:
                        if message.type != aiohttp.WSMsgType.TEXT:
                            continue
                        frame = message.json()
                        sent = pending.pop(str(frame.get("id")), None)
                        if not pending:
                            settled.set()
                        if frame.get("type") == "ack" and sent is not None:
                            recorder.latencies.append(time.perf_counter() - sent)
                            replies += int(frame.get("replies") or 0)
                            if not frame.get("replies"):
                                recorder.unanswered += 1
                        elif frame.get("type") == "error":
                            recorder.error(f"{frame.get('code')}: {frame.get('reason')}")

                reader = asyncio.create_task(read())
                started = time.perf_counter()
                await asyncio.sleep(rng.uniform(0, gap[1]))
                while time.perf_counter() - started < seconds:
                    client_id = uuid.uuid4().hex
                    pending[client_id] = time.perf_counter()
                    settled.clear()
                    await ws.send_json({"type": "message", "id": client_id, "text": rng.choice(questions)})
                    await asyncio.sleep(rng.uniform(*gap))
                if pending:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(settled.wait(), drain)
                if pending:
                    recorder.error(f"unanswered: {len(pending)} messages without an ack after {drain:g} s")
                reader.cancel()
        except (aiohttp.ClientError, TimeoutError) as exc:
            recorder.error(f"{type(exc).__name__}: {exc}")

    began = time.perf_counter()
    await asyncio.gather(*(session(i) for i in range(sessions)))
    elapsed = time.perf_counter() - began
    return {"sessions": sessions, "connected": connected, "seconds": round(elapsed, 2),
            "bot_replies_per_s": round(replies / elapsed, 2), **recorder.summary()}
