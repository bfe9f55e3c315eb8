"""What agents and helpdesks may read of a conversation: which conversations they see, and masking.

**Visibility** (:func:`may_see`). A conversation waiting in the queue (status ``handoff``) is visible to
every agent, so anyone may pick it up; once claimed (``agent``) only to the agent who owns it, admins and
helpdesk integrations. Conversations the bot handles alone — never escalated, returned to the bot,
closed — are no agent's to see (admins may still open a closed or returned handoff for review). Events
from before the handoff reach agents only inside the context package, never live.

**Masking** (:class:`Redactor`). Built from one conversation's events, it knows:

- the customer's *verification answers*: a message that filled a ``sensitive`` slot (``identifier``,
  ``verification``, ``otp_code``...) — the value's span becomes a label naming the kind of proof
  (``my date of birth is [date of birth]``), or the whole message when the value came from free text; a
  message answering a sensitive question that filled nothing (a malformed code) has its PII patterns and
  digit runs masked. Entities listed in ``handoff.readable_entities`` (order numbers) stay readable;
- every value a sensitive slot took, scrubbed wherever it reappears (the bot repeating a new address);
- ``SlotSet`` events of sensitive slots (``***``).

Everything else the customer writes goes through :func:`bot.kernel.masking.mask_text` (``handoff.mask_free_text``).
Roles in ``handoff.reveal_sensitive_to`` read events unmasked in the agent view; helpdesk payloads are
always masked. Agents' own messages and notes are left as written.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.flows.schema import index_of
from bot.infra.settings import Principal
from bot.kernel.events import (
    ActionExecuted,
    BotUttered,
    Escalated,
    Event,
    FlowCancelled,
    FlowCompleted,
    FlowStarted,
    FlowStepReached,
    GuardrailTriggered,
    KnowledgeConsulted,
    SlotSet,
    UserUttered,
)
from bot.kernel.masking import mask_text, mask_value
from bot.project import Project

MASK = "***"
#: Roles that see every handed-off conversation (the helpdesk integrations act for the helpdesk's agents).
PRIVILEGED_ROLES = frozenset({"admin", "integration"})
#: Statuses in which a conversation belongs to humans.
HUMAN_STATUSES = frozenset({"handoff", "agent"})
#: Shortest sensitive value scrubbed from other texts (shorter ones would mask ordinary words).
MIN_SECRET = 3
_DIGITS = re.compile(r"(?<![\w\[])\d{4,}(?![\w\]])")


def may_see(principal: Principal, status: str, agent: str | None) -> bool:
    """True when ``principal`` may read a conversation with ``status`` owned by ``agent`` (live or by API)."""
    if status == "handoff":
        return True
    if status == "agent":
        return agent == principal.name or principal.role in PRIVILEGED_ROLES
    return False


@dataclass(frozen=True, slots=True)
class _Fill:
    """A sensitive slot value a customer message supplied."""

    slot: str
    value: str
    kind: str
    """The entity (or, for free text, the slot) the value came from: picks the label."""
    span: tuple[int, int] | None
    """Where the value sits in the message; ``None`` when the whole message is the answer."""
    readable: bool


@dataclass(slots=True)
class _Message:
    event: UserUttered
    asked: str | None
    """The sensitive slot the bot was asking for when the message arrived."""
    fills: list[_Fill]


class Redactor:
    """Masks one conversation's events, texts and context package for agents."""

    def __init__(self, events: Sequence[Event], project: Project, *, reveal: bool = False) -> None:
        self.project = project
        self.config = project.config.handoff
        self.reveal = reveal
        self.events = events
        self._sensitive = frozenset(n for n, spec in project.domain.slots.items() if spec.sensitive)
        self._readable = frozenset(self.config.readable_entities)
        self._messages: dict[int, _Message] = {}
        self._secrets: dict[str, str] = {}
        self._proofs: list[str] = []
        self._scan()
        values = sorted(self._secrets, key=len, reverse=True)
        self._secret_re = (re.compile("|".join(rf"(?<!\w){re.escape(v)}(?!\w)" for v in values), re.IGNORECASE)
                           if values else None)

    # what the conversation holds ------------------------------------------------------------------

    def _scan(self) -> None:
        stack: list[list[str | None]] = []
        current: int | None = None
        constants: set[str] = set()
        readable_values: set[str] = set()
        found: list[tuple[str, str, _Fill | None]] = []
        for index, event in enumerate(self.events):
            match event:
                case UserUttered():
                    current = index
                    self._messages[index] = _Message(event, self._asked(stack), [])
                    readable_values.update(str(e.get("value")) for e in event.entities
                                           if e.get("entity") in self._readable)
                case FlowStarted(flow_id=flow_id):
                    stack.append([flow_id, None])
                case FlowStepReached(flow_id=flow_id, step_id=step_id):
                    frame = next((f for f in reversed(stack) if f[0] == flow_id), None)
                    if frame is not None:
                        frame[1] = step_id
                case FlowCompleted(flow_id=flow_id) | FlowCancelled(flow_id=flow_id):
                    for i in range(len(stack) - 1, -1, -1):
                        if stack[i][0] == flow_id:
                            del stack[i]
                            break
                case SlotSet(name=name, value=value) if name in self._sensitive and _textual(value):
                    value = str(value)
                    constants.update(self._constants(name))
                    fill = None
                    if current is not None:
                        message = self._messages[current]
                        fill = self._attribute(message.event, name, value, message.asked)
                        if fill is not None:
                            message.fills.append(fill)
                            if not fill.readable and (label := self.config.mask_label(fill.kind)) not in self._proofs:
                                self._proofs.append(label)
                    found.append((name, value, fill))
        for name, value, fill in found:
            if len(value) < MIN_SECRET or value in constants or value in readable_values:
                continue
            if fill is not None and fill.readable:
                continue
            kind = fill.kind if fill is not None else name
            self._secrets.setdefault(value, self.config.mask_label(kind))

    def _asked(self, stack: list[list[str | None]]) -> str | None:
        """The sensitive slot the top flow's current step collects, if any."""
        if not stack:
            return None
        flow_id, step_id = stack[-1]
        flow = self.project.flows.get(flow_id or "")
        index = None if flow is None else index_of(flow, step_id)
        if flow is None or index is None:
            return None
        collect = flow.steps[index].collect
        return collect if collect in self._sensitive else None

    def _constants(self, slot: str) -> set[str]:
        """Values a slot takes from its ``from_intent`` mappings (the domain's words, not the customer's)."""
        spec = self.project.domain.slots[slot]
        return {str(m["value"]) for m in spec.mappings if m.get("type") == "from_intent" and "value" in m}

    def _attribute(self, user: UserUttered, slot: str, value: str, asked: str | None) -> _Fill | None:
        """How ``user``'s message supplied ``value`` for ``slot``; ``None`` when it did not (an action set it)."""
        spec = self.project.domain.slots[slot]
        mapped = {m.get("entity") for m in spec.mappings if m.get("type") == "from_entity"}
        candidates = [e for e in user.entities if str(e.get("value")) == value]
        candidates += [e for e in user.entities if e.get("entity") in mapped and e not in candidates]
        for entity in candidates:
            kind = str(entity.get("entity"))
            return _Fill(slot, value, kind, _span(user.text, entity), kind in self._readable)
        if value in self._constants(slot):
            return _Fill(slot, value, slot, None, True)
        at = user.text.lower().find(value.lower())
        if at >= 0:
            return _Fill(slot, value, slot, (at, at + len(value)), False)
        if asked == slot:
            return _Fill(slot, value, slot, None, False)
        return None

    @property
    def proofs(self) -> list[str]:
        """Kinds of personal detail the customer gave the bot (``email``, ``date of birth``), values unsaid."""
        return list(self._proofs)

    # texts ----------------------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        """``text`` with every value a sensitive slot took replaced by its label."""
        if self.reveal or self._secret_re is None or not text:
            return text
        return self._secret_re.sub(lambda m: f"[{self._label_of(m.group(0))}]", text)

    def _label_of(self, value: str) -> str:
        return self._secrets.get(value) or next(
            (label for secret, label in self._secrets.items() if secret.lower() == value.lower()), "masked")

    def free(self, text: str) -> str:
        """Customer-side text outside a message (a search query, a guardrail's evidence, a stored transcript
        line): sensitive values scrubbed, PII patterns masked (``handoff.mask_free_text``)."""
        if self.reveal or not text:
            return text
        text = self.scrub(text)
        return mask_text(text) if self.config.mask_free_text else text

    def user_text(self, event: UserUttered) -> str:
        """What agents read of a customer message."""
        if self.reveal:
            return event.text
        message = self._message(event)
        if message is None:
            return self.free(event.text)
        secret = [f for f in message.fills if not f.readable]
        if any(f.span is None for f in secret):
            return "[" + ", ".join(dict.fromkeys(self.config.mask_label(f.kind) for f in secret)) + "]"
        text = event.text
        for start, end, label in sorted({(*f.span, self.config.mask_label(f.kind)) for f in secret if f.span},
                                        reverse=True):
            text = text[:start] + f"[{label}]" + text[end:]
        text = self.scrub(text)
        if self.config.mask_free_text or secret or message.asked:
            text = mask_text(text)
        return _DIGITS.sub("[number]", text) if message.asked else text

    def _message(self, event: UserUttered) -> _Message | None:
        for index in range(len(self.events) - 1, -1, -1):
            candidate = self.events[index]
            if candidate is event or (isinstance(candidate, UserUttered) and candidate == event):
                return self._messages.get(index)
        return None

    # events and packages --------------------------------------------------------------------------

    def event(self, event: Event) -> Event:
        """A copy of ``event`` fit for agents (the same event when nothing in it needs masking)."""
        if self.reveal:
            return event
        match event:
            case UserUttered():
                return dataclasses.replace(event, text=self.user_text(event),
                                           entities=tuple(self._entity(e) for e in event.entities),
                                           metadata={k: mask_value(k, v) for k, v in event.metadata.items()})
            case BotUttered():
                return dataclasses.replace(event, text=self.scrub(event.text),
                                           buttons=tuple(self._walk(b) for b in event.buttons))
            case SlotSet(name=name, value=value) if name in self._sensitive and value is not None:
                return dataclasses.replace(event, value=MASK)
            case KnowledgeConsulted():
                return dataclasses.replace(event, query=self.free(event.query))
            case GuardrailTriggered():
                return dataclasses.replace(event, signals=self.signals(event.signals))
            case Escalated():
                return dataclasses.replace(event, signals=self.signals(event.signals),
                                           context=self.context(event.context))
            case ActionExecuted(error=str() as error):
                return dataclasses.replace(event, error=self.free(error))
        return event

    def _entity(self, entity: dict[str, Any]) -> dict[str, Any]:
        kind = str(entity.get("entity"))
        if kind in self._readable:
            return entity
        label = f"[{self.config.mask_label(kind)}]"
        return {**entity, **{k: label for k in ("value", "text") if k in entity}}

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self._walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._walk(v) for v in value)
        return value

    def signals(self, signals: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
        """Guardrail signals with their evidence (a quote of the customer) masked."""
        return tuple({**s, "evidence": self.free(s["evidence"])} if isinstance(s.get("evidence"), str) else s
                     for s in signals)

    def slots(self, slots: dict[str, Any]) -> dict[str, Any]:
        """Slots with the sensitive ones set to ``***``."""
        if self.reveal:
            return dict(slots)
        return {k: MASK if k in self._sensitive and v is not None else v for k, v in slots.items()}

    def context(self, context: dict[str, Any]) -> dict[str, Any]:
        """A context package masked again (packages stored before masking existed, or built elsewhere)."""
        if self.reveal or not context:
            return context
        out = dict(context)
        if isinstance(out.get("slots"), dict):
            out["slots"] = self.slots(out["slots"])
        if isinstance(out.get("transcript"), list):
            out["transcript"] = [self._line(line) for line in out["transcript"]]
        if isinstance(out.get("summary"), str):
            out["summary"] = self.free(out["summary"])
        if isinstance(out.get("signals"), list):
            out["signals"] = list(self.signals(out["signals"]))
        if isinstance(out.get("attempted_answers"), list):
            out["attempted_answers"] = [{**a, "text": self.scrub(a["text"])} if isinstance(a.get("text"), str)
                                        else a for a in out["attempted_answers"]]
        if isinstance(out.get("documents"), list):
            out["documents"] = [{**d, "query": self.free(d["query"])} if isinstance(d.get("query"), str) else d
                                for d in out["documents"]]
        return out

    def _line(self, line: Any) -> Any:
        if not isinstance(line, dict) or not isinstance(line.get("text"), str):
            return line
        if line.get("from") == "customer":
            return {**line, "text": self.free(line["text"])}
        if line.get("from") == "bot":
            return {**line, "text": self.scrub(line["text"])}
        return line


def _textual(value: Any) -> bool:
    return value is not None and not isinstance(value, bool) and isinstance(value, str | int | float)


def _span(text: str, entity: dict[str, Any]) -> tuple[int, int] | None:
    """The entity's place in ``text`` when its offsets are usable (else the whole message is masked)."""
    start, end = entity.get("start"), entity.get("end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
        return start, end
    return None
