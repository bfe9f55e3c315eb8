"""Shared fixtures: one embedder and one demo index per test session; small knowledge folders per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from bot.infra.embeddings import Embedder, shared_embedder
from bot.knowledge import KnowledgeBase, KnowledgeConfig

DEMO_PROJECT = Path(__file__).resolve().parents[2] / "bot" / "demo" / "project"
DATA = Path(__file__).parent / "data"

SMALL_DOCS = {
    "returns.md": """# Returns policy

You can return most items within 30 days of delivery.

## Exceptions

These items cannot be returned:
- custom sofas
- gift cards

## FAQ

### How long do refunds take?
Refunds are issued within 5 business days of receiving your return.
""",
    "hours.html": """<html><head><title>Opening hours</title></head><body>
<h1>Opening hours</h1><p>Our showroom is open Monday to Saturday from 10 am to 8 pm.</p>
<h2>Holidays</h2><p>We are closed on Christmas Day.</p></body></html>""",
    "care/leather.txt": """Leather care

Condition leather sofas every 6 to 12 months with a leather conditioner.
""",
}


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real MiniLM embedder, loaded once per process (offline; the same instance as the root fixture's)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return shared_embedder()


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The demo knowledge base indexed once per session (tests copy or reuse it read-only)."""
    folder = tmp_path_factory.mktemp("demo-index")
    KnowledgeBase.open(DEMO_PROJECT, KnowledgeConfig(), embedder=embedder, index_dir=folder)
    return folder


@pytest.fixture
def demo_kb(demo_index: Path, embedder: Embedder) -> KnowledgeBase:
    """The demo knowledge base with default settings (opens the session's index, no re-embedding)."""
    return KnowledgeBase.open(DEMO_PROJECT, KnowledgeConfig(), embedder=embedder, index_dir=demo_index)


def write_docs(root: Path, docs: Mapping[str, str | bytes]) -> Path:
    """Write ``docs`` (relative path → content) under ``root/knowledge`` and return the project folder."""
    for name, content in docs.items():
        path = root / "knowledge" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def add_docs() -> Callable[[Path, Mapping[str, str | bytes]], Path]:
    """The :func:`write_docs` helper, as a fixture."""
    return write_docs


@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    """A project folder with three small documents (Markdown, HTML, text)."""
    return write_docs(tmp_path / "project", SMALL_DOCS)


def copy_index(source: Path, target: Path) -> Path:
    """A private copy of an index folder (for tests that change it)."""
    shutil.copytree(source, target)
    return target
