"""The widget's signed-in user: a valid HS256 token from the embedding site verifies the widget conversation
without asking again; forged, expired, wrong-audience, wrong-issuer and unsigned tokens get a 4xx with the
reason and change nothing."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.app.runtime import Runtime
from bot.customers.config import IdentityTokenConfig
from bot.customers.identity import IdentityVerifier, sign_token, verifier_for
from bot.kernel.errors import ConfigError
from bot.kernel.events import BotUttered

SECRET = "s3cret-shared-with-the-shop-0123456789abcdef"
CONFIG = IdentityTokenConfig(secret_env="SHOP_JWT_SECRET", issuer="https://shop.example.com",
                             audience="careline-widget")
CONVERSATION = "w_signedin000000000000000001"


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "C001", "iat": now, "exp": now + 300, "iss": CONFIG.issuer, "aud": CONFIG.audience, **overrides}


@pytest.fixture
async def signed(server: str, runtime: Runtime) -> AsyncIterator[str]:
    """The server with identity tokens enabled."""
    runtime.identity = IdentityVerifier(CONFIG, SECRET)
    yield server
    runtime.identity = None


async def post(server: str, token: object, conversation_id: str = CONVERSATION) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.post(
            f"{server}/widget/conversations/{conversation_id}/identity", json={"token": token}) as resp:
        return resp.status, await resp.json()


async def test_a_valid_token_verifies_the_chat_without_asking_again(signed: str, runtime: Runtime) -> None:
    """After the site's token, "where is my order?" goes straight to the order number; the conversation is
    linked to the customer."""
    status, body = await post(signed, sign_token(claims(), SECRET))
    assert (status, body) == (200, {"verified": True, "customer_id": "C001"})
    async with aiohttp.ClientSession() as http, http.post(
            f"{signed}/widget/conversations/{CONVERSATION}/messages", json={"id": "m1", "text": "where is my order?"}):
        pass
    state = await runtime.engine.state(CONVERSATION)
    said = [e.text for e in state.events if isinstance(e, BotUttered)]
    assert state.slots["authenticated"] is True and state.slots["customer_id"] == "C001"
    assert any("order number" in text for text in said)
    assert not any("email address, phone number" in text for text in said)
    assert runtime.customers is not None and await runtime.customers.customer_of(CONVERSATION) == "C001"


@pytest.mark.parametrize(("token", "status", "reason"), [
    (sign_token(claims(), "another-secret-of-the-same-length-012345"), 401, "signature does not match"),
    (sign_token(claims(iat=int(time.time()) - 900, exp=int(time.time()) - 600), SECRET), 401, "expired"),
    (sign_token(claims(aud="some-other-service"), SECRET), 401, "audience"),
    (sign_token(claims(iss="https://evil.example.com"), SECRET), 401, "issuer"),
    (sign_token(claims(exp=int(time.time()) + 86_400), SECRET), 401, "lives longer"),
    (sign_token(claims(sub=""), SECRET), 400, "'sub'"),
    ("not-a-jwt", 400, "three dot-separated parts"),
    (12345, 400, "must be a JWT string"),
])
async def test_bad_tokens_are_refused_with_the_reason(signed: str, runtime: Runtime, token: object, status: int,
                                                      reason: str) -> None:
    """Each bad token gets its status and reason, and the conversation stays unverified."""
    got, body = await post(signed, token)
    assert got == status and reason in str(body["error"])
    state = await runtime.engine.state(CONVERSATION)
    assert not state.slots.get("authenticated")


async def test_an_unsigned_token_is_refused(signed: str) -> None:
    """``alg: none`` (a token anyone can make) is refused whatever its claims."""
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    status, body = await post(signed, f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims())}.")
    assert status == 401 and "HS256" in str(body["error"])


async def test_a_conversation_verified_for_someone_else_is_not_switched(signed: str) -> None:
    """A second token for another customer on the same conversation is a 409."""
    assert (await post(signed, sign_token(claims(), SECRET)))[0] == 200
    status, body = await post(signed, sign_token(claims(sub="C002"), SECRET))
    assert status == 409 and "another customer" in str(body["error"])


async def test_without_configuration_the_route_says_so(server: str) -> None:
    """With no ``customers.identity_token`` the route is a 404 naming the setting."""
    status, body = await post(server, sign_token(claims(), SECRET))
    assert status == 404 and "customers.identity_token" in str(body["error"])


def test_the_secret_comes_from_the_environment_and_must_be_long() -> None:
    """An unset or short secret is a configuration error at start-up; a long one builds the verifier."""
    with pytest.raises(ConfigError, match="SHOP_JWT_SECRET is not set"):
        verifier_for(CONFIG, {})
    with pytest.raises(ConfigError, match="shorter than 32 bytes"):
        verifier_for(CONFIG, {"SHOP_JWT_SECRET": "short"})
    assert verifier_for(CONFIG, {"SHOP_JWT_SECRET": SECRET}) is not None
    assert verifier_for(None, {}) is None


async def test_the_first_message_after_a_token_offers_the_open_matter(signed: str, runtime: Runtime) -> None:
    """Signed in by the site's token, the customer's first message is answered with the matter they left open in
    another conversation (offered once, not on the next message)."""
    from tests.customers.test_continuity import OFFER, leave_address_change_open, say

    await leave_address_change_open(runtime)
    assert (await post(signed, sign_token(claims(), SECRET)))[0] == 200
    assert OFFER in await say(runtime, CONVERSATION, "hello", "web")
    assert OFFER not in await say(runtime, CONVERSATION, "thanks", "web")
