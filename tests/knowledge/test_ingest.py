"""Ingest: incremental updates by content hash, deletions, skipped documents, index formats and locations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from bot.infra.embeddings import Embedder
from bot.kernel.errors import ConfigError
from bot.knowledge import KnowledgeBase, KnowledgeConfig, default_index_dir


def open_kb(project: Path, index: Path, embedder: Embedder, **settings: Any) -> KnowledgeBase:
    return KnowledgeBase.open(project, KnowledgeConfig(**settings), embedder=embedder, index_dir=index)


def test_first_ingest_indexes_every_format(small_project: Path, tmp_path: Path, embedder: Embedder) -> None:
    """Markdown, HTML and text files are all indexed, with doc ids relative to the knowledge folder."""
    kb = open_kb(small_project, tmp_path / "index", embedder)
    assert sorted(kb.report.added) == ["care/leather", "hours", "returns"]
    assert kb.report.skipped == []
    assert kb.report.index_kind == "flat"
    assert {c.doc_id for c in kb.retriever.chunks} == {"care/leather", "hours", "returns"}


async def test_reingest_embeds_only_changed_files(small_project: Path, tmp_path: Path, embedder: Embedder) -> None:
    """Re-opening embeds nothing when files are unchanged, and only the edited file after an edit."""
    index = tmp_path / "index"
    open_kb(small_project, index, embedder)
    again = open_kb(small_project, index, embedder)
    assert again.report.chunks_embedded == 0 and not again.report.changed
    (small_project / "knowledge" / "hours.html").write_text(
        "<h1>Opening hours</h1><p>The showroom now opens on Sundays from 11 am to 5 pm.</p>")
    edited = open_kb(small_project, index, embedder)
    assert edited.report.updated == ["hours"]
    assert edited.report.added == [] and sorted(edited.report.unchanged) == ["care/leather", "returns"]
    found = await edited.search("are you open on Sunday?", top_k=1)
    assert found[0].doc_id == "hours" and "Sundays" in found[0].text


async def test_deleted_file_leaves_the_index(small_project: Path, tmp_path: Path, embedder: Embedder) -> None:
    """A deleted document is removed from the index and can no longer be retrieved."""
    index = tmp_path / "index"
    open_kb(small_project, index, embedder)
    (small_project / "knowledge" / "care" / "leather.txt").unlink()
    kb = open_kb(small_project, index, embedder)
    assert kb.report.removed == ["care/leather"]
    found = await kb.search("how often should I condition leather?", top_k=10)
    assert all(c.doc_id != "care/leather" for c in found)


def test_unreadable_documents_are_skipped_with_a_logged_reason(small_project: Path, tmp_path: Path,
                                                               embedder: Embedder, add_docs: Any) -> None:
    """Empty, binary, non-UTF-8, markup-only and unsupported files are skipped, each with a logged reason."""
    add_docs(small_project, {"empty.md": "  \n", "binary.txt": b"\x00\x01PNG", "latin.md": b"caf\xe9 ol\xe9",
                               "markup.html": "<html><script>x()</script></html>", "manual.pdf": b"%PDF-1.4",
                               "manual.docx": b"PK"})
    with capture_logs() as logs:
        kb = open_kb(small_project, tmp_path / "index", embedder)
    reasons = {s.path: s.reason for s in kb.report.skipped}
    assert reasons == {"empty.md": "empty document", "binary.txt": "binary content (not a text document)",
                       "latin.md": "not valid UTF-8 (byte 3)", "markup.html": "no text found (markup only)",
                       "manual.pdf": reasons["manual.pdf"], "manual.docx": "unsupported file type .docx"}
    assert reasons["manual.pdf"].startswith("unreadable PDF")
    logged = {e["path"] for e in logs if e["event"] == "knowledge_document_skipped"}
    assert logged == set(reasons)
    assert sorted(kb.report.added) == ["care/leather", "hours", "returns"]


def minimal_pdf(lines: list[str]) -> bytes:
    """A one-page PDF (Helvetica) stating ``lines``, built by hand with a correct cross-reference table."""
    text = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {text} ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
               b" /Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


async def test_pdf_documents_are_ingested_and_answer_questions(small_project: Path, tmp_path: Path,
                                                               embedder: Embedder, add_docs: Any) -> None:
    """A PDF's text is indexed like a text file: it is added, and a question about it retrieves it."""
    add_docs(small_project, {"warranty.pdf": minimal_pdf(["Warranty", "Frames are guaranteed for 10 years.",
                                                          "Fabric wear is not covered."])})
    kb = open_kb(small_project, tmp_path / "index", embedder)
    assert "warranty" in kb.report.added and not kb.report.skipped
    found = await kb.search("how long are frames guaranteed?", top_k=1)
    assert found[0].doc_id == "warranty" and "10 years" in found[0].text


def test_corrupt_index_file_is_rebuilt_without_reembedding(small_project: Path, tmp_path: Path,
                                                            embedder: Embedder) -> None:
    """A damaged FAISS file is rebuilt from the stored vectors; no chunk is embedded again."""
    index = tmp_path / "index"
    first = open_kb(small_project, index, embedder)
    (index / "vectors.faiss").write_bytes(b"garbage")
    with capture_logs() as logs:
        again = open_kb(small_project, index, embedder)
    assert again.report.chunks_embedded == 0
    assert again.report.vectors == first.report.vectors
    assert any(e["event"] == "knowledge_index_unreadable" for e in logs)


async def test_hnsw_index_above_the_threshold(small_project: Path, tmp_path: Path, embedder: Embedder) -> None:
    """With more vectors than ``hnsw_threshold`` the index is HNSW and still finds the right chunk."""
    kb = open_kb(small_project, tmp_path / "index", embedder, hnsw_threshold=3)
    assert kb.report.index_kind == "hnsw"
    found = await kb.search("how long do refunds take", top_k=1)
    assert found[0].doc_id == "returns" and found[0].heading == "How long do refunds take?"


def test_missing_knowledge_folder_is_a_config_error(tmp_path: Path, embedder: Embedder) -> None:
    """Opening a project without a knowledge folder raises a ConfigError naming the folder."""
    with pytest.raises(ConfigError, match="knowledge folder does not exist"):
        open_kb(tmp_path, tmp_path / "index", embedder)


def test_read_only_project_indexes_into_the_user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the project folder is not writable the index goes to a per-user cache folder keyed by its path."""
    project = tmp_path / "site-packages" / "demo"
    project.mkdir(parents=True)
    monkeypatch.delenv("CARELINE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr("bot.infra.cache.os.access", lambda path, mode: False)
    folder = default_index_dir(project)
    assert folder.is_relative_to(tmp_path / "cache" / "careline")
    assert folder.name == "knowledge" and not (project / ".careline").exists()
    assert default_index_dir(tmp_path / "site-packages" / "other") != folder


async def test_lexical_index_is_saved_and_loaded_not_rebuilt(small_project: Path, tmp_path: Path,
                                                             embedder: Embedder,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The BM25 postings are written next to the vectors; a restart loads them (building none) and scores the
    same; an edited document makes a new generation and the postings are rebuilt."""
    from bot.knowledge import lexical

    index = tmp_path / "index"
    first = open_kb(small_project, index, embedder)
    assert (index / "lexical.npz").exists()
    built: list[int] = []
    original = lexical.BM25.__init__

    def counting(self: lexical.BM25, documents: Any = ()) -> None:
        built.append(len(documents))
        original(self, documents)

    monkeypatch.setattr(lexical.BM25, "__init__", counting)
    again = open_kb(small_project, index, embedder)
    assert built == [0]
    assert first.retriever.bm25 is not None and again.retriever.bm25 is not None
    terms = {"refund": 1.0, "sofa": 0.5}
    assert (first.retriever.bm25.scores(terms) == again.retriever.bm25.scores(terms)).all()
    (small_project / "knowledge" / "hours.html").write_text("<h1>Opening hours</h1><p>Open on Sundays.</p>")
    open_kb(small_project, index, embedder)
    assert built[-1] > 0
