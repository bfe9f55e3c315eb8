"""The flow grammar (Rasa CALM-like YAML in a project's ``flows/``), as typed, validated models.

```yaml
flows:
  check_order_status:
    description: Tell a verified customer where their order is.
    nlu_trigger: [{intent: check_order_status}]
    steps:
      - call: authentication
      - collect: order_number
      - action: action_check_order_status
        next:
          - if: slots.order_found
            then: report
          - else: not_found
      - id: report
        action: utter_order_status
        next: END
      - id: not_found
        action: utter_order_not_found
```
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The flow that verifies a customer; ``requires_auth`` flows start by calling it.
AUTH_FLOW = "authentication"
#: Actions every project has without declaring them in the domain.
BUILTIN_ACTIONS = frozenset({"action_listen", "action_handoff", "action_restart"})
STEP_KINDS = ("collect", "action", "set_slots", "link", "call", "handoff", "noop")


class Rejection(BaseModel):
    """Refuse a collected value when ``if`` holds, saying ``utter``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    if_: str = Field(alias="if")
    """Condition on slots, e.g. ``not slots.pin matches "^[0-9]{4}$"``."""
    utter: str
    """Response to send when the value is rejected."""


class Branch(BaseModel):
    """One entry of a conditional ``next``: ``{if: cond, then: step}`` or ``{else: step}``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    if_: str | None = Field(default=None, alias="if")
    """Condition on slots; ``None`` for the ``else`` branch."""
    then: str | None = None
    """Step id (or ``END``) taken when the condition holds (an inline list of steps is lifted into the flow's
    steps when the flow is read, see :func:`lift_inline_steps`)."""
    else_: str | None = Field(default=None, alias="else")
    """Step id (or ``END``) taken when no earlier branch held."""

    @model_validator(mode="after")
    def _one_form(self) -> Branch:
        if (self.if_ is None) == (self.else_ is None):
            raise ValueError("a branch is either {if: ..., then: ...} or {else: ...}")
        if self.if_ is not None and self.then is None:
            raise ValueError("an 'if' branch needs 'then'")
        return self


class Step(BaseModel):
    """One step of a flow: exactly one of ``collect``, ``action``, ``set_slots``, ``link``, ``call``, ``handoff``,
    ``noop``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str | None = None
    """Label other steps' ``next`` can jump to."""
    next: str | list[Branch] | None = None
    """Where to go after this step: a step id, ``END``, or conditional branches. Default: the next step."""
    collect: str | None = None
    """Slot to fill from the customer's answer."""
    action: str | None = None
    """A response (``utter_*``) to send or a business action (``action_*``) to run."""
    set_slots: list[dict[str, Any]] | None = None
    """Slots to set, e.g. ``[{order_found: null}]``."""
    link: str | None = None
    """Flow to continue with; this flow ends."""
    call: str | None = None
    """Flow to run as a sub-flow; this flow resumes after it."""
    handoff: str | None = None
    """Hand the conversation to humans with this escalation reason (e.g. ``auth_failed``); the flow ends."""
    team: str | None = None
    """With ``handoff``: the team/skill to route to."""
    noop: bool | None = None
    """A step that only branches."""
    utter: str | None = None
    """With ``collect``: the question (default ``utter_ask_<slot>``)."""
    description: str | None = None
    """With ``collect``: what the slot holds (helps extraction)."""
    ask_before_filling: bool = False
    """With ``collect``: ask even when the slot already has a value."""
    force_slot_filling: bool = False
    """With ``collect`` (Rasa's key): while this step waits, the answer only fills the slot: no switch to another
    flow, no digression, no correction of other slots."""
    reset_after_flow_ends: bool = True
    """With ``collect``: clear the slot when the flow ends."""
    rejections: list[Rejection] = Field(default_factory=list)
    """With ``collect``: values refused, with the reason said to the customer."""
    max_attempts: int | None = Field(default=None, ge=1)
    """With ``collect``: rejected answers before the flow gives up."""

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Step:
        kinds = [k for k in STEP_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) or "none"
            raise ValueError(f"a step needs exactly one of {', '.join(STEP_KINDS)} (found: {found})")
        return self

    @property
    def kind(self) -> str:
        """Which of the step kinds this is."""
        return next(k for k in STEP_KINDS if getattr(self, k) is not None)

    @property
    def question(self) -> str:
        """The response a ``collect`` step asks its slot with (``utter``, default ``utter_ask_<slot>``)."""
        if self.collect is None:
            raise ValueError(f"a {self.kind} step asks no question (only collect steps do)")
        return self.utter or f"utter_ask_{self.collect}"


class NluTrigger(BaseModel):
    """Start the flow when this intent is predicted above ``confidence_threshold``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    intent: str
    """Intent name from the NLU data."""
    confidence_threshold: float = Field(default=0.0, ge=0, le=1)
    """Minimum classifier confidence to trigger."""


class Flow(BaseModel):
    """A business process the bot can run."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str | None = None
    """Human-readable name (defaults to the id)."""
    description: str
    """What the flow does (used by the command generator and shown to agents)."""
    nlu_trigger: list[NluTrigger] = Field(default_factory=list)
    """Intents that start the flow."""
    if_: str | None = Field(default=None, alias="if")
    """Start the flow only when this condition on slots holds."""
    persisted_slots: list[str] = Field(default_factory=list)
    """Collected slots kept after the flow ends."""
    requires_auth: bool = False
    """The flow touches account data: run ``authentication`` first unless verified."""
    steps: list[Step] = Field(min_length=1)
    """The steps, run top to bottom unless ``next`` says otherwise."""

    @field_validator("nlu_trigger", mode="before")
    @classmethod
    def _intent_shorthand(cls, value: Any) -> Any:
        """``[intent]``, ``[{intent: x, confidence_threshold: t}]`` and Rasa's nested
        ``[{intent: {name: x, confidence_threshold: t}}]`` all mean the same."""
        if not isinstance(value, list):
            return value
        out = []
        for v in value:
            if isinstance(v, str):
                v = {"intent": v}
            elif isinstance(v, dict) and isinstance(v.get("intent"), dict):
                nested = v["intent"]
                v = {"intent": nested.get("name"), **{k: x for k, x in nested.items() if k != "name"}}
            out.append(v)
        return out

    @field_validator("steps", mode="before")
    @classmethod
    def _inline_branches(cls, value: Any) -> Any:
        return lift_inline_steps(value) if isinstance(value, list) else value

    @field_validator("if_", mode="before")
    @classmethod
    def _boolean_guard(cls, value: Any) -> Any:
        """Rasa's ``if: False`` (a YAML bool: the flow starts only by ``link`` or ``call``) as a condition."""
        return ("true" if value else "false") if isinstance(value, bool) else value


class FlowsFile(BaseModel):
    """One YAML file of ``flows/``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flows: dict[str, Flow]
    """Flows by id."""


Branch.model_rebuild()


def lift_inline_steps(steps: list[Any]) -> list[Any]:
    """Rasa's inline branches (``then:``/``else:`` holding a list of steps) as steps of their own: each list is
    appended to the flow's steps, its first step labelled (``inline_<n>`` unless it has an id) and the branch
    pointed at it; the list's last step ends the flow unless it says where to go (as in Rasa), and so does the
    last step of the original list once lists are appended after it. Nested lists are lifted too. Errors in a
    lifted step name its position among the flow's steps."""
    out = [dict(s) if isinstance(s, dict) else s for s in steps]
    lifted: list[Any] = []
    counter = iter(range(1, 10_000))

    def lift(sequence: list[Any]) -> str:
        sequence = [dict(s) if isinstance(s, dict) else s for s in sequence]
        if not sequence or not isinstance(sequence[0], dict):
            return "END"
        if not sequence[0].get("id"):
            sequence[0]["id"] = f"inline_{next(counter)}"
        first = sequence[0]["id"]
        for step in sequence:
            branches(step)
        if isinstance(sequence[-1], dict) and "next" not in sequence[-1]:
            sequence[-1]["next"] = "END"
        lifted.extend(sequence)
        return str(first)

    def branches(step: Any) -> None:
        if not isinstance(step, dict) or not isinstance(step.get("next"), list):
            return
        step["next"] = [{**b, **{k: lift(b[k]) for k in ("then", "else") if isinstance(b.get(k), list)}}
                        if isinstance(b, dict) else b for b in step["next"]]

    for step in out:
        branches(step)
    if lifted and out and isinstance(out[-1], dict) and "next" not in out[-1]:
        out[-1]["next"] = "END"
    return out + lifted


def step_key(flow: Flow, index: int) -> str:
    """The id a step is known by in events: its ``id`` or its position."""
    return flow.steps[index].id or str(index)


def index_of(flow: Flow, key: str | None) -> int | None:
    """Position of the step known as ``key``."""
    if key is None:
        return None
    return next((i for i in range(len(flow.steps)) if step_key(flow, i) == key), None)
