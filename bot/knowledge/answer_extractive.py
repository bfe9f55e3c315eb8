"""The offline answer: the sentences of the best chunk that answer the question, short, with its source.

A short chunk (a FAQ answer, a small list or table) is returned whole; a longer one is cut to the sentences
closest to the question (embedding cosine plus word overlap), kept in reading order, and a sentence that
introduces a list ("Please bring:") keeps its items.
"""

from __future__ import annotations

import re

import numpy as np

from bot.infra.embeddings import Encoder
from bot.knowledge.text import split_sentences, words
from bot.knowledge.types import RetrievedChunk

WHOLE_CHUNK_CHARS = 400
"""Answers (FAQ answers, lists, tables) up to this length are given whole."""
NEIGHBOUR_MARGIN = 0.12
"""Sentences scoring within this of the best one join the answer."""


def answer_body(chunk: RetrievedChunk) -> str:
    """The chunk's text without its FAQ question line, tables as ``cell: cell`` lines."""
    text = chunk.text
    if chunk.question and text.startswith(chunk.question):
        text = text[len(chunk.question):].strip()
    lines = []
    for line in text.splitlines():
        if line.lstrip().startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            line = f"{cells[0]}: {', '.join(cells[1:])}" if len(cells) > 1 else cells[0]
        lines.append(line)
    return "\n".join(lines).strip()


def _overlap(question_words: set[str], sentence: str) -> float:
    found = set(words(sentence))
    return len(question_words & found) / len(question_words) if question_words else 0.0


def logical_lines(body: str) -> list[str]:
    """``body``'s lines with hard-wrapped continuations joined back: a line that starts no list item or table
    row, after a non-blank line, continues that line (Markdown paragraphs and items wrap in the source)."""
    lines: list[str] = []
    blank = True
    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            blank = True
            continue
        if lines and not blank and not _ITEM.match(raw) and not line.startswith("|"):
            lines[-1] = f"{lines[-1]} {line}"
        else:
            lines.append(raw.rstrip())
        blank = False
    return lines


def units_of(body: str) -> list[tuple[str, bool]]:
    """Sentences of ``body``; list items (and table rows) are single units flagged ``True``."""
    units: list[tuple[str, bool]] = []
    for line in logical_lines(body):
        item = _ITEM.match(line)
        if item:
            units.append((line[item.end():].strip(), True))
        else:
            units.extend((sentence, False) for sentence in split_sentences(line))
    return [(text, is_item) for text, is_item in units if text]


async def extract(question: str, chunk: RetrievedChunk, embedder: Encoder, *, max_sentences: int) -> str:
    """The answer text drawn from ``chunk`` (no citation appended)."""
    body = answer_body(chunk)
    units = units_of(body)
    if len(body) <= WHOLE_CHUNK_CHARS or len(units) <= 1:
        return _join(units) if units else body
    vectors = await embedder.aencode([question, *(text for text, _ in units)])
    question_words = set(words(question))
    scores = vectors[1:] @ vectors[0] + 0.15 * np.asarray([_overlap(question_words, t) for t, _ in units])
    best = int(np.argmax(scores))
    chosen = {best}
    for i in np.argsort(-scores):
        if len(chosen) >= max_sentences:
            break
        if scores[i] >= scores[best] - NEIGHBOUR_MARGIN:
            chosen.add(int(i))
    for i in sorted(chosen):
        if units[i][0].endswith(":"):
            following = range(i + 1, min(len(units), i + 1 + max(max_sentences, 6)))
            chosen.update(j for j in following if units[j][1])
    return _join([units[i] for i in sorted(chosen)])


def _join(units: list[tuple[str, bool]]) -> str:
    """Prose sentences joined by spaces, list items one per line."""
    out = ""
    after_item = False
    for text, is_item in units:
        if is_item:
            out += f"\n- {text}"
        else:
            out += ("\n" if after_item else " ") + text
        after_item = is_item
    return re.sub(r"[ \t]+", " ", out).strip()


_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")


def source_line(chunk: RetrievedChunk) -> str:
    """``Source: Title › Heading`` for the answer text."""
    where = chunk.title if not chunk.heading or chunk.heading in (chunk.title, chunk.question) else \
        f"{chunk.title} › {chunk.heading}"
    if chunk.question and chunk.heading == chunk.question and len(chunk.heading_path) > 1:
        parent = chunk.heading_path[-2]
        where = chunk.title if parent == chunk.title else f"{chunk.title} › {parent}"
    return f"(Source: {where})"
