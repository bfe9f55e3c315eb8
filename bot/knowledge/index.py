"""The FAISS vector index on disk: exact inner product for small corpora, HNSW above a size threshold.

Files in the index folder: ``vectors.faiss`` (loaded memory-mapped), ``rows.npy`` (chunk id of each
FAISS row) and ``manifest.json`` (kind, size, the store generation it was built from). A missing,
mismatched or unreadable index is rebuilt from the vectors in the metadata store, never re-embedded.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.infra.logs import get_logger
from bot.kernel.errors import StoreError

log = get_logger(__name__)

HNSW_M = 32
"""Neighbours per HNSW node (FAISS's usual default; 32 keeps recall@10 > 0.99 on MiniLM vectors)."""
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


def _single_threaded() -> None:
    """Run FAISS on one OpenMP thread: one query at a time gains nothing from threads, and on a 2-core host
    shared with the encoder, 2 threads made a 10k flat search 80x slower (1.1 ms → 90 ms p50, measured)."""
    import faiss

    if faiss.omp_get_max_threads() != 1:
        faiss.omp_set_num_threads(1)


@dataclass(slots=True)
class VectorIndex:
    """A FAISS index plus the chunk id of each of its rows."""

    index: Any
    rows: np.ndarray
    kind: str

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows per query: (scores, row numbers); blocking, call from a thread."""
        _single_threaded()
        k = min(k, self.size)
        if k == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        scores, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def vectors(self, row_ids: np.ndarray) -> np.ndarray:
        """The stored vectors of ``row_ids``."""
        if len(row_ids) == 0:
            return np.zeros((0, self.index.d), np.float32)
        return np.asarray(self.index.reconstruct_batch(np.asarray(row_ids, dtype=np.int64)))


def build_index(vectors: np.ndarray, rows: np.ndarray, *, hnsw_threshold: int) -> VectorIndex:
    """A FAISS index over ``vectors`` (normalized float32): flat IP below ``hnsw_threshold`` rows, else HNSW."""
    import faiss

    dimension = vectors.shape[1]
    index: Any
    if len(vectors) >= hnsw_threshold > 0:
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
        kind = "hnsw"
    else:
        index = faiss.IndexFlatIP(dimension)
        kind = "flat"
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return VectorIndex(index, rows, kind)


def save_index(folder: Path, index: VectorIndex, generation: str) -> None:
    """Write the index atomically (temporary files, then rename)."""
    import faiss

    manifest = {"kind": index.kind, "size": index.size, "generation": generation}
    tmp_index, tmp_rows = folder / "vectors.faiss.tmp", folder / "rows.npy.tmp"
    faiss.write_index(index.index, str(tmp_index))
    with tmp_rows.open("wb") as handle:
        np.save(handle, index.rows)
    os.replace(tmp_index, folder / "vectors.faiss")
    os.replace(tmp_rows, folder / "rows.npy")
    (folder / "manifest.json.tmp").write_text(json.dumps(manifest))
    os.replace(folder / "manifest.json.tmp", folder / "manifest.json")


def store_generation(folder: Path) -> str | None:
    """The store generation the saved index was built from (``None`` without a readable manifest); other
    files saved next to the index (the BM25 postings) are tagged with it."""
    try:
        generation = json.loads((folder / "manifest.json").read_text()).get("generation")
    except (OSError, ValueError):
        return None
    return str(generation) if generation else None


def load_index(folder: Path, generation: str) -> VectorIndex | None:
    """The saved index if it matches ``generation``, memory-mapped; ``None`` when missing or stale."""
    import faiss

    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        if manifest.get("generation") != generation:
            return None
        index = faiss.read_index(str(folder / "vectors.faiss"), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        rows = np.load(folder / "rows.npy")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RuntimeError) as exc:  # faiss raises RuntimeError on a corrupt file
        log.warning("knowledge_index_unreadable", folder=str(folder), error=str(exc))
        return None
    if index.ntotal != len(rows) or index.ntotal != manifest.get("size"):
        log.warning("knowledge_index_mismatch", folder=str(folder), rows=len(rows), ntotal=int(index.ntotal))
        return None
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return VectorIndex(index, rows, manifest["kind"])


def remove_index(folder: Path) -> None:
    """Delete the index files (the store keeps the vectors)."""
    for name in ("vectors.faiss", "rows.npy", "manifest.json"):
        try:
            (folder / name).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(f"cannot remove {folder / name}: {exc}") from exc
