"""The LLM judge: a criterion whose rubric an OpenAI-compatible model applies, only when ``llm:`` is configured.

Never required: without ``llm:`` (or when the model fails) the criterion is *not applicable* for that
conversation and the rest of the scorecard is scored as usual. The transcript is masked
(:func:`bot.kernel.masking.mask_text`) before it leaves, and verdicts are cached per (rubric, masked
transcript), so scoring again under a new scorecard version asks the model only about what changed.
The model must answer ``PASS`` or ``FAIL`` on its first line, then optionally the number of the worst turn.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from bot.infra.llm import LLMConfig, complete, make_client
from bot.infra.logs import get_logger
from bot.kernel.errors import ProviderError
from bot.kernel.events import AgentMessage, BotUttered, UserUttered
from bot.kernel.masking import mask_text
from bot.qa.base import NOT_APPLICABLE, CheckContext, Verdict, check
from bot.qa.transcript import Conversation

log = get_logger(__name__)

PROMPT = ("You review a customer-service conversation against one rubric. Answer PASS or FAIL on the first "
          "line. When it fails, write the number of the turn that fails it on the second line. Rubric: ")
MAX_LINES = 60
CACHE_SIZE = 10_000
_TURN = re.compile(r"\b(\d{1,6})\b")


@check("llm_judge", kind="llm", rubric="The customer's question was answered correctly and politely.")
def llm_judge(conversation: Conversation, params: Mapping[str, Any], context: CheckContext) -> Verdict:
    """An LLM applies ``rubric`` (the scorer asks :class:`LLMJudge`; without ``llm:`` it does not apply)."""
    return Verdict(None, (), "no llm configured")


def masked_transcript(conversation: Conversation) -> str:
    """``[seq] who: text`` lines, PII masked."""
    lines = []
    for seq, event in conversation.numbered():
        if isinstance(event, UserUttered):
            lines.append(f"[{seq}] customer: {mask_text(event.text)}")
        elif isinstance(event, BotUttered):
            lines.append(f"[{seq}] bot: {mask_text(event.text)}")
        elif isinstance(event, AgentMessage):
            lines.append(f"[{seq}] agent: {mask_text(event.text)}")
    return "\n".join(lines[-MAX_LINES:])


class LLMJudge:
    """Asks the configured model; verdicts cached in memory per (rubric, transcript)."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self._client: Any = None
        self._cache: OrderedDict[str, Verdict] = OrderedDict()

    async def judge(self, conversation: Conversation, params: Mapping[str, Any]) -> Verdict:
        """The model's verdict, or not applicable (logged) when it fails."""
        rubric = str(params.get("rubric", ""))
        transcript = masked_transcript(conversation)
        key = hashlib.sha256(f"{rubric}\0{transcript}".encode()).hexdigest()
        if key in self._cache:
            return self._cache[key]
        if self._client is None:
            self._client = make_client(self.config)
        try:
            answer = await complete(self._client, self.config, [
                {"role": "system", "content": PROMPT + rubric}, {"role": "user", "content": transcript}],
                max_tokens=20)
        except ProviderError as exc:
            log.warning("qa_judge_failed", error=str(exc), permanent=exc.permanent)
            return NOT_APPLICABLE
        first, _, rest = answer.strip().partition("\n")
        word = first.strip().upper()
        if word.startswith("PASS"):
            verdict = Verdict(True, (), "llm judge")
        elif word.startswith("FAIL"):
            turn = _TURN.search(rest) or _TURN.search(first)
            seq = int(turn.group(1)) if turn else 0
            evidence = (seq,) if 1 <= seq <= len(conversation.events) else ()
            verdict = Verdict(False, evidence, "llm judge")
        else:
            log.warning("qa_judge_unreadable", answer=answer[:80])
            return NOT_APPLICABLE
        self._cache[key] = verdict
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return verdict

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
