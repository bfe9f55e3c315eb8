"""Rasa's extra HTTP endpoints over a real socket: the REST channel's health and ``/model/parse``."""

from __future__ import annotations

import aiohttp

AUTH = {"Authorization": "Bearer test-admin-token"}


async def test_rest_health_answers_like_rasa(server: str) -> None:
    """``GET /webhooks/rest/`` says ``{"status": "ok"}`` (Rasa frontends poll it)."""
    async with aiohttp.ClientSession() as http, http.get(server + "/webhooks/rest/") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}


async def test_model_parse_returns_rasa_s_parse_result(server: str) -> None:
    """A message is classified in Rasa's shape without touching any conversation."""
    async with aiohttp.ClientSession() as http, \
            http.post(server + "/model/parse", json={"text": "I want to leave some feedback"}, headers=AUTH) as resp:
        assert resp.status == 200
        parsed = await resp.json()
    assert parsed["text"] == "I want to leave some feedback"
    assert parsed["intent"]["name"] == "give_feedback"
    assert parsed["intent_ranking"][0]["name"] == "give_feedback" and isinstance(parsed["entities"], list)


async def test_model_parse_needs_the_admin_token_and_a_text(server: str) -> None:
    """Without the token 401; a missing or oversized text is a 400 that says why."""
    async with aiohttp.ClientSession() as http:
        async with http.post(server + "/model/parse", json={"text": "hi"}) as resp:
            assert resp.status == 401
        async with http.post(server + "/model/parse", json={"txt": "hi"}, headers=AUTH) as resp:
            assert resp.status == 400 and "'text'" in (await resp.json())["error"]
        async with http.post(server + "/model/parse", json={"text": "x" * 5000}, headers=AUTH) as resp:
            assert resp.status == 400 and "longer" in (await resp.json())["error"]
