"""The metadata store beside the FAISS index: one SQLite file with documents, chunks and their vectors.

Vectors are kept here (float32 blobs) so an incremental re-ingest embeds only changed documents and the
FAISS index can always be rebuilt without the model. Calls are blocking: async callers use a thread.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.kernel.errors import StoreError
from bot.knowledge.types import Chunk

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, source_path TEXT NOT NULL, sha256 TEXT NOT NULL, title TEXT NOT NULL, url TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, heading_path TEXT NOT NULL, anchor TEXT, kind TEXT NOT NULL,
    text TEXT NOT NULL, question TEXT
);
CREATE TABLE IF NOT EXISTS vectors (
    id INTEGER PRIMARY KEY, chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE, vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS vectors_chunk ON vectors(chunk_id);
"""


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """What the store remembers of a source file."""

    doc_id: str
    source_path: str
    sha256: str
    title: str
    url: str | None


class MetadataStore:
    """Documents, chunks and vectors in SQLite (``meta.sqlite`` in the index folder)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"knowledge metadata store {path} is unreadable: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def get_meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, values: dict[str, str]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    def clear(self) -> None:
        """Forget everything (the embedder or chunking changed)."""
        self.db.execute("DELETE FROM documents")

    def documents(self) -> dict[str, StoredDocument]:
        rows = self.db.execute("SELECT doc_id, source_path, sha256, title, url FROM documents").fetchall()
        return {row[0]: StoredDocument(*row) for row in rows}

    def remove_document(self, doc_id: str) -> None:
        self.db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))

    def put_document(self, doc: StoredDocument, chunks: list[Chunk], vectors: list[list[np.ndarray]]) -> None:
        """Replace ``doc`` and its chunks; ``vectors[i]`` are the vectors of ``chunks[i]`` (one or two)."""
        self.remove_document(doc.doc_id)
        self.db.execute("INSERT INTO documents VALUES (?, ?, ?, ?, ?)",
                        (doc.doc_id, doc.source_path, doc.sha256, doc.title, doc.url))
        for chunk, chunk_vectors in zip(chunks, vectors, strict=True):
            cursor = self.db.execute(
                "INSERT INTO chunks (doc_id, ordinal, heading_path, anchor, kind, text, question)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (chunk.doc_id, chunk.ordinal, json.dumps(chunk.heading_path), chunk.anchor, chunk.kind, chunk.text,
                 chunk.question))
            self.db.executemany("INSERT INTO vectors (chunk_id, vector) VALUES (?, ?)",
                                [(cursor.lastrowid, v.astype(np.float32).tobytes()) for v in chunk_vectors])

    def chunks(self) -> Iterable[tuple[int, Chunk]]:
        """Every chunk with its id, in document order."""
        rows = self.db.execute(
            "SELECT c.id, c.doc_id, c.ordinal, d.title, d.source_path, c.heading_path, c.anchor, c.kind, c.text,"
            " c.question, d.url FROM chunks c JOIN documents d USING (doc_id) ORDER BY c.doc_id, c.ordinal")
        for row in rows:
            yield row[0], Chunk(row[1], row[2], row[3], row[4], tuple(json.loads(row[5])), row[6], row[7], row[8],
                                row[9], row[10])

    def vectors(self, dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """All vectors (n, dimension) and the chunk id of each row, in a stable order."""
        rows = self.db.execute("SELECT chunk_id, vector FROM vectors ORDER BY id").fetchall()
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dimension)
        return matrix, np.asarray([r[0] for r in rows], dtype=np.int64)
