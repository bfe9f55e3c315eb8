"""The optional generated answer: an OpenAI-compatible chat model that may only use the numbered passages.

Failures (HTTP errors, timeouts, malformed replies) are translated to :class:`~bot.kernel.errors.ProviderError`
here, at the boundary; the knowledge base then falls back to the extractive answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.infra.llm import LLMConfig, complete, make_client
from bot.kernel.errors import ProviderError
from bot.kernel.masking import mask_text
from bot.knowledge.types import RetrievedChunk

NOT_FOUND = "NOT_IN_PASSAGES"

SYSTEM_PROMPT = f"""You answer customers' questions for a company's support team.
Use ONLY the numbered passages below. Never add facts, numbers, prices, dates or advice that are not in them.
After every sentence, cite the passage(s) it comes from as [1], [2].
Answer in at most three short sentences, in the customer's language, without greetings.
If the passages do not answer the question, reply exactly {NOT_FOUND}."""


def format_passages(chunks: Sequence[RetrievedChunk]) -> str:
    """Passages numbered from 1, each headed by its source."""
    blocks = []
    for number, chunk in enumerate(chunks, start=1):
        where = " › ".join([chunk.title, *(h for h in chunk.heading_path if h != chunk.title)])
        blocks.append(f"[{number}] ({where})\n{chunk.text}")
    return "\n\n".join(blocks)


def build_messages(question: str, context: Sequence[str], chunks: Sequence[RetrievedChunk]) -> list[dict[str, str]]:
    """The chat messages sent to the model; the customer's words have their PII masked first."""
    question = mask_text(question)
    earlier = "\n".join(f"- {mask_text(turn)}" for turn in context)
    user = f"Passages:\n\n{format_passages(chunks)}\n\n"
    if earlier:
        user += f"Earlier messages from the customer (oldest first):\n{earlier}\n\n"
    user += f"Question: {question}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


class LLMAnswerer:
    """Asks the configured model; one client per knowledge base."""

    def __init__(self, config: LLMConfig, client: Any = None) -> None:
        self.config = config
        self.client = client or make_client(config)

    async def generate(self, question: str, context: Sequence[str], chunks: Sequence[RetrievedChunk]) -> str | None:
        """The model's answer, or ``None`` when it says the passages do not answer; raises ProviderError."""
        text = (await complete(self.client, self.config, build_messages(question, context, chunks))).strip()
        if not text:
            raise ProviderError("llm returned an empty answer", provider="llm")
        if NOT_FOUND in text:
            return None
        return text

    async def close(self) -> None:
        await self.client.close()
