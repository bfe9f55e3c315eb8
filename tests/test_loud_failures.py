"""Failures are loud: a missing dependency is logged by name with what to install, a bug is not swallowed, and
the CLI's commands are mounted by import (a renamed one fails at import, not by vanishing)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import NoReturn

import pytest
from structlog.testing import capture_logs

from bot.app.runtime import open_knowledge
from bot.infra.embeddings import Embedder
from bot.knowledge import KnowledgeBase
from bot.nlu.normalize import normalize_spoken
from bot.project import Project


def _missing(name: str) -> NoReturn:
    raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def test_a_missing_faiss_switches_knowledge_off_with_an_error_naming_it(
        demo_project: Project, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without faiss the bot runs without knowledge and logs knowledge_disabled with the module and the package."""
    monkeypatch.setattr(KnowledgeBase, "open", lambda *_args, **_kwargs: _missing("faiss"))
    with capture_logs() as logs:
        assert open_knowledge(demo_project, embedder) is None
    disabled = [entry for entry in logs if entry["event"] == "knowledge_disabled"]
    assert len(disabled) == 1
    assert disabled[0]["log_level"] == "error"
    assert disabled[0]["missing_module"] == "faiss" and disabled[0]["install"] == "pip install faiss-cpu"


def test_any_other_import_error_in_the_knowledge_base_propagates(
        demo_project: Project, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """A module the knowledge base should never miss is a bug: the error reaches the caller, nothing is logged."""
    monkeypatch.setattr(KnowledgeBase, "open", lambda *_args, **_kwargs: _missing("bot.knowledge.renamed"))
    with capture_logs() as logs, pytest.raises(ModuleNotFoundError):
        open_knowledge(demo_project, embedder)
    assert not [entry for entry in logs if entry["event"] == "knowledge_disabled"]


def test_the_voice_normalizer_is_the_engines_with_no_silent_fallback() -> None:
    """The phone line normalizes spoken forms with the NLU normalizer itself; no ImportError is caught around it."""
    from connectors.voice import speech

    assert speech.default_normalizer() is normalize_spoken
    assert speech.default_normalizer()("my pin is four five six seven") == normalize_spoken(
        "my pin is four five six seven")
    assert "ImportError" not in inspect.getsource(speech)


def test_the_cli_mounts_every_command_by_import() -> None:
    """The composed command has each core, connector and eval command; none is looked up by name at run time."""
    import bot.app.cli
    import careline.cli

    assert set(careline.cli.main.commands) == {"chat", "validate", "demo", "kb", "scope", "handoff", "report",
                                               "customer", "qa", "outbound", "serve", "call", "eval"}
    for module in (bot.app.cli, careline.cli):
        source = Path(inspect.getfile(module)).read_text()
        assert "getattr(" not in source and "importlib" not in source
