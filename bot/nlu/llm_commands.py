"""The optional LLM command generator: an OpenAI-compatible model says what the customer wants, as commands.

Off by default (``nlu.llm_commands: off``): the default bot never calls a model. ``fallback`` asks the model only
when the classifier is below its threshold (out of scope); ``primary`` asks it first. The model answers one JSON
object, ``{"commands": [...]}``, with Rasa-CALM-like commands that map to an :class:`Understanding`:

    start_flow {flow}        → the flow's trigger intent (only flows the customer can start)
    set_slot {slot, value}   → an entity named like the slot (only non-sensitive slots a flow collects)
    cancel_flow              → ``cancel``
    human_handoff            → :data:`HUMAN_HANDOFF` (the understand stage escalates, reason ``requested``)
    knowledge_question       → ``ask_question`` when the project has it, else out of scope (knowledge answers)
    chitchat                 → out of scope
    intent {intent}          → one of the project's intents ("yes", "thanks"...)

A reply that is not that JSON fails as a whole; a command naming a flow, slot or intent the project does not have
is dropped; a reply left with no command fails. Every failure (HTTP error, timeout, invalid or empty reply) is a
:class:`~bot.kernel.errors.ProviderError`; the :class:`~bot.nlu.understander.Understander` logs it and keeps the
classifier's result, so a turn never fails because of the model.

The model sees the customer's and the bot's recent messages with PII masked, the project's intents (a few
examples each), its flows and the slot being collected; never slot values or backend data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.flows.schema import index_of
from bot.infra.llm import LLMConfig, complete, make_client
from bot.infra.logs import get_logger
from bot.kernel.errors import ProviderError
from bot.kernel.events import BotUttered, UserUttered
from bot.kernel.masking import mask_text
from bot.nlu.base import OUT_OF_SCOPE, Entity, Understanding

if TYPE_CHECKING:
    from bot.kernel.conversation import ConversationState
    from bot.nlu.understander import Understander
    from bot.project import Project

log = get_logger(__name__)

#: The intent of a message asking for a person (only this generator produces it from free text).
HUMAN_HANDOFF = "human_handoff"
#: Confidence given to the model's understanding: above the flows' switch (0.7) and digression (0.8) bars,
#: below a button's certain 1.0.
LLM_CONFIDENCE = 0.9
CANCEL_INTENT = "cancel"  # what the flow runner cancels on (bot.flows.runner.CANCEL_INTENTS)
QUESTION_INTENT = "ask_question"
INFORM_INTENT = "inform"
EXAMPLES_PER_INTENT = 3
TRANSCRIPT_MESSAGES = 6
MAX_VALUE_CHARS = 200
_PLACEHOLDER = re.compile(r"\[(?:email|card|date|phone|iban|national_id)\]")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)

SYSTEM_PROMPT = """You read a customer's message to a company's support assistant and say what they want, as commands.
Reply with one JSON object and nothing else: {"commands": [...]}, using only these commands:
{"command": "start_flow", "flow": FLOW}            the customer wants one of the flows listed below
{"command": "set_slot", "slot": SLOT, "value": V}  the message gives the value of a slot listed below
{"command": "cancel_flow"}                         the customer wants to stop the active flow
{"command": "human_handoff"}                       the customer asks to talk to a person
{"command": "knowledge_question"}                  a question about products, policies or services
{"command": "chitchat"}                            small talk that no listed intent covers
{"command": "intent", "intent": INTENT}            the message says one of the listed intents (yes, no, thanks...)
Use only the flow, slot and intent names listed. Copy values from the message; never invent them.
Text in square brackets like [email] hides personal data: never use it as a value."""


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StartFlow(_Command):
    """Start a flow the customer can trigger."""

    command: Literal["start_flow"]
    flow: str


class SetSlot(_Command):
    """A value for a slot some flow collects."""

    command: Literal["set_slot"]
    slot: str
    value: str | int | float | bool


class CancelFlow(_Command):
    """Stop the active flow."""

    command: Literal["cancel_flow"]


class HumanHandoff(_Command):
    """Hand the conversation to a person."""

    command: Literal["human_handoff"]


class KnowledgeQuestion(_Command):
    """A question for the knowledge base."""

    command: Literal["knowledge_question"]


class Chitchat(_Command):
    """Small talk no intent covers."""

    command: Literal["chitchat"]


class SaysIntent(_Command):
    """The message says one of the project's intents."""

    command: Literal["intent"]
    intent: str


Command = Annotated[StartFlow | SetSlot | CancelFlow | HumanHandoff | KnowledgeQuestion | Chitchat | SaysIntent,
                    Field(discriminator="command")]


class CommandReply(_Command):
    """The whole reply: at most ten commands."""

    commands: list[Command] = Field(max_length=10)


@dataclass(frozen=True, slots=True)
class DialogueContext:
    """What the model needs to know about the conversation besides the message (built per turn)."""

    transcript: tuple[tuple[str, str], ...] = ()
    """Earlier messages, oldest first, as (``customer`` | ``bot``, text); masked when the prompt is built."""
    active_flow: str | None = None
    """Flow on top of the stack."""
    collecting: str | None = None
    """Slot the active flow is asking for."""


def dialogue_context(state: ConversationState, project: Project, *, limit: int = TRANSCRIPT_MESSAGES
                     ) -> DialogueContext:
    """The recent transcript (without the message being understood) and the slot being collected."""
    said: list[tuple[str, str]] = []
    for event in state.events:
        if isinstance(event, UserUttered):
            said.append(("customer", event.text))
        elif isinstance(event, BotUttered) and event.text:
            said.append(("bot", event.text))
    if said and said[-1][0] == "customer":
        said.pop()  # the message itself
    frame = next((f for f in reversed(state.flow_stack) if f.flow_id in project.flows), None)
    if frame is None:
        return DialogueContext(tuple(said[-limit:]))
    flow = project.flows[frame.flow_id]
    index = index_of(flow, frame.step_id)
    return DialogueContext(tuple(said[-limit:]), frame.flow_id, None if index is None else flow.steps[index].collect)


@dataclass(frozen=True, slots=True)
class Catalog:
    """The names the model may use, with what the prompt says about them (built once per project)."""

    intents: dict[str, tuple[str, ...]]
    """Intent → a few masked examples."""
    flows: dict[str, tuple[str, str, tuple[str, ...]]]
    """Startable flow → (trigger intent, description, slots it collects)."""
    slots: dict[str, str]
    """Settable slot → description (non-sensitive slots some flow collects)."""

    @classmethod
    def of(cls, project: Project) -> Catalog:
        intents: dict[str, list[str]] = {name: [] for name in sorted({*project.nlu.intents, *project.domain.intents})}
        for example in project.nlu.examples:
            if len(intents[example.intent]) < EXAMPLES_PER_INTENT:
                intents[example.intent].append(mask_text(example.text))
        slots: dict[str, str] = {}
        flows = {}
        for flow_id, flow in project.flows.items():
            collected = [s for s in flow.steps if s.collect is not None]
            for step in collected:
                spec = project.domain.slots.get(str(step.collect))
                if spec is not None and not spec.sensitive:
                    slots.setdefault(str(step.collect), step.description or "")
            if flow.nlu_trigger:
                flows[flow_id] = (flow.nlu_trigger[0].intent, " ".join(flow.description.split()),
                                  tuple(str(s.collect) for s in collected))
        return cls({k: tuple(v) for k, v in intents.items()}, flows, slots)


def build_messages(text: str, context: DialogueContext, catalog: Catalog) -> list[dict[str, str]]:
    """The chat messages sent to the model; every message text has its PII masked first."""
    lines = ["Flows:"]
    for flow_id, (_intent, description, collects) in catalog.flows.items():
        lines.append(f"- {flow_id}: {description}" + (f" (collects: {', '.join(collects)})" if collects else ""))
    lines.append("\nSlots you may set:")
    lines += [f"- {name}" + (f": {about}" if about else "") for name, about in catalog.slots.items()]
    lines.append("\nIntents, with examples:")
    lines += [f"- {name}: " + "; ".join(json.dumps(e) for e in examples) for name, examples in catalog.intents.items()]
    if context.active_flow is None:
        lines.append("\nNo flow is active.")
    else:
        waiting = f", waiting for the slot {context.collecting}" if context.collecting else ""
        lines.append(f"\nActive flow: {context.active_flow}{waiting}.")
    if context.transcript:
        lines.append("\nConversation so far (oldest first):")
        lines += [f"{who}: {mask_text(said)}" for who, said in context.transcript]
    lines.append(f"\nMessage: {mask_text(text)}")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n".join(lines)}]


def parse_reply(content: str) -> CommandReply:
    """The model's reply as commands (a Markdown ```json fence around it is tolerated); raises ProviderError when
    it is not exactly the JSON asked for (unknown command kinds or extra keys included)."""
    fenced = _FENCE.match(content.strip())
    try:
        return CommandReply.model_validate_json(fenced.group(1) if fenced else content)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise ProviderError(f"llm commands invalid at {where or 'top level'}: {problem['msg']}", provider="llm",
                            permanent=True) from exc


def to_understanding(reply: CommandReply, catalog: Catalog) -> tuple[Understanding | None, list[str]]:
    """The understanding the valid commands add up to (``None`` when none is valid), and the rejected ones."""
    intents: list[str] = []
    entities: list[Entity] = []
    rejected: list[str] = []
    for command in reply.commands:
        match command:
            case StartFlow(flow=flow) if flow in catalog.flows:
                intents.append(catalog.flows[flow][0])
            case SetSlot(slot=slot, value=value) if slot in catalog.slots and _plausible(value):
                entities.append(Entity(slot, value.strip() if isinstance(value, str) else value, extractor="llm"))
            case CancelFlow():
                intents.append(CANCEL_INTENT)
            case HumanHandoff():
                intents.append(HUMAN_HANDOFF)
            case KnowledgeQuestion():
                intents.append(QUESTION_INTENT if QUESTION_INTENT in catalog.intents else OUT_OF_SCOPE)
            case Chitchat():
                intents.append(OUT_OF_SCOPE)
            case SaysIntent(intent=intent) if intent in catalog.intents:
                intents.append(intent)
            case _:
                rejected.append(command.model_dump_json())
    if not intents and not entities:
        return None, rejected
    priority = [HUMAN_HANDOFF, CANCEL_INTENT, *(i for i in intents if i != OUT_OF_SCOPE), OUT_OF_SCOPE]
    chosen = next((i for i in priority if i in intents), None)
    if chosen is None:  # only slot values: the customer is answering
        chosen = INFORM_INTENT if INFORM_INTENT in catalog.intents else OUT_OF_SCOPE
    return Understanding(chosen, LLM_CONFIDENCE, ((chosen, LLM_CONFIDENCE),), tuple(entities)), rejected


def _plausible(value: str | int | float | bool) -> bool:
    if not isinstance(value, str):
        return True
    return bool(value.strip()) and len(value) <= MAX_VALUE_CHARS and not _PLACEHOLDER.search(value)


class LLMCommandGenerator:
    """Asks the configured model for commands; one client per process."""

    def __init__(self, config: LLMConfig, catalog: Catalog, client: Any = None) -> None:
        self.config = config
        self.catalog = catalog
        self.client = client or make_client(config)

    async def generate(self, text: str, context: DialogueContext | None = None) -> Understanding:
        """The understanding the model's commands add up to; raises ProviderError on any failure."""
        context = context or DialogueContext()
        content = await complete(self.client, self.config, build_messages(text, context, self.catalog))
        understanding, rejected = to_understanding(parse_reply(content), self.catalog)
        if understanding is None:
            raise ProviderError(f"llm commands named nothing the project has: {rejected}", provider="llm",
                                permanent=True)
        if rejected:
            log.warning("llm_commands_rejected", rejected=rejected)
        return understanding

    async def close(self) -> None:
        await self.client.close()


def with_llm_commands(understander: Understander, project: Project, *, client: Any = None) -> Understander:
    """``understander`` asking the project's LLM for commands as ``nlu.llm_commands`` says; itself when ``off``
    (the default) — then no client is made and no model is ever called."""
    mode = project.config.nlu.llm_commands
    if mode == "off" or project.config.llm is None:
        return understander
    generator = LLMCommandGenerator(project.config.llm, Catalog.of(project), client)
    return understander.with_llm(generator, mode)
