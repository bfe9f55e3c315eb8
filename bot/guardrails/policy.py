"""The one policy: signals in, one decision out (continue, offer a human, escalate, block).

Each signal category has a :class:`~bot.project.schema.PolicyRule` of thresholds; a signal earns the
strongest action whose threshold its score reaches (escalate > block > offer_human). Among the earned
actions the strongest wins, then the escalation reason with the higher priority, then the score.
Safety categories (self-harm, danger) always escalate with reason ``safety`` (top queue priority) and a
message the escalate stage says instead of its default handoff line: emergency-services advice first for
``danger`` (a medical emergency, fire, gas, violence: :data:`EMERGENCY_MESSAGE`), the configured
``safety_message`` (emergency services and Samaritans) for self-harm, whatever the rules say. An offer
the customer ignored escalates when the same category fires again within two turns.
"""

from __future__ import annotations

from bot.guardrails.base import Action, Decision, Policy, Signal
from bot.guardrails.taxonomy import FAMILIES
from bot.kernel.conversation import ConversationState
from bot.kernel.events import GuardrailTriggered, UserUttered
from bot.pipeline.turn import priority_of
from bot.project.schema import PolicyConfig, PolicyRule, RegulatedCategory, default_policy_rules

#: What a customer in immediate danger hears first (before being queued at top priority).
EMERGENCY_MESSAGE = (
    "If someone is in danger or this is a medical emergency (chest pain, someone collapsed or not breathing, "
    "a fire or a smell of gas), call the emergency services now on 999 (or 112; 911 in the US). For gas, leave "
    "the building and call the gas emergency line (0800 111 999 in Great Britain). "
    "I'm also passing you to a member of our team straight away."
)
#: The schema's default ``safety_message``: a project that keeps it gets the emergency message for ``danger``.
_DEFAULT_SAFETY_MESSAGE = PolicyConfig().safety_message

STRENGTH = {Action.CONTINUE: 0, Action.OFFER_HUMAN: 1, Action.BLOCK: 2, Action.ESCALATE: 3}


def earned(rule: PolicyRule, score: float) -> Action:
    """The strongest action of ``rule`` whose threshold ``score`` reaches."""
    for action, threshold in ((Action.ESCALATE, rule.escalate), (Action.BLOCK, rule.block),
                              (Action.OFFER_HUMAN, rule.offer_human)):
        if threshold is not None and score >= threshold:
            return action
    return Action.CONTINUE


def lowest_threshold(rule: PolicyRule) -> float | None:
    """The smallest score at which ``rule`` does anything (``None``: never)."""
    values = [v for v in (rule.offer_human, rule.escalate, rule.block) if v is not None]
    return min(values) if values else None


class ConfiguredPolicy(Policy):
    """The policy of ``guardrails.yml`` (see the module docstring)."""

    def __init__(self, config: PolicyConfig, categories: dict[str, RegulatedCategory]) -> None:
        self.config = config
        self.categories = categories
        self.rules = {**default_policy_rules(), **config.rules}

    def rule(self, category: str) -> PolicyRule | None:
        """The rule for ``category``: its own, else the regulated default for taxonomy categories."""
        if category in self.rules:
            return self.rules[category]
        return self.config.regulated if category in self.categories else None

    def reason(self, category: str, rule: PolicyRule) -> str:
        """The escalation reason for ``category``."""
        if rule.reason:
            return rule.reason
        if category in self.categories:
            return "safety" if self.categories[category].safety else "regulated"
        return FAMILIES.get(category, "complex")

    def safety_message(self, category: str) -> str:
        """What to say first for a safety ``category``: emergency advice for ``danger`` unless the project wrote
        its own ``safety_message``, else the configured safety message."""
        if category == "danger" and self.config.safety_message == _DEFAULT_SAFETY_MESSAGE:
            return EMERGENCY_MESSAGE
        return self.config.safety_message

    def decide(self, signals: list[Signal], state: ConversationState) -> Decision:
        candidates: list[tuple[Action, str, Signal, PolicyRule]] = []
        for signal in signals:
            rule = self.rule(signal.category)
            if rule is None:
                continue
            action = earned(rule, signal.score)
            category = self.categories.get(signal.category)
            if category is not None and category.safety and action is not Action.CONTINUE:
                action = Action.ESCALATE
            if action is not Action.CONTINUE:
                candidates.append((action, self.reason(signal.category, rule), signal, rule))
        if not candidates:
            return Decision(Action.CONTINUE)

        def rank(item: tuple[Action, str, Signal, PolicyRule]) -> tuple[int, int, float]:
            action, reason, signal, _ = item
            return (STRENGTH[action], priority_of(reason), signal.score)

        candidates.sort(key=rank, reverse=True)
        action, reason, top, rule = candidates[0]
        team = rule.team or (self.categories[top.category].team if top.category in self.categories else None)
        others = tuple(s for _, _, s, _ in candidates[1:])
        if reason == "safety" and top.category in self.categories:
            return Decision(Action.ESCALATE, top.category, "safety", (top, *others), team,
                            self.safety_message(top.category))
        if action is Action.OFFER_HUMAN and self.config.escalate_after_offer and offered_recently(state, top.category):
            return Decision(Action.ESCALATE, top.category, reason, (top, *others), team)
        return Decision(action, top.category, reason, (top, *others), team)


def offered_recently(state: ConversationState, category: str, turns: int = 2) -> bool:
    """True when a human was offered for ``category`` within the last ``turns`` customer turns."""
    seen = 0
    for event in reversed(state.events):
        if isinstance(event, UserUttered) and event is not state.latest_user:
            seen += 1
            if seen > turns:
                return False
        elif isinstance(event, GuardrailTriggered) and event.decision == Action.OFFER_HUMAN.value \
                and event.category == category:
            return True
    return False
