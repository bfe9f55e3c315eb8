"""Malformed input at the web edge: every refused body or frame is a 4xx with a reason (never a 5xx), the
widget socket stays open, nothing is stored and nothing is handed to a person.

Known attacks first (deeply nested JSON, 5000-digit integers, non-finite numbers, lone surrogates, NUL, bad
UTF-8), then a property-based fuzz (hypothesis) of the REST channel, the widget's REST fallback and the
widget socket with JSON-ish bodies and frames, bounded to about 50 examples.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app.runtime import Runtime, build_runtime
from bot.infra.embeddings import Embedder
from bot.infra.settings import Settings
from bot.kernel.errors import RequestError
from bot.project import Project
from bot.testing.server import serve_app
from connectors.web import create_app
from connectors.web.app import MAX_DEPTH, parse_json_object
from tests.conftest import TEST_TOKENS

WEBHOOK = "/webhooks/rest/webhook"
CID = "w_" + "f" * 24
WIDGET_POST = f"/widget/conversations/{CID}/messages"
AGENT = {"Authorization": "Bearer agent-token-123"}
ADMIN = {"Authorization": "Bearer test-admin-token"}

#: Malformed bodies the REST channel once answered with a 500 or stored, and what the 400 must name.
ATTACKS: dict[str, tuple[bytes, str]] = {
    "deep nesting": (b'{"sender": "d", "message": "hi", "metadata": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
                     "nested deeper than 32"),
    "4300+ digit integer": (b'{"sender": "i", "message": "hi", "metadata": {"n": ' + b"9" * 5000 + b"}}",
                            "5000 digits"),
    "1e999": (b'{"sender": "f", "message": "hi", "metadata": {"n": 1e999}}', "out of range"),
    "NaN": (b'{"sender": "f", "message": "hi", "metadata": {"n": NaN}}', "NaN"),
    "-Infinity": (b'{"sender": "f", "message": "hi", "metadata": {"n": -Infinity}}', "-Infinity"),
    "lone surrogate in sender": (b'{"sender": "\\ud800", "message": "hi"}', "lone surrogate U+D800 in the string "
                                                                           "at $.sender"),
    "lone surrogate in text": (b'{"sender": "t", "message": "where is my order \\udc00"}', "lone surrogate"),
    "lone surrogate in a key": (b'{"sender": "k", "message": "hi", "metadata": {"\\ud83d": 1}}', "in a key"),
    "NUL in text": (b'{"sender": "z", "message": "hi\\u0000there"}', "NUL"),
    "raw surrogate bytes": (b'{"sender": "r", "message": "hi \xed\xa0\x80"}', "not UTF-8"),
    "UTF-16 body": ('{"sender": "u", "message": "hi"}'.encode("utf-16"), "not UTF-8"),
    "huge sender": (b'{"sender": "' + b"s" * 20_000 + b'", "message": "hi"}', "1 to 128"),
}


@pytest.fixture
async def site(demo_project: Project, embedder: Embedder, tmp_path: Path) -> AsyncIterator[tuple[str, Runtime]]:
    """The demo app with limits high enough that the fuzz reaches the engine; yields (url, runtime)."""
    config = demo_project.config.model_copy(update={
        "limits": demo_project.config.limits.model_copy(update={
            "max_messages_per_minute_per_client": 100_000, "max_turns_per_minute": 100_000}),
        "widget": demo_project.config.widget.model_copy(update={"messages_per_minute": 600, "burst": 100})})
    runtime = await build_runtime(Settings(
        database_url=f"sqlite:///{tmp_path / 'fuzz.db'}", admin_token="test-admin-token",
        admin_token_generated=False, tokens=TEST_TOKENS), dataclasses.replace(demo_project, config=config),
        embedder=embedder)
    async with serve_app(create_app(runtime)) as url:
        yield url, runtime


async def stored(runtime: Runtime) -> int:
    """How many events the store holds, over every conversation."""
    return int(await runtime.database.fetchval("SELECT count(*) FROM events"))


async def post(http: aiohttp.ClientSession, url: str, data: bytes,
               headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """POST raw JSON bytes; the status and the decoded answer."""
    async with http.post(url, data=data, headers={"Content-Type": "application/json", **(headers or {})}) as resp:
        return resp.status, await resp.json(content_type=None)


def test_parse_json_object_refuses_what_cannot_be_stored_and_keeps_the_rest() -> None:
    """Nesting at the limit, 100-digit integers, large finite floats and escaped brackets in strings parse;
    one level deeper, one more digit, or an overflowing float does not."""
    at_limit = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert parse_json_object('{"a": ' + at_limit + "}")["a"] is not None
    assert parse_json_object('{"s": "' + "[" * 500 + '\\"{"}')["s"].startswith("[[")
    assert parse_json_object('{"n": ' + "9" * 100 + ', "f": 1.5e308, "e": "\\ud83d\\ude00"}')["e"] == "\U0001f600"
    for raw, reason in (('{"a": [' + at_limit + "]}", "nested deeper"), ('{"n": -' + "9" * 101 + "}", "101 digits"),
                        ('{"f": 2e308}', "out of range"), ('{"f": Infinity}', "Infinity"),
                        ('{"a": "x\\u0000"}', "NUL"), ('{"a": ["\\udfff"]}', "$.a[0]")):
        with pytest.raises(RequestError, match=reason.replace("$", r"\$").replace("[", r"\[")):
            parse_json_object(raw)


async def test_malformed_rest_bodies_are_400s_that_store_and_hand_off_nothing(
        site: tuple[str, Runtime]) -> None:
    """Each known attack on the REST channel is a 400 naming the problem; afterwards the store is empty,
    no tracker exists for the senders and the handoff queue is empty."""
    url, runtime = site
    async with aiohttp.ClientSession() as http:
        for name, (data, reason) in ATTACKS.items():
            status, body = await post(http, url + WEBHOOK, data)
            assert status == 400 and reason in body["error"], (name, status, body)
        for sender in ("d", "i", "f", "t", "k", "z", "r", "u"):
            async with http.get(f"{url}/conversations/{sender}/tracker", headers=ADMIN) as resp:
                assert resp.status == 404, sender
        async with http.get(url + "/api/handoff/queue", headers=AGENT) as resp:
            assert resp.status == 200 and (await resp.json())["queue"] == []
    assert await stored(runtime) == 0


async def test_malformed_bodies_are_refused_by_every_json_api(site: tuple[str, Runtime]) -> None:
    """The widget's REST fallback and the agents' API refuse the same bodies with 400, storing nothing."""
    url, runtime = site
    async with aiohttp.ClientSession() as http:
        for name, (data, reason) in ATTACKS.items():
            if name == "huge sender":
                continue
            frame = data.replace(b'"sender"', b'"id": "m1", "x"').replace(b'"message"', b'"text"')
            status, body = await post(http, url + WIDGET_POST, frame)
            assert status == 400 and reason.replace("$.sender", "$.x") in body["error"], (name, body)
            status, body = await post(http, f"{url}/api/handoff/{CID}/notes", data, AGENT)
            assert status == 400 and reason in body["error"], (name, body)
    assert await stored(runtime) == 0


# ---- the property-based fuzz

_any_char = st.characters(exclude_categories=())  # surrogates and controls included
_texts = st.text(_any_char, max_size=12) | st.sampled_from(["hello", "where is my order", "agent please", " "])
_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
            | st.integers(min_value=10**120, max_value=10**200) | _texts)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(_texts, inner, max_size=3), max_leaves=8)
#: What a well-behaved client sends: printable text, finite numbers, shallow objects.
_fine_texts = st.sampled_from(["hello", "where is my order", "thanks", "are you a bot?"]) | st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
_fine_values = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(-1e6, 1e6)
                            | _fine_texts, lambda inner: st.lists(inner, max_size=3)
                            | st.dictionaries(_fine_texts, inner, max_size=3), max_leaves=6)
_ids = st.text("abcxyz0189-_", min_size=1, max_size=10)
#: JSON fragments the standard encoder never writes: spliced into otherwise valid bodies.
_NASTY = ["[" * 40 + "]" * 40, "9" * 4400, "1e999", "NaN", "-Infinity", '"\\ud800"', '"a\\u0000"', '"\\udc00x"']


def _encode(value: Any, ascii_only: bool) -> bytes:
    """``value`` as JSON bytes; without ``ascii_only`` lone surrogates become invalid UTF-8 bytes."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def _splice(obj: dict[str, Any], nasty: str) -> bytes:
    """``obj`` as JSON with one more field whose value is ``nasty``."""
    return _encode(obj, True)[:-1] + (b", " if obj else b"") + b'"x": ' + nasty.encode() + b"}"


def _bodies(fine: dict[str, st.SearchStrategy[Any]], fields: dict[str, st.SearchStrategy[Any]]) -> \
        st.SearchStrategy[bytes]:
    """JSON-ish bodies: well-formed messages, the same with a spliced nasty field, objects with any of the
    fields (right and wrong types), any JSON value, or any bytes."""
    good = st.fixed_dictionaries(fine, optional={"metadata": _fine_values})
    loose = st.fixed_dictionaries({}, optional={**fields, "metadata": _values, "message_id": _texts})
    return st.one_of(st.builds(_encode, good, st.just(False)), st.builds(_splice, good, st.sampled_from(_NASTY)),
                     st.builds(_encode, loose, st.booleans()), st.builds(_encode, _values, st.booleans()),
                     st.binary(max_size=40))


_rest_bodies = _bodies({"sender": st.sampled_from(["fz-1", "fz-2"]), "message": _fine_texts},
                       {"sender": _values, "message": _values})
_frames = _bodies({"type": st.just("message"), "id": _ids, "text": _fine_texts},
                  {"type": st.sampled_from(["message", "ping", "rate"]) | _texts, "id": _ids | _values,
                   "text": _texts | _values, "label": _texts, "start": st.booleans()})
FUZZ = settings(max_examples=50, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


async def test_fuzzed_bodies_and_frames_never_cause_a_5xx_and_refusals_store_nothing(
        site: tuple[str, Runtime]) -> None:
    """Random JSON-ish bodies to the REST channel and the widget's fallback, and frames to the widget socket:
    no 5xx, the socket stays open, and whatever is refused (4xx, an error frame) stores nothing."""
    url, runtime = site
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{url.replace('http', 'ws', 1)}/ws/chat?conversation_id={CID}") as ws:
        await ws.receive_json(timeout=10)

        async def check(rest: bytes, widget: bytes, frame: bytes) -> None:
            for target, data in ((url + WEBHOOK, rest), (url + WIDGET_POST, widget)):
                before = await stored(runtime)
                status, body = await post(http, target, data)
                assert status < 500, (target, data, status, body)
                if status >= 400:
                    assert await stored(runtime) == before, (target, data, body)
            before = await stored(runtime)
            try:
                await ws.send_str(frame.decode("utf-8"))
            except UnicodeDecodeError:
                await ws.send_bytes(frame)
            while (answer := await ws.receive_json(timeout=30))["type"] not in ("ack", "error", "pong"):
                pass
            if answer["type"] == "error":
                assert await stored(runtime) == before, (frame, answer)
            assert not ws.closed

        @FUZZ
        @given(rest=_rest_bodies, widget=_frames, frame=_frames)
        def run(rest: bytes, widget: bytes, frame: bytes) -> None:
            asyncio.run_coroutine_threadsafe(check(rest, widget, frame), loop).result(timeout=120)

        await asyncio.to_thread(run)
