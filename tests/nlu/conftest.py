"""Fixtures for the understanding tests."""

from __future__ import annotations

import pytest

from bot.app.runtime import train_understander
from bot.infra.embeddings import Embedder
from bot.nlu.understander import Understander
from bot.project import Project


@pytest.fixture(scope="session")
def understander(demo_project: Project, embedder: Embedder) -> Understander:
    """The demo project's understander (int8 ONNX serving), trained once per session."""
    return train_understander(demo_project, embedder)
