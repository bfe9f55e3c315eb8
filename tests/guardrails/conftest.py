"""Fixtures for the guardrails tests: the demo project's detectors and policy, and an empty conversation."""

from __future__ import annotations

from typing import Any

import pytest

from bot.guardrails.base import Detector
from bot.guardrails.policy import ConfiguredPolicy
from bot.guardrails.wiring import build_detectors, build_policy
from bot.infra.embeddings import Embedder
from bot.kernel.conversation import ConversationState, derive
from bot.kernel.events import BotUttered, Event, UserUttered
from bot.project import Project


@pytest.fixture(scope="session")
def detectors(demo_project: Project, embedder: Embedder) -> dict[str, Detector]:
    """The demo project's detectors by name (built once per session)."""
    return {d.name: d for d in build_detectors(demo_project, embedder)}


@pytest.fixture(scope="session")
def policy(demo_project: Project) -> ConfiguredPolicy:
    """The demo project's policy."""
    return build_policy(demo_project)


def conversation(*turns: str | tuple[str, dict[str, Any]], bot: str | None = None) -> ConversationState:
    """A state whose customer said ``turns`` (optionally with user-event fields), the bot answering ``bot``."""
    events: list[Event] = []
    for turn in turns:
        text, fields = (turn, {}) if isinstance(turn, str) else turn
        events.append(UserUttered(text=text, **fields))
        if bot is not None:
            events.append(BotUttered(text="...", response=bot))
    return derive("c", events)

