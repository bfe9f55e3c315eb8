"""Every route the app serves, and its sockets, fed malformed input: never a 5xx, and a refusal stores nothing.

The routes are read from the app's router, so a route added later is fuzzed without touching this file.
The server runs in a thread of its own (hypothesis drives plain synchronous requests); each example
records the number of stored events before and after, and a 4xx must leave it unchanged.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.infra.embeddings import Embedder
from bot.infra.settings import Settings
from bot.project import Project
from tests.conftest import TEST_TOKENS

TOKENS = {"none": None, "agent": "agent-token-123", "ops": "ops-token-1234", "admin": "test-admin-token"}
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


@dataclass
class LiveServer:
    """The demo app served from a background thread's event loop."""

    url: str
    loop: asyncio.AbstractEventLoop
    runtime: Any
    routes: list[tuple[str, str]]

    def call(self, coro: Any) -> Any:
        """Run ``coro`` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def stored(self) -> tuple[int, int]:
        """(stored events, conversations waiting for a person)."""

        async def count() -> tuple[int, int]:
            db = self.runtime.database
            events = await db.fetchval("SELECT COUNT(*) FROM events")
            waiting = await db.fetchval("SELECT COUNT(*) FROM conversations WHERE status IN ('handoff', 'agent')")
            return int(events or 0), int(waiting or 0)

        stored: tuple[int, int] = self.call(count())
        return stored


@pytest.fixture(scope="module")
def live(embedder: Embedder, demo_project: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo app on a free port, its runtime on a fresh SQLite file."""
    from bot.app.runtime import build_runtime
    from bot.testing.workers import free_port
    from connectors.web import create_app

    loop = asyncio.new_event_loop()
    ready: Future[LiveServer] = Future()
    stop = asyncio.Event()
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"

    async def serve() -> None:
        from aiohttp import web

        try:
            runtime_settings = Settings(database_url=f"sqlite:///{db}", admin_token="test-admin-token",
                                        admin_token_generated=False, tokens=TEST_TOKENS)
            runtime = await build_runtime(runtime_settings, demo_project, embedder=embedder)
            app = create_app(runtime)
            runner = web.AppRunner(app)
            await runner.setup()
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            routes = sorted({(r.method, r.resource.canonical) for r in app.router.routes()
                             if r.resource is not None and r.method != "HEAD"})
            ready.set_result(LiveServer(f"http://127.0.0.1:{port}", loop, runtime, routes))
        except BaseException as exc:  # noqa: BLE001 - surfaced to the fixture, which fails the tests with it
            ready.set_exception(exc)
            return
        await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    server = ready.result(timeout=300)
    yield server
    loop.call_soon_threadsafe(stop.set)
    thread.join(timeout=30)
    loop.close()


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=40), st.sampled_from(["\ud800", "a\x00b", "\udfff\ud800", "/greet", "agent please"]),
        st.just(10 ** 60),
    )
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.one_of(st.text(max_size=10), st.sampled_from(["sender", "message", "metadata", "text", "id", "version",
                                                         "reason", "team", "csat", "channel", "token"])),
        inner, max_size=5), max_leaves=12)


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8", "surrogatepass")


#: Bodies that broke the server once (issue #14), sent to every route that takes a body.
KNOWN_BAD_BODIES = (
    b"", b"{", b"\xff\xfe", b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b'{"sender": "x", "message": "\\ud800"}', b'{"sender": "\\ud800", "message": "hi"}',
    b'{"sender": "n", "message": "hi\\u0000"}', b'{"sender": "i", "message": "hi", "metadata": {"n": 1e999}}',
    b'{"sender": "j", "message": "hi", "metadata": {"n": NaN}}', b'{"version": ' + b"9" * 4400 + b"}",
    b'{"version": 1e999}', b'{"sender": "s", "message": "hi", "metadata": {"n": ' + b"7" * 4400 + b"}}",
    b'{"id": "m1", "text": "\\ud800"}', b'{"text": "' + b"x" * 60_000 + b'"}',
)
BODIES = st.one_of(
    _json_values().map(_dumps),
    st.integers(min_value=500, max_value=50_000).map(lambda n: b"[" * n + b"]" * n),
    st.sampled_from(KNOWN_BAD_BODIES),
    st.binary(max_size=200),
)
SEGMENTS = st.one_of(st.text(max_size=30), st.sampled_from(["\ud800", "x" * 5000, "..", "%00", "w_" + "a" * 30]))
QUERY = st.dictionaries(st.sampled_from(["window", "limit", "since", "team", "conversation_id", "version", "format",
                                         "days", "channel"]),
                        st.one_of(st.text(max_size=20), st.sampled_from(["99999999d", "-1", "1e999", "9" * 5000,
                                                                         "\ud800", "NaN"])), max_size=3)


def _path(template: str, segment: str) -> str:
    quoted = urllib.parse.quote(segment.encode("utf-8", "surrogatepass"), safe="")
    out = template
    while "{" in out:
        start, end = out.index("{"), out.index("}")
        out = out[:start] + (quoted or "x") + out[end + 1:]
    return out


def _request(url: str, method: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body if method in ("POST", "PUT") else None, method=method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@FUZZ
@given(data=st.data())
def test_no_route_answers_5xx_and_refusals_store_nothing(live: LiveServer, data: st.DataObject) -> None:
    """Any route, any token, any body and query: a 4xx with nothing stored, or a success — never a 5xx."""
    method, template = data.draw(st.sampled_from([r for r in live.routes if not r[1].endswith(("/ws", "/stream"))
                                                  and r[1] != "/ws/chat"]))
    path = _path(template, data.draw(SEGMENTS))
    query = urllib.parse.urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in data.draw(QUERY).items()})
    role = data.draw(st.sampled_from(sorted(TOKENS)))
    headers = {"Content-Type": data.draw(st.sampled_from(["application/json", "text/plain",
                                                          "application/x-www-form-urlencoded"]))}
    if TOKENS[role]:
        headers["Authorization"] = f"Bearer {TOKENS[role]}"
    before = live.stored()
    status = _request(f"{live.url}{path}{'?' + query if query else ''}", method, data.draw(BODIES), headers)
    after = live.stored()
    assert status < 500, f"{method} {path}?{query} as {role} answered {status}"
    if 400 <= status < 500:
        assert after == before, f"{method} {path} refused with {status} but stored something"


def test_known_bad_bodies_on_every_route_are_refused_without_a_trace(live: LiveServer) -> None:
    """Each body that once caused a 500 gets a 4xx (or a harmless success) on every route, stored nowhere."""
    failures = []
    _, waiting_before = live.stored()
    for method, template in live.routes:
        if method not in ("POST", "PUT"):
            continue
        path = _path(template, "w_" + "k" * 30)
        for body in KNOWN_BAD_BODIES:
            for role in ("none", "admin"):
                headers = {"Content-Type": "application/json"}
                if TOKENS[role]:
                    headers["Authorization"] = f"Bearer {TOKENS[role]}"
                before = live.stored()
                status = _request(live.url + path, method, body, headers)
                if status >= 500 or (400 <= status < 500 and live.stored() != before):
                    failures.append(f"{method} {path} as {role} with {body[:40]!r}: {status}")
    assert not failures, "\n".join(failures)
    assert live.stored()[1] == waiting_before, "a malformed body handed a conversation to a person"


def test_unbounded_query_parameters_are_refused(live: LiveServer) -> None:
    """Huge, negative, non-numeric and non-UTF-8 query values on every GET route: never a 5xx."""
    failures = []
    values = ("99999999d", "-1", "1e999", "9" * 5000, "NaN", "%ED%A0%80", "%00")
    for method, template in live.routes:
        if method != "GET" or template.endswith(("/ws", "/stream")) or template == "/ws/chat":
            continue
        path = _path(template, "w_" + "q" * 30)
        for name in ("window", "limit", "since", "team", "conversation_id", "days"):
            for value in values:
                status = _request(f"{live.url}{path}?{name}={value}", "GET", b"",
                                  {"Authorization": "Bearer test-admin-token"})
                if status >= 500:
                    failures.append(f"GET {path}?{name}={value[:20]}: {status}")
    assert not failures, "\n".join(failures)


async def _socket_frames(url: str, frames: list[bytes | str]) -> tuple[int | None, list[str]]:
    """Send ``frames`` on a websocket; the close code (None while open) and what came back."""
    received: list[str] = []
    async with aiohttp.ClientSession() as http, http.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
        for frame in frames:
            if ws.closed:
                break
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
            try:
                message = await ws.receive(timeout=2)
            except TimeoutError:
                continue
            if message.type is aiohttp.WSMsgType.TEXT:
                received.append(message.data)
            elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                break
        return ws.close_code, received


FRAMES = st.lists(st.one_of(BODIES.map(lambda b: b.decode("utf-8", "replace")), BODIES,
                            _json_values().map(lambda v: {"type": "message", "id": "m1", "text": v}).map(_dumps)
                            .map(lambda b: b.decode("utf-8", "replace"))), min_size=1, max_size=4)


@FUZZ
@given(frames=FRAMES, path=st.sampled_from(["/ws/chat?conversation_id=w_" + "f" * 30, "/api/handoff/ws",
                                            "/voice/stream"]))
def test_sockets_survive_malformed_frames(live: LiveServer, frames: list[bytes | str], path: str) -> None:
    """Garbage on the widget, agent and voice sockets never crashes the server (no 1011) nor stores a refusal."""
    if not any(p == "/voice/stream" for _, p in live.routes) and path == "/voice/stream":
        pytest.skip("voice is not enabled")
    before = live.stored()
    close_code, _ = live.call(_socket_frames(live.url.replace("http", "ws") + path, frames))
    assert close_code != 1011, f"{path} closed with an internal error"
    with urllib.request.urlopen(live.url + "/health", timeout=10) as response:
        assert response.status == 200
    after = live.stored()
    if path != "/ws/chat?conversation_id=w_" + "f" * 30:
        assert after == before, f"{path} stored something from malformed frames"


def test_the_fuzzed_routes_cover_every_connector(live: LiveServer) -> None:
    """The route list the fuzzers draw from includes the REST channel, widget, handoff, ops and tracker APIs."""
    paths = {p for _, p in live.routes}
    for expected in ("/webhooks/rest/webhook", "/conversations/{conversation_id}/tracker",
                     "/widget/conversations/{conversation_id}/messages", "/api/handoff/{conversation_id}/claim",
                     "/api/ops/scope/rollback", "/api/ops/kpis"):
        assert expected in paths
