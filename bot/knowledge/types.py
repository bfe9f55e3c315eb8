"""The values the knowledge base hands out: chunks, retrieved chunks, citations and answers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of one document that is embedded and retrieved as a unit.

    ``heading_path`` runs from the document's top heading down to the section holding the text;
    ``anchor`` is the slug of the nearest heading (links as ``doc#anchor``).
    """

    doc_id: str
    ordinal: int
    title: str
    source_path: str
    heading_path: tuple[str, ...]
    anchor: str | None
    kind: str
    """``section`` (paragraphs), ``list``, ``faq`` (one question with its answer) or ``table``."""
    text: str
    question: str | None = None
    """For ``faq`` chunks: the question alone (it gets its own vector, so matching questions rank first)."""
    url: str | None = None

    @property
    def heading(self) -> str:
        """The innermost heading ('' when the text sits before any heading)."""
        return self.heading_path[-1] if self.heading_path else ""

    def embed_text(self) -> str:
        """What is embedded: title and heading path give the text its subject."""
        where = " › ".join([self.title, *(h for h in self.heading_path if h != self.title)])
        return f"{where}\n{self.text}"


@dataclass(frozen=True, slots=True)
class RetrievedChunk:
    """A chunk found for a query. ``score`` ranks (dense + context + lexical); ``similarity`` is the cosine
    between the question and the chunk, the number the "don't know" threshold applies to."""

    chunk_id: int
    doc_id: str
    title: str
    heading: str
    heading_path: tuple[str, ...]
    anchor: str | None
    url: str | None
    source_path: str
    kind: str
    text: str
    score: float
    similarity: float
    question: str | None = None


@dataclass(frozen=True, slots=True)
class Citation:
    """Where an answer came from."""

    doc_id: str
    title: str
    heading: str
    anchor: str | None
    url: str | None

    @classmethod
    def of(cls, chunk: RetrievedChunk) -> Citation:
        return cls(chunk.doc_id, chunk.title, chunk.heading, chunk.anchor, chunk.url)


@dataclass(frozen=True, slots=True)
class KnowledgeAnswer:
    """The knowledge base's reply. When ``answered`` is False, ``text`` is empty: the engine says it does not
    know and offers a human (counted as "no answer" in analytics). ``mode`` is ``extractive``, ``llm`` or
    ``none``."""

    answered: bool
    text: str
    citations: tuple[Citation, ...]
    chunks: tuple[RetrievedChunk, ...]
    mode: str
