"""Group a document's blocks into chunks that follow its structure.

Rules: a FAQ question with its answer is one chunk; paragraphs, lists and tables of one section are packed
together up to ``max_chars``; a list keeps its lead-in line ("You can return within 30 days:") when split;
an over-long paragraph is split at sentence boundaries. Chunks never straddle two sections.
"""

from __future__ import annotations

from itertools import groupby

from bot.knowledge.parsing import Block, Parsed
from bot.knowledge.text import slugify, split_sentences
from bot.knowledge.types import Chunk


def _split_block(block: Block, max_chars: int) -> list[str]:
    """Pieces of one block, each at most ``max_chars`` (a single over-long sentence stays whole)."""
    if len(block.text) <= max_chars:
        return [block.text]
    lines = block.text.splitlines()
    if block.kind in ("list", "table"):
        lead = lines[0] + "\n" if block.kind == "table" or not lines[0].lstrip().startswith(("-", "*")) else ""
        units = lines[1:] if lead else lines
    else:
        lead, units = "", split_sentences(block.text)
    pieces: list[str] = []
    current = ""
    for unit in units:
        joiner = "\n" if block.kind in ("list", "table") else " "
        candidate = f"{current}{joiner}{unit}" if current else unit
        if current and len(lead) + len(candidate) > max_chars:
            pieces.append(lead + current)
            current = unit
        else:
            current = candidate
    if current:
        pieces.append(lead + current)
    return pieces


def _pack(texts: list[str], max_chars: int) -> list[str]:
    packed: list[str] = []
    for text in texts:
        if packed and len(packed[-1]) + len(text) + 2 <= max_chars:
            packed[-1] = f"{packed[-1]}\n\n{text}"
        else:
            packed.append(text)
    return packed


def chunk_document(parsed: Parsed, *, doc_id: str, source_path: str, title: str, max_chars: int,
                   url: str | None = None) -> list[Chunk]:
    """Chunks of one parsed document, in reading order."""
    chunks: list[Chunk] = []
    anchors: dict[tuple[object, ...], str | None] = {}
    seen: dict[str, int] = {}

    def anchor_for(section: int, path: tuple[str, ...], question: str | None = None) -> str | None:
        key = (section, question)
        if key not in anchors:
            heading = question or (path[-1] if path else None)
            if heading is None:
                anchors[key] = None
            else:
                slug = slugify(heading)
                count = seen.get(slug, 0)
                seen[slug] = count + 1
                anchors[key] = slug if count == 0 else f"{slug}-{count}"
        return anchors[key]

    def add(section: int, path: tuple[str, ...], kind: str, text: str, question: str | None = None) -> None:
        anchor = anchor_for(section, path, question if kind == "faq" else None)
        heading_path = (*path, question) if question else path
        chunks.append(Chunk(doc_id, len(chunks), title, source_path, heading_path, anchor, kind, text.strip(),
                            question, url))

    for (section, path), group in groupby(parsed.blocks, key=lambda b: (b.section, b.heading_path)):
        pending: list[str] = []
        kinds: set[str] = set()
        for block in group:
            if block.kind == "faq":
                if pending:
                    for text in _pack(pending, max_chars):
                        add(section, path, _kind(kinds), text)
                    pending, kinds = [], set()
                answer_parts = _split_block(Block(path, "paragraph", block.text), max_chars - len(block.question or ""))
                for part in answer_parts:
                    add(section, path, "faq", f"{block.question}\n{part}", block.question)
                continue
            kinds.add(block.kind)
            pending.extend(_split_block(block, max_chars))
        for text in _pack(pending, max_chars):
            add(section, path, _kind(kinds), text)
    return [c for c in chunks if c.text]


def _kind(kinds: set[str]) -> str:
    if kinds == {"list"}:
        return "list"
    if kinds == {"table"}:
        return "table"
    return "section"
