"""Opt-in OpenAI-compatible LLMs (any ``base_url``). The default bot never needs one.

Only :func:`make_client` touches the ``openai`` package; callers translate its failures into
:class:`bot.kernel.errors.ProviderError` through :func:`translate_error`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from bot.infra import environment
from bot.kernel.errors import ProviderError

if TYPE_CHECKING:
    from openai import AsyncOpenAI


class LLMConfig(BaseModel):
    """Where an OpenAI-compatible chat-completions endpoint lives (``llm:`` in config.yml)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    """Root of the API, e.g. ``http://127.0.0.1:8000/v1``."""
    model: str
    """Model name sent with every request."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the key (read when the client is made, never stored)."""
    timeout: float = Field(default=10.0, gt=0)
    """Seconds before a request counts as failed (the caller then falls back)."""
    max_retries: int = Field(default=0, ge=0)
    """Retries inside the client; 0 keeps fallbacks fast."""
    temperature: float = Field(default=0.0, ge=0, le=2)
    """Sampling temperature for every call."""


def make_client(config: LLMConfig) -> AsyncOpenAI:
    """An ``AsyncOpenAI`` client for ``config``."""
    from openai import AsyncOpenAI

    return AsyncOpenAI(
        base_url=config.base_url,
        api_key=environment.secret(config.api_key_env) or "not-needed",
        timeout=config.timeout,
        max_retries=config.max_retries,
    )


def translate_error(exc: Exception, *, provider: str = "llm") -> ProviderError:
    """Map an ``openai`` exception to a :class:`ProviderError` (4xx other than 429 are permanent)."""
    import openai

    permanent = isinstance(exc, openai.APIStatusError) and exc.status_code < 500 and exc.status_code != 429
    return ProviderError(f"{provider} failed: {type(exc).__name__}: {exc}", provider=provider, permanent=permanent)


async def complete(client: Any, config: LLMConfig, messages: list[dict[str, str]], *, max_tokens: int = 300) -> str:
    """One chat completion's text; every failure (timeout, API error, malformed reply) is a ProviderError."""
    import openai

    try:
        response = await asyncio.wait_for(
            client.chat.completions.create(model=config.model, messages=messages, temperature=config.temperature,
                                           max_tokens=max_tokens),
            timeout=config.timeout + 1)
    except TimeoutError as exc:
        raise ProviderError(f"llm timed out after {config.timeout}s", provider="llm") from exc
    except openai.OpenAIError as exc:
        raise translate_error(exc) from exc
    try:
        return str(response.choices[0].message.content or "")
    except (AttributeError, IndexError) as exc:
        raise ProviderError(f"llm returned a malformed response: {exc}", provider="llm", permanent=True) from exc
