"""The test-suite format, as data: a :class:`Suite` of :class:`Case` s, each a list of :class:`TurnSpec` s.

A suite file is Rasa's e2e test format plus Careline's assertions::

    fixtures:                       # named slot presets (Rasa)
      - verified_ada:
          - authenticated: true
          - customer_id: C001
    metadata:                       # named user-message metadata (Rasa); ``channel`` picks the channel
      - voice:
          channel: voice
    account_data: [ada@example.com] # strings no unverified customer may see (no_account_data_disclosed)
    stub_custom_actions:            # Rasa's stubs: ``action`` or ``test case::action``
      action_check_order:
        events: [{event: slot, name: order_status, value: shipped}]
        responses: [{text: "It's on its way."}]
    test_cases:
      - test_case: greets with buttons
        fixtures: [verified_ada]
        metadata: voice
        steps:
          - user: hi
            assertions:
              - intent_is: greet
              - bot_uttered: {utter_name: utter_greet}
          - utter: utter_greet      # the older step form: checked against the previous user turn
          - bot: "exact text"
          - slot_was_set: [feedback]

Every assertion of a step is checked against the turn its ``user`` message started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.assertions import Assertion, EscalatedIs, NotEscalated


@dataclass(frozen=True, slots=True)
class TurnSpec:
    """One customer message and what must hold after the bot handled it."""

    user: str
    metadata: dict[str, Any] = field(default_factory=dict)
    """Message metadata (``channel`` selects the channel; the rest reaches the engine as is)."""
    assertions: tuple[Assertion, ...] = ()
    line: int | None = None
    """Line of the ``user`` step in the suite file."""
    ordered: bool = False
    """Rasa's ``assertion_order_enabled``: each assertion must hold on the events after the one before it matched."""

    @property
    def channel(self) -> str:
        return str(self.metadata.get("channel", "rest"))


@dataclass(frozen=True, slots=True)
class ActionStub:
    """A custom action replaced by canned events and responses (Rasa's ``stub_custom_actions``)."""

    events: tuple[dict[str, Any], ...] = ()
    responses: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Case:
    """One conversation to run and judge (pydantic_evals' ``Case``)."""

    name: str
    turns: tuple[TurnSpec, ...]
    slots: dict[str, Any] = field(default_factory=dict)
    """Slots set before the first message (from the case's fixtures)."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Metadata every message of the case carries (a step's own metadata wins)."""
    stubs: dict[str, ActionStub] = field(default_factory=dict)
    account_data: tuple[str, ...] = ()
    """The suite's ``account_data``: strings no unverified customer may see."""
    description: str = ""
    tags: tuple[str, ...] = ()
    suite: str = ""
    path: Path | None = None
    line: int | None = None

    @property
    def id(self) -> str:
        """``suite::name``, unique across a run."""
        return f"{self.suite}::{self.name}"

    @property
    def scope(self) -> dict[str, Any] | None:
        """Automation-scope changes this case runs under (``metadata.scope``), e.g. ``{automation: false}``."""
        scope = self.metadata.get("scope")
        return dict(scope) if isinstance(scope, dict) else None

    @property
    def expects_escalation(self) -> bool | None:
        """True when some turn asserts ``escalated``, False when one asserts ``not_escalated`` and none
        ``escalated``, ``None`` when the case says nothing (left out of escalation precision/recall)."""
        kinds = {type(a) for t in self.turns for a in t.assertions}
        if EscalatedIs in kinds:
            return True
        if NotEscalated in kinds:
            return False
        return None


@dataclass(frozen=True, slots=True)
class Suite:
    """The cases of one file (pydantic_evals' ``Dataset``)."""

    name: str
    path: Path
    cases: tuple[Case, ...]
    account_data: tuple[str, ...] = ()
    description: str = ""
    named: bool = False
    """The file gave its ``name:`` (kept as is; otherwise the file's stem, or its path when stems collide)."""
