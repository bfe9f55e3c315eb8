"""The engine's turn stages, in the order they run (see ARCHITECTURE.md, "One turn, top to bottom").

Each stage is a small object with one async method, ``run(turn)``. Stages only read and write the
:class:`~bot.turn.Turn`; the engine loads, locks and persists around them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from bot.events import Escalated, GuardrailTriggered, KnowledgeConsulted
from bot.guardrails.base import Action, Detector, Policy, Signal
from bot.handoff.context import build_context
from bot.logs import get_logger
from bot.messages import BotMessage, Button
from bot.nlu.llm_commands import HUMAN_HANDOFF, dialogue_context
from bot.nlu.payload import parse_payload
from bot.nlu.understander import Understander
from bot.turn import Escalation, Turn, priority_of

log = get_logger(__name__)

HUMAN_BUTTON = Button("Talk to a person", "/human")


class Stage(Protocol):
    """One step of a turn."""

    name: str

    async def run(self, turn: Turn) -> None:
        """Read and update ``turn``."""


Normalizer = Callable[[str], str]


def collapse_whitespace(text: str) -> str:
    """Trim and collapse runs of white space."""
    return " ".join(text.split())


class Normalize:
    """Stage 2: turn raw input into clean text (spoken forms, white space)."""

    name = "normalize"

    def __init__(self, normalizers: Sequence[Normalizer] = (collapse_whitespace,)) -> None:
        self.normalizers = list(normalizers)

    async def run(self, turn: Turn) -> None:
        text = turn.text
        for normalize in self.normalizers:
            text = normalize(text)
        turn.text = text


class ScopeCheck(Protocol):
    """Is automation allowed for this conversation now? ``None`` means yes, else the reason it is not."""

    async def blocked(self, turn: Turn) -> str | None: ...


class AllowAll:
    """The default scope: the bot serves everything."""

    async def blocked(self, turn: Turn) -> str | None:
        return None


class Scope:
    """Stage 3: hand off with reason ``scope`` when automation is switched off here."""

    name = "scope"

    def __init__(self, check: ScopeCheck) -> None:
        self.check = check

    async def run(self, turn: Turn) -> None:
        why = await self.check.blocked(turn)
        if why is not None:
            turn.escalation = Escalation("scope", ({"detector": "scope", "category": "scope", "score": 1.0,
                                                    "evidence": why},))


class InputGuards:
    """Stage 4: detectors score the message; the policy decides continue, offer a human, escalate or block."""

    name = "input_guards"

    def __init__(self, detectors: Sequence[Detector], policy: Policy) -> None:
        self.detectors = list(detectors)
        self.policy = policy

    async def run(self, turn: Turn) -> None:
        if turn.escalation is not None or turn.handled:
            return  # e.g. a CSAT rating the csat stage already answered
        signals: list[Signal] = []
        for detector in self.detectors:
            signals.extend(await detector.detect(turn.text, turn.state, turn.channel))
        decision = self.policy.decide(signals, turn.state)
        if decision.action is Action.CONTINUE:
            return
        turn.emit(GuardrailTriggered(decision=str(decision.action), category=decision.category,
                                     signals=tuple(s.to_dict() for s in decision.signals)))
        log.info("guardrail_triggered", decision=str(decision.action), category=decision.category)
        if decision.action is Action.ESCALATE:
            turn.escalation = Escalation(decision.reason or decision.category,
                                         tuple(s.to_dict() for s in decision.signals),
                                         team=decision.team, message=decision.message)
        elif decision.action is Action.BLOCK:
            turn.say("utter_blocked", default="I can't help with that here.")
            turn.handled = True
        elif decision.action is Action.OFFER_HUMAN:
            turn.reply(BotMessage("Would you like me to connect you with a person?", (HUMAN_BUTTON,),
                                  response="utter_offer_human"))


class Understand:
    """Stage 5: intents and entities. An LLM command generator (when configured) also sees the recent transcript
    and the slot being collected; its ``human_handoff`` command hands off with reason ``requested``."""

    name = "understand"

    def __init__(self, understander: Understander) -> None:
        self.understander = understander

    async def run(self, turn: Turn) -> None:
        if turn.escalation is not None or turn.handled:
            return
        context = dialogue_context(turn.state, turn.project) if self.understander.llm is not None else None
        understanding = parse_payload(turn.text) or await self.understander.aunderstand(turn.text, context)
        turn.understanding = understanding
        if understanding.intent == HUMAN_HANDOFF:
            turn.escalation = Escalation("requested", ({"detector": "llm_commands", "category": "requested",
                                                        "score": understanding.confidence,
                                                        "evidence": HUMAN_HANDOFF},))
        turn.update_user_event(
            intent=understanding.intent,
            confidence=round(understanding.confidence, 4),
            entities=tuple(e.to_dict() for e in understanding.entities),
            ranking=tuple({"name": n, "confidence": round(c, 4)} for n, c in understanding.ranking),
        )


class ScopeAfterUnderstanding(Scope):
    """Stage 5b: hand off with reason ``scope`` when the understood intent, or the flow it starts, is switched
    off (the intent is only known after stage 5, so stage 3 cannot check it)."""

    name = "scope_understood"

    async def run(self, turn: Turn) -> None:
        if turn.escalation is not None or turn.handled or turn.understanding is None:
            return
        await super().run(turn)


class DialogueRunner(Protocol):
    """The flow engine: starts, continues, corrects or cancels flows for the turn."""

    async def handle(self, turn: Turn) -> None: ...


class Dialogue:
    """Stage 6: the flows own the turn when one is active or one is triggered."""

    name = "dialogue"

    def __init__(self, runner: DialogueRunner) -> None:
        self.runner = runner

    async def run(self, turn: Turn) -> None:
        if turn.escalation is not None or turn.handled:
            return
        await self.runner.handle(turn)


class KnowledgeAnswerer(Protocol):
    """Anything that answers a question from documents (see :mod:`bot.knowledge`)."""

    async def answer(self, question: str, *, context: Sequence[str] = ()) -> Any: ...


class Knowledge:
    """Stage 7: when no flow owned the turn, answer from the documents or say we don't know."""

    name = "knowledge"

    def __init__(self, knowledge: KnowledgeAnswerer | None) -> None:
        self.knowledge = knowledge

    async def run(self, turn: Turn) -> None:
        if turn.escalation is not None or turn.handled:
            return
        turn.handled = True
        if self.knowledge is None:
            turn.say("utter_default", default="Sorry, I didn't get that. Could you rephrase?")
            return
        context = [e["text"] for e in _recent_user_texts(turn)]
        answer = await self.knowledge.answer(turn.text, context=context)
        documents = tuple({"doc_id": c.doc_id, "title": c.title, "heading": c.heading, "url": c.url}
                          for c in answer.citations)
        turn.emit(KnowledgeConsulted(query=turn.text, documents=documents, answered=answer.answered))
        if answer.answered:
            turn.reply(BotMessage(answer.text, citations=documents, response="knowledge_answer"))
        else:
            turn.say("utter_dont_know", default="I'm sorry, I don't know the answer to that. "
                     "Would you like to talk to a person?")
            if not turn.replies[-1].buttons:
                last = turn.replies.pop()
                turn.replies.append(BotMessage(last.text, (HUMAN_BUTTON,), response=last.response))


def _recent_user_texts(turn: Turn, limit: int = 3) -> list[dict[str, str]]:
    from bot.events import UserUttered

    users = [e for e in turn.state.events if isinstance(e, UserUttered)][:-1]
    return [{"text": e.text} for e in users[-limit:]]


class OutputGuards:
    """Stage 8: nothing marked as account data reaches an unverified customer."""

    name = "output_guards"

    async def run(self, turn: Turn) -> None:
        if turn.state.slots.get("authenticated"):
            return
        kept = [m for m in turn.replies if not m.custom.get("account_data")]
        if len(kept) != len(turn.replies):
            log.warning("account_data_withheld", withheld=len(turn.replies) - len(kept))
            turn.replies[:] = kept
            turn.say("utter_verify_first", default="I need to verify your identity before I can share that.")


class EscalationDesk(Protocol):
    """The handoff side of an escalation (:class:`bot.handoff.service.EscalationDesk`)."""

    async def complete(self, context: dict[str, Any]) -> dict[str, Any]:
        """The context package with its final summary (LLM-written when configured)."""

    async def position(self, team: str | None, priority: int) -> Any:
        """Where the conversation will stand in the team's queue (``position``, ``wait_minutes``)."""


class Escalate:
    """Hand the conversation to humans when a stage asked for it: route to a team, build the context package,
    tell the customer what happens next (with their place in the queue when a desk is wired)."""

    name = "escalate"

    def __init__(self, desk: EscalationDesk | None = None) -> None:
        self.desk = desk

    async def run(self, turn: Turn) -> None:
        escalation = turn.escalation
        if escalation is None or any(isinstance(e, Escalated) for e in turn.events):
            return
        team = escalation.team or turn.project.config.handoff.team_for(escalation.reason)
        priority = priority_of(escalation.reason)
        context = build_context(turn.state, turn.project, reason=escalation.reason,
                                signals=escalation.signals, channel=turn.channel, team=team, priority=priority)
        if self.desk is not None:
            context = await self.desk.complete(context)
        turn.emit(Escalated(reason=escalation.reason, team=team, priority=priority,
                            signals=escalation.signals, context=context))
        log.info("handoff_requested", reason=escalation.reason, team=team, priority=priority)
        if escalation.message:
            turn.reply(BotMessage(escalation.message, response="utter_handoff"))
        else:
            turn.say("utter_handoff", default="I'm connecting you with a member of our team. "
                     "Please stay here; everything you write will be passed on.")
        if self.desk is not None:
            place = await self.desk.position(team, priority)
            if place.wait_minutes is not None:
                turn.say("utter_handoff_wait", default="You are number {queue_position} in the queue; the expected "
                         "wait is about {wait_minutes} minute(s).", queue_position=place.position,
                         wait_minutes=place.wait_minutes)
            else:
                turn.say("utter_handoff_position", default="You are number {queue_position} in the queue.",
                         queue_position=place.position)
        turn.handled = True


class Respond:
    """Stage 9: make sure the customer always gets an answer."""

    name = "respond"

    async def run(self, turn: Turn) -> None:
        if not turn.replies and not turn.handled:
            turn.say("utter_default", default="Sorry, I didn't get that. Could you rephrase?")
        if turn.escalation is None:
            for message in turn.followups:
                turn.reply(message)
