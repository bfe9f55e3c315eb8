"""The engine's turn stages, in the order they run (see ARCHITECTURE.md, "One turn, top to bottom").

Each stage is a small object with one async method, ``run(turn)``, that returns a
:data:`~bot.pipeline.turn.StageResult`: ``CONTINUE`` (the next stage runs), ``ANSWERED`` (the answering chain
stops) or an :class:`~bot.pipeline.turn.Escalation` (the chain stops and the turn hands off). The closing stages
(:func:`closing_stages`: output guards, escalate, respond) run after the chain whatever it returned. Stages
only read and write the :class:`~bot.pipeline.turn.Turn`; the engine loads, locks and persists around them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Protocol

from bot.guardrails.base import Action, Detector, Policy, Signal
from bot.handoff.context import ContextPackage, build_context
from bot.handoff.queue import Position
from bot.infra.logs import get_logger
from bot.kernel.conversation import ConversationState
from bot.kernel.events import BotUttered, Escalated, GuardrailTriggered, KnowledgeConsulted
from bot.kernel.messages import BotMessage, Button
from bot.nlu.acts import Act, chosen_button, reply_act
from bot.nlu.llm_commands import HUMAN_HANDOFF, dialogue_context
from bot.nlu.payload import parse_payload
from bot.nlu.understander import Understander
from bot.pipeline.turn import ANSWERED, CONTINUE, Escalation, StageResult, Turn, priority_of

log = get_logger(__name__)

HUMAN_BUTTON = Button("Talk to a person", "/human")


class Stage(Protocol):
    """One step of a turn."""

    name: str

    async def run(self, turn: Turn) -> StageResult:
        """Read and update ``turn``; say whether the chain goes on, is answered or escalates."""


Normalizer = Callable[[str], str]


def collapse_whitespace(text: str) -> str:
    """Trim and collapse runs of white space."""
    return " ".join(text.split())


class Normalize:
    """Stage 2: turn raw input into clean text (spoken forms, white space)."""

    name = "normalize"

    def __init__(self, normalizers: Sequence[Normalizer] = (collapse_whitespace,)) -> None:
        self.normalizers = list(normalizers)

    async def run(self, turn: Turn) -> StageResult:
        text = turn.text
        for normalize in self.normalizers:
            text = normalize(text)
        turn.text = text
        return CONTINUE


class ReadReply:
    """Stage 2b: a short reply to what the bot just offered is read against it. After an offer of a person, "yes
    please" / "sure, do that" asks for one (the turn continues as the offer's button) and "nah, it's fine" is
    answered politely instead of handing off; after other buttons, "the second one", "yes" or a button's own words
    act as that button (see :mod:`bot.nlu.acts`). Answers to a flow's own question (its buttons) are the flow's
    to read; ``flow_question`` names the response the waiting step asked with."""

    name = "reply"

    def __init__(self, flow_question: Callable[[ConversationState], str | None] = lambda _state: None) -> None:
        self.flow_question = flow_question

    async def run(self, turn: Turn) -> StageResult:
        shown = turn.shown_message()
        if shown is None or turn.text.startswith("/"):
            return CONTINUE
        question = self.flow_question(turn.state)
        if question is not None and shown.response == question:
            return CONTINUE
        buttons = shown.buttons
        act = reply_act(turn.text)
        offered_person = any(b.get("payload") == HUMAN_BUTTON.payload for b in buttons)
        if offered_person and act is Act.DENY:
            turn.say("utter_offer_declined", default="No problem. What else can I help you with?")
            return ANSWERED
        chosen = chosen_button(turn.text, buttons)
        if chosen is not None:
            log.info("reply_read_as_button", payload=str(chosen.get("payload")))
            turn.text = str(chosen["payload"])
        elif act is Act.AFFIRM and len(buttons) > 1:  # "ok" to several options: ask which, with the same buttons
            again = tuple(Button(str(b["title"]), str(b["payload"])) for b in buttons)
            turn.reply(dataclasses.replace(turn.render("utter_which_option", default="Which one would you like?"),
                                           buttons=again))
            return ANSWERED
        return CONTINUE


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

    async def run(self, turn: Turn) -> StageResult:
        why = await self.check.blocked(turn)
        if why is None:
            return CONTINUE
        return Escalation("scope", (Signal("scope", "scope", 1.0, why),))


class InputGuards:
    """Stage 4: detectors score the message; the policy decides continue, offer a human, escalate or block."""

    name = "input_guards"

    def __init__(self, detectors: Sequence[Detector], policy: Policy) -> None:
        self.detectors = list(detectors)
        self.policy = policy

    async def run(self, turn: Turn) -> StageResult:
        signals: list[Signal] = []
        for detector in self.detectors:
            signals.extend(await detector.detect(turn.text, turn.state, turn.channel))
        decision = self.policy.decide(signals, turn.state)
        if decision.action is Action.CONTINUE:
            return CONTINUE
        turn.emit(GuardrailTriggered(decision=str(decision.action), category=decision.category,
                                     signals=tuple(s.to_dict() for s in decision.signals)))
        log.info("guardrail_triggered", decision=str(decision.action), category=decision.category)
        if decision.action is Action.ESCALATE:
            return Escalation(decision.reason or decision.category, tuple(decision.signals), team=decision.team,
                              message=decision.message)
        if decision.action is Action.BLOCK:
            turn.say("utter_blocked", default="I can't help with that here.")
            return ANSWERED
        if decision.action is Action.OFFER_HUMAN:  # the offer goes with whatever answers the message
            turn.reply(BotMessage("Would you like me to connect you with a person?", (HUMAN_BUTTON,),
                                  response="utter_offer_human"))
        return CONTINUE


class Understand:
    """Stage 5: intents and entities. An LLM command generator (when configured) also sees the recent transcript
    and the slot being collected; its ``human_handoff`` command hands off with reason ``requested``."""

    name = "understand"

    def __init__(self, understander: Understander) -> None:
        self.understander = understander

    async def run(self, turn: Turn) -> StageResult:
        context = dialogue_context(turn.state, turn.project) if self.understander.llm is not None else None
        understanding = parse_payload(turn.text) or await self.understander.aunderstand(turn.text, context)
        turn.understanding = understanding
        turn.update_user_event(
            intent=understanding.intent,
            confidence=round(understanding.confidence, 4),
            entities=tuple(e.to_dict() for e in understanding.entities),
            ranking=tuple({"name": n, "confidence": round(c, 4)} for n, c in understanding.ranking),
        )
        if understanding.intent == HUMAN_HANDOFF:
            return Escalation("requested", (Signal("llm_commands", "requested", understanding.confidence,
                                                   HUMAN_HANDOFF),))
        return CONTINUE


class ScopeAfterUnderstanding(Scope):
    """Stage 5b: hand off with reason ``scope`` when the understood intent, or the flow it starts, is switched
    off (the intent is only known after stage 5, so stage 3 cannot check it)."""

    name = "scope_understood"

    async def run(self, turn: Turn) -> StageResult:
        if turn.understanding is None:
            return CONTINUE
        return await super().run(turn)


class DialogueRunner(Protocol):
    """The flow engine: starts, continues, corrects or cancels flows for the turn."""

    async def handle(self, turn: Turn) -> StageResult:
        """``ANSWERED`` when a flow owned the turn, an escalation when one handed off, else ``CONTINUE``."""


class Dialogue:
    """Stage 6: the flows own the turn when one is active or one is triggered."""

    name = "dialogue"

    def __init__(self, runner: DialogueRunner) -> None:
        self.runner = runner

    async def run(self, turn: Turn) -> StageResult:
        return await self.runner.handle(turn)


class Cited(Protocol):
    """A document an answer cites."""

    @property
    def doc_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def heading(self) -> str: ...
    @property
    def url(self) -> str | None: ...


class KnowledgeReply(Protocol):
    """What a knowledge answerer returns: the answer's text and citations, or ``answered`` false (don't know)."""

    @property
    def answered(self) -> bool: ...
    @property
    def text(self) -> str: ...
    @property
    def citations(self) -> Sequence[Cited]: ...


class KnowledgeAnswerer(Protocol):
    """Anything that answers a question from documents (see :mod:`bot.knowledge`)."""

    async def answer(self, question: str, *, context: Sequence[str] = ()) -> KnowledgeReply: ...


class Knowledge:
    """Stage 7: when no flow owned the turn, answer from the documents or say we don't know."""

    name = "knowledge"

    def __init__(self, knowledge: KnowledgeAnswerer | None) -> None:
        self.knowledge = knowledge

    async def run(self, turn: Turn) -> StageResult:
        if self.knowledge is None:
            turn.say("utter_default", default="Sorry, I didn't get that. Could you rephrase?")
            return ANSWERED
        if not await answer_from_documents(self.knowledge, turn):
            dont_know = turn.render("utter_dont_know", default="I'm sorry, I don't know the answer to that. "
                                    "Would you like to talk to a person?")
            turn.reply(dont_know if dont_know.buttons else dataclasses.replace(dont_know, buttons=(HUMAN_BUTTON,)))
        return ANSWERED


async def answer_from_documents(knowledge: KnowledgeAnswerer, turn: Turn, question: str | None = None) -> bool:
    """Ask the documents ``question`` (the turn's text by default); reply with the cited answer and say ``True``,
    or say ``False`` (nothing is replied)."""
    # ten earlier customer turns: the retriever embeds the last few, and looks further back for the entity
    # (hotel, store) the conversation is about
    context = [e["text"] for e in _recent_user_texts(turn, limit=10)]
    question = question or turn.text
    answer = await knowledge.answer(question, context=context)
    documents = tuple({"doc_id": c.doc_id, "title": c.title, "heading": c.heading, "url": c.url}
                      for c in answer.citations)
    turn.emit(KnowledgeConsulted(query=question, documents=documents, answered=answer.answered))
    if answer.answered:
        turn.reply(BotMessage(answer.text, citations=documents, response="knowledge_answer"))
    return answer.answered


class PolicyQuestion:
    """Stage 5c: a question about the rules that names the customer's purchase ("my lamp came last month, can I
    still send it back?") is answered from the documents instead of starting the flow its words trigger (which
    would first ask who the customer is). When the documents have no answer, the flow starts as usual.
    ``starting`` says whether the turn would start a flow (none is active and the intent triggers one);
    ``question`` reads the question's form and returns the policy question without the story before
    it, or ``None`` (:func:`bot.nlu.questions.policy_question`). The whole message is asked first, then that
    question alone."""

    name = "policy_question"

    def __init__(self, knowledge: KnowledgeAnswerer | None, starting: Callable[[Turn], bool],
                 question: Callable[[str], str | None]) -> None:
        self.knowledge = knowledge
        self.starting = starting
        self.question = question

    async def run(self, turn: Turn) -> StageResult:
        question = None if self.knowledge is None or turn.text.startswith("/") else self.question(turn.text)
        if self.knowledge is None or question is None or not self.starting(turn):
            return CONTINUE
        answered = await answer_from_documents(self.knowledge, turn)
        if not answered and question != turn.text.strip():
            answered = await answer_from_documents(self.knowledge, turn, question)
        if not answered:
            return CONTINUE
        log.info("policy_question_answered", intent=turn.understanding.intent if turn.understanding else None)
        return ANSWERED


def _recent_user_texts(turn: Turn, limit: int = 3) -> list[dict[str, str]]:
    from bot.kernel.events import UserUttered

    users = [e for e in turn.state.events if isinstance(e, UserUttered)][:-1]
    return [{"text": e.text} for e in users[-limit:]]


class OutputGuards:
    """Stage 8: nothing marked as account data reaches an unverified customer.

    A marked bot event is taken out of the turn before anything is stored or published, so the customer's
    channel, the widget socket, the tracker and the agent's transcript all lack it alike; the customer is told
    to verify first instead.
    """

    name = "output_guards"

    async def run(self, turn: Turn) -> StageResult:
        if turn.state.slots.get("authenticated"):
            return CONTINUE
        marked = [e for e in turn.events if isinstance(e, BotUttered) and e.custom.get("account_data")]
        if marked:
            log.warning("account_data_withheld", withheld=len(marked))
            for event in marked:
                turn.withhold(event)
            turn.say("utter_verify_first", default="I need to verify your identity before I can share that.")
        return CONTINUE


class EscalationDesk(Protocol):
    """The handoff side of an escalation (:class:`bot.handoff.service.EscalationDesk`)."""

    async def complete(self, context: ContextPackage) -> ContextPackage:
        """The context package with its final summary (LLM-written when configured)."""

    async def position(self, team: str | None, priority: int) -> Position:
        """Where the conversation will stand in the team's queue (``position``, ``wait_minutes``)."""


class Escalate:
    """Hand the conversation to humans when a stage asked for it: route to a team, build the context package,
    tell the customer what happens next (with their place in the queue when a desk is wired)."""

    name = "escalate"

    def __init__(self, desk: EscalationDesk | None = None) -> None:
        self.desk = desk

    async def run(self, turn: Turn) -> StageResult:
        escalation = turn.escalation
        if escalation is None or any(isinstance(e, Escalated) for e in turn.events):
            return CONTINUE
        team = escalation.team or turn.project.config.handoff.team_for(escalation.reason)
        priority = priority_of(escalation.reason)
        signals = tuple(s.to_dict() for s in escalation.signals)
        context = build_context(turn.state, turn.project, reason=escalation.reason,
                                signals=signals, channel=turn.channel, team=team, priority=priority)
        if self.desk is not None:
            context = await self.desk.complete(context)
        turn.emit(Escalated(reason=escalation.reason, team=team, priority=priority, signals=signals,
                            context=dict(context)))
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
        return CONTINUE


class Respond:
    """Stage 9: make sure the customer always gets an answer."""

    name = "respond"

    async def run(self, turn: Turn) -> StageResult:
        if not turn.replies and turn.outcome is CONTINUE:
            turn.say("utter_default", default="Sorry, I didn't get that. Could you rephrase?")
        if turn.escalation is None:
            for message in turn.followups:
                turn.reply(message)
        return CONTINUE


def closing_stages(desk: EscalationDesk | None = None) -> list[Stage]:
    """The stages that run after the answering chain, whatever it returned: output guards → escalate → respond."""
    return [OutputGuards(), Escalate(desk), Respond()]
