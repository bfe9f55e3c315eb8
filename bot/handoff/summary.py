"""Summaries for agents: extractive by default, LLM-written when an OpenAI-compatible model is configured.

The LLM summary only ever goes into the context package for agents, never to the customer. When the
model fails or is slow, the extractive summary stays (the failure is logged, not raised).
"""

from __future__ import annotations

from bot.handoff.context import ContextPackage
from bot.infra.llm import LLMConfig, make_client, translate_error
from bot.infra.logs import get_logger
from bot.kernel.errors import ProviderError
from bot.kernel.masking import mask_text

log = get_logger(__name__)

PROMPT = (
    "You summarise a customer-service conversation for the human agent taking it over. In at most three "
    "sentences say what the customer wants, what the bot already tried, and how the customer feels. "
    "Do not address the customer. Do not invent facts."
)
MAX_TRANSCRIPT_LINES = 40


def transcript_text(context: ContextPackage) -> str:
    """The package's transcript as ``who: text`` lines (the latest lines when long)."""
    lines = context["transcript"][-MAX_TRANSCRIPT_LINES:]
    return "\n".join(f"{line['from']}: {line['text']}" for line in lines)


class LLMSummarizer:
    """Writes the package's ``summary`` with an OpenAI-compatible chat model."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = config

    async def summarize(self, context: ContextPackage) -> str:
        """A short summary of ``context``; raises :class:`ProviderError` when the model fails."""
        import openai

        transcript = mask_text(transcript_text(context))  # no customer PII leaves for the model
        user = f"Escalation reason: {context['reason']}\n\nTranscript:\n{transcript}"
        try:
            async with make_client(self.config) as client:  # escalations are rare: no client kept open
                response = await client.chat.completions.create(
                    model=self.config.model,
                    temperature=self.config.temperature,
                    messages=[{"role": "system", "content": PROMPT}, {"role": "user", "content": user}],
                )
        except openai.OpenAIError as exc:
            raise translate_error(exc, provider="handoff_summary") from exc
        text = (response.choices[0].message.content or "").strip() if response.choices else ""
        if not text:
            raise ProviderError("the summary model returned no text", provider="handoff_summary", permanent=False)
        return text

    async def complete(self, context: ContextPackage) -> ContextPackage:
        """``context`` with an LLM summary, or unchanged (extractive) when the model fails."""
        try:
            summary = await self.summarize(context)
        except ProviderError as exc:
            log.warning("handoff_summary_fell_back", error=str(exc), permanent=exc.permanent)
            return context
        completed = context.copy()
        completed["summary"], completed["summary_source"] = summary, "llm"
        return completed
