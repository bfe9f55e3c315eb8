"""Ingest a folder of documents into the index: only changed files are parsed and embedded.

Each file's SHA-256 is compared with the stored one; new and changed files are re-chunked and
re-embedded, deleted files leave the index, and unreadable or empty files (and PDFs pypdf cannot read) are
skipped with a logged reason (``knowledge_document_skipped``) and listed in the :class:`IngestReport`.
PDFs are read through pypdf, page text only.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.infra.embeddings import Encoder
from bot.infra.logs import get_logger
from bot.kernel.errors import ConfigError, ConfigProblem
from bot.knowledge.chunking import chunk_document
from bot.knowledge.config import KnowledgeConfig
from bot.knowledge.index import VectorIndex, build_index, load_index, remove_index, save_index
from bot.knowledge.parsing import parse
from bot.knowledge.store import MetadataStore, StoredDocument
from bot.knowledge.types import Chunk

log = get_logger(__name__)

SUFFIXES = frozenset({".md", ".markdown", ".txt", ".html", ".htm", ".pdf"})
PARSER_VERSION = "1"
EMBED_BATCH = 128

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while chunks are embedded."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file left out of the index, and why."""

    path: str
    reason: str


@dataclass(slots=True)
class IngestReport:
    """What one ingest did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    documents: int = 0
    chunks_embedded: int = 0
    vectors: int = 0
    index_kind: str = "flat"
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


class UnreadableDocument(Exception):
    """Internal: a file that cannot be indexed (the message is the logged reason)."""


def doc_id_for(path: Path, root: Path) -> str:
    """The document id: path relative to the knowledge folder, without extension, with ``/`` separators."""
    return path.relative_to(root).with_suffix("").as_posix()


def scan(root: Path) -> list[Path]:
    """Files under ``root`` in a stable order (hidden files and folders ignored)."""
    return sorted(p for p in root.rglob("*") if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def read_document(path: Path, root: Path, data: bytes, config: KnowledgeConfig) -> tuple[str, str | None,
                                                                                          list[Chunk]]:
    """Parse ``data`` (the bytes of ``path``) into (title, url, chunks); raises UnreadableDocument."""
    if path.suffix.lower() == ".pdf":
        data = pdf_text(data).encode("utf-8")
    if b"\x00" in data[:8192]:
        raise UnreadableDocument("binary content (not a text document)")
    try:
        source = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableDocument(f"not valid UTF-8 (byte {exc.start})") from exc
    if not source.strip():
        raise UnreadableDocument("empty document")
    parsed = parse(source, ".txt" if path.suffix.lower() == ".pdf" else path.suffix.lower())
    doc_id = doc_id_for(path, root)
    title = parsed.title or path.stem.replace("-", " ").replace("_", " ").strip().capitalize()
    chunks = chunk_document(parsed, doc_id=doc_id, source_path=path.relative_to(root).as_posix(), title=title,
                            max_chars=config.max_chunk_chars, url=parsed.url)
    if not chunks:
        raise UnreadableDocument("no text found (markup only)")
    return title, parsed.url, chunks


def pdf_text(data: bytes) -> str:
    """The text of a PDF, page by page (pypdf, BSD-3-Clause); raises UnreadableDocument when it cannot be read."""
    try:
        from io import BytesIO

        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:
        raise UnreadableDocument("PDF needs the pypdf package (pip install pypdf)") from exc
    try:
        reader = PdfReader(BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise UnreadableDocument(f"unreadable PDF: {exc}") from exc
    return "\n\n".join(p.strip() for p in pages if p.strip())


def _expected_meta(embedder: Encoder, config: KnowledgeConfig) -> dict[str, str]:
    return {"schema": "1", "parser": PARSER_VERSION, "model": embedder.model_path.name,
            "dimension": str(embedder.dimension), "max_chunk_chars": str(config.max_chunk_chars)}


def embed_texts(chunk: Chunk) -> list[str]:
    """The texts embedded for ``chunk``: its full text, and for a FAQ chunk also its question alone."""
    texts = [chunk.embed_text()]
    if chunk.question:
        texts.append(f"{chunk.title} › {chunk.question}")
    return texts


def ingest(root: Path, index_dir: Path, embedder: Encoder, config: KnowledgeConfig, *,
           progress: Progress | None = None) -> tuple[IngestReport, MetadataStore, VectorIndex]:
    """Bring the index in ``index_dir`` up to date with the documents under ``root``."""
    started = time.perf_counter()
    if not root.is_dir():
        raise ConfigError([ConfigProblem(root, None, "knowledge", "knowledge folder does not exist")])
    index_dir.mkdir(parents=True, exist_ok=True)
    store = MetadataStore(index_dir / "meta.sqlite")
    report = IngestReport()
    expected = _expected_meta(embedder, config)
    meta = store.get_meta()
    if any(meta.get(k) != v for k, v in expected.items()):
        if meta:
            log.info("knowledge_index_reset", reason="embedder or chunking changed", folder=str(index_dir))
        with store.transaction():
            store.clear()
            store.set_meta(expected)
        remove_index(index_dir)
        meta = store.get_meta()
    stored = store.documents()
    seen: set[str] = set()
    pending: list[tuple[StoredDocument, list[Chunk]]] = []
    for path in scan(root):
        rel = path.relative_to(root).as_posix()
        if path.suffix.lower() not in SUFFIXES:
            report.skipped.append(Skipped(rel, f"unsupported file type {path.suffix or '(none)'}"))
            continue
        doc_id = doc_id_for(path, root)
        if doc_id in seen:
            report.skipped.append(Skipped(rel, f"another file already has document id {doc_id!r}"))
            continue
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        old = stored.get(doc_id)
        if old is not None and old.sha256 == digest and old.source_path == rel:
            seen.add(doc_id)
            report.unchanged.append(doc_id)
            continue
        try:
            title, url, chunks = read_document(path, root, data, config)
        except UnreadableDocument as exc:
            report.skipped.append(Skipped(rel, str(exc)))
            continue
        seen.add(doc_id)
        (report.updated if old is not None else report.added).append(doc_id)
        pending.append((StoredDocument(doc_id, rel, digest, title, url), chunks))
    for skipped in report.skipped:
        log.warning("knowledge_document_skipped", path=skipped.path, reason=skipped.reason)
    report.removed = sorted(set(stored) - seen)

    vectors = _embed(embedder, [c for _, chunks in pending for c in chunks], progress)
    if report.changed:
        with store.transaction():
            for doc_id in report.removed:
                store.remove_document(doc_id)
            position = 0
            for doc, chunks in pending:
                store.put_document(doc, chunks, vectors[position:position + len(chunks)])
                position += len(chunks)
            store.set_meta({"generation": uuid.uuid4().hex})
        meta = store.get_meta()
    generation = meta.get("generation", "empty")
    index = None if report.changed else load_index(index_dir, generation)
    if index is None:
        matrix, rows = store.vectors(embedder.dimension)
        index = build_index(matrix, rows, hnsw_threshold=config.hnsw_threshold)
        save_index(index_dir, index, generation)
    report.documents = len(seen)
    report.chunks_embedded = sum(len(chunks) for _, chunks in pending)
    report.vectors = index.size
    report.index_kind = index.kind
    report.seconds = time.perf_counter() - started
    log.info("knowledge_ingested", added=len(report.added), updated=len(report.updated), removed=len(report.removed),
             unchanged=len(report.unchanged), skipped=len(report.skipped), vectors=index.size, kind=index.kind,
             seconds=round(report.seconds, 3))
    return report, store, index


def _embed(embedder: Encoder, chunks: list[Chunk], progress: Progress | None) -> list[list[np.ndarray]]:
    """Vectors per chunk (one, or two for FAQ chunks), embedded in batches."""
    texts: list[str] = []
    owners: list[int] = []
    for i, chunk in enumerate(chunks):
        for text in embed_texts(chunk):
            texts.append(text)
            owners.append(i)
    result: list[list[np.ndarray]] = [[] for _ in chunks]
    for start in range(0, len(texts), EMBED_BATCH):
        matrix = embedder.encode(texts[start:start + EMBED_BATCH])
        for offset, vector in enumerate(matrix):
            result[owners[start + offset]].append(vector)
        if progress is not None:
            progress(min(start + EMBED_BATCH, len(texts)), len(texts))
    return result
