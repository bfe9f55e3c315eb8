"""Every check a scorecard may name, by name (:data:`CHECKS`); see :mod:`bot.qa.base` for what a check is.

Bot: ``verified_before_account_data``, ``answers_cited``, ``no_rephrase_after_answer``, ``max_fallbacks``,
``offered_person_when_asked``, ``escalated_sensitive``, ``handoff_context_complete``.
Agent: ``agent_greeted``, ``agent_first_response``, ``agent_verified_before_changes``,
``agent_no_sensitive_data``, ``no_repeat_contact``, ``sentiment_recovered``, ``agent_wrapped_up``.
LLM (only with ``llm:`` configured): ``llm_judge``.
"""

from __future__ import annotations

from bot.qa import agent_checks, bot_checks, judge
from bot.qa.base import REGISTRY, CheckSpec

CHECKS: dict[str, CheckSpec] = REGISTRY
"""Check name → spec (the modules below register theirs on import)."""

__all__ = ["CHECKS", "agent_checks", "bot_checks", "judge"]
