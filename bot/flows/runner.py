"""The flow runner: starts flows, collects slots, runs actions, follows ``next`` — and repairs.

Per turn, with a flow active, the customer may (checked in this order):

* **cancel** ("never mind") — the flow and the flows that called it end; an interrupted flow resumes;
* **switch** — a confidently predicted other flow starts on top; when it ends, the interrupted flow
  resumes with a reminder ("Let's get back to …") and asks its question again;
* **correct** a slot ("actually it's A1002") — the slot changes and the flow re-runs from there;
* **answer** the open question (the slot is filled, rejections checked, the flow moves on);
* **digress** — a question for the knowledge base: the runner leaves the turn unhandled so the
  Knowledge stage answers, and queues a follow-up (reminder + the open question) on the turn;
* ask for a **human** — handled before understanding by the input guard.

Verification does not last forever (``auth`` in config.yml): at the start of a turn, a verification followed
by a silence longer than ``session_ttl`` is dropped (``verification_expired``); an action that changes an
account (``step_up_actions``) needs a verification younger than ``step_up_ttl``. When an action needs a
verification it lacks, the runner runs the authentication flow first and then the action. The time of a
verification is the ``verified_at`` slot, which only the runner sets (no flow collects it, so no customer can).

State lives in events only (``FlowStarted``/``FlowStepReached``/``SlotSet``...), so a conversation
resumes mid-flow after a restart or a handoff.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, NoReturn

from bot.flows.actions.executor import Executor, slot_events
from bot.flows.backend.base import Backend
from bot.flows.conditions import evaluate
from bot.flows.lockout import Lockout
from bot.flows.schema import AUTH_FLOW, Flow, Step, index_of, step_key
from bot.flows.sessions import VERIFIED_AT, drop_verification, longest_silence, verified_at
from bot.flows.slots import Found, choose_button, complete, dispatch, extract, recall, render, utter
from bot.guardrails.base import Signal
from bot.infra.logs import get_logger
from bot.kernel.errors import ProviderError
from bot.kernel.events import (
    ActionExecuted,
    FlowCancelled,
    FlowCompleted,
    FlowStarted,
    FlowStepReached,
    SlotSet,
)
from bot.nlu.base import OUT_OF_SCOPE
from bot.pipeline.turn import ANSWERED, CONTINUE, Escalation, StageResult, Turn

log = get_logger(__name__)

END = "END"
MAX_STEPS_PER_TURN = 100
CANCEL_INTENTS = frozenset({"cancel"})
AMBIGUOUS_CANCEL_FLOOR = 0.2
"""Both readings of "cancel it" (stop the flow / cancel the thing) at least this confident to be asked about."""
AMBIGUOUS_CANCEL_GAP = 0.25
"""...and within this of each other."""
DIGRESSION_INTENTS = frozenset({"ask_question", OUT_OF_SCOPE})


class _HandOff(Exception):
    """Raised deep in a flow's steps to end the turn with an escalation; :meth:`FlowRunner.handle` returns it.

    Every path that hands off stops running steps right there, so unwinding to ``handle`` loses nothing.
    """

    def __init__(self, escalation: Escalation) -> None:
        super().__init__(escalation.reason)
        self.escalation = escalation


def next_index(flow: Flow, index: int, slots: dict[str, Any]) -> int | None:
    """Position after step ``index`` (``None`` when the flow ends)."""
    target: Any = flow.steps[index].next
    if isinstance(target, list):
        chosen = None
        for branch in target:
            if branch.if_ is None or evaluate(branch.if_, slots):
                chosen = branch.then if branch.if_ is not None else branch.else_
                break
        target = chosen
    if target is None:
        return index + 1 if index + 1 < len(flow.steps) else None
    if target == END or not isinstance(target, str):
        return None
    return next((i for i in range(len(flow.steps)) if flow.steps[i].id == target), None)


def waits_on(flow: Flow, index: int | None, child: str) -> bool:
    """Whether step ``index`` of ``flow`` waits for flow ``child`` to end: a ``call`` of it, or an action the
    runner is (re-)verifying the customer for (the authentication flow runs on top of the action's step)."""
    if index is None:
        return False
    step = flow.steps[index]
    if step.call is not None:
        return step.call == child
    return child == AUTH_FLOW and step.action is not None and not step.action.startswith("utter_")


def display_name(turn: Turn) -> str:
    """Name of the customer-facing flow on top: a called sub-flow (verification) is named by its caller."""
    flows = turn.project.flows
    stack = [f for f in turn.state.flow_stack if f.flow_id in flows]
    position = len(stack) - 1
    while position > 0:
        below = stack[position - 1]
        if not waits_on(flows[below.flow_id], index_of(flows[below.flow_id], below.step_id), stack[position].flow_id):
            break
        position -= 1
    if position < 0:
        return ""
    flow_id = stack[position].flow_id
    return flows[flow_id].name or flow_id


def collected_slots(flow: Flow) -> list[str]:
    """Slots the flow's ``collect`` steps fill, in order."""
    return [s.collect for s in flow.steps if s.collect is not None]


class FlowRunner:
    """Runs the project's flows for a turn; business actions go through ``executor``."""

    def __init__(self, executor: Executor | None = None, *, switch_confidence: float = 0.7,
                 clock: Callable[[], float] | None = None, backend: Backend | None = None,
                 lockout: Lockout | None = None) -> None:
        self.executor = executor
        self.switch_confidence = switch_confidence
        self.clock: Callable[[], float] = clock or time.time
        """Seconds since the epoch: when verifications happen and how old they are (tests inject one)."""
        self.backend = backend
        """The backend the in-process actions use (:func:`bot.flows.setup.flow_runner` passes it)."""
        self.lockout = lockout
        """The cross-conversation verification lockout (:func:`bot.flows.setup.flow_runner` passes it)."""

    async def handle(self, turn: Turn) -> StageResult:
        """``ANSWERED`` when a flow owned the turn, the escalation when a flow handed off, else ``CONTINUE``
        (no flow is active or triggered, or the customer digressed: the knowledge stage answers)."""
        try:
            return await self._handle(turn)
        except _HandOff as handoff:
            return handoff.escalation

    async def _handle(self, turn: Turn) -> StageResult:
        flows = turn.project.flows
        if not flows:
            return CONTINUE
        self._expire(turn)
        if turn.understanding is None:
            return CONTINUE
        frame = next((f for f in reversed(turn.state.flow_stack) if f.flow_id in flows), None)
        chosen = choose_button(turn) if frame is not None else None  # "the second one" answers a flow's question
        if chosen is not None:
            turn.understanding = chosen
        if frame is None:
            target = self._triggered(turn, minimum=0.0)
            if target is None:
                return CONTINUE
            await self._start(turn, target)
            return ANSWERED
        flow = flows[frame.flow_id]
        index = index_of(flow, frame.step_id)
        step = flow.steps[index] if index is not None else None
        understanding = turn.understanding
        # force_slot_filling (Rasa): the answer only fills the waiting slot: no cancel, switch, correction,
        # digression (a request for a person is still heard: the input guards run before this stage)
        forced = step is not None and step.collect is not None and step.force_slot_filling
        if (not forced and understanding.intent in CANCEL_INTENTS
                and understanding.confidence >= self.switch_confidence):
            await self._cancel(turn)
            return ANSWERED
        if not forced and self._ask_which_cancel(turn):
            return ANSWERED
        slot = step.collect if step is not None else None
        found = extract(turn, slot) if slot is not None else None
        answered = found is not None and (found.source != "text" or forced)
        target = None if forced else self._triggered(turn, minimum=self.switch_confidence)
        if target is not None and not answered and target not in {f.flow_id for f in turn.state.flow_stack}:
            log.info("flow_switched", interrupted=frame.flow_id, started=target)
            utter(turn, "utter_flow_switched",
                  values={"flow": flows[target].name or target.replace("_", " "), "interrupted": display_name(turn)},
                  default="Sure, {flow} first; then we'll get back to {interrupted}.")
            await self._start(turn, target)
            return ANSWERED
        corrections = {} if answered else self._corrections(turn, slot)
        if corrections:
            await self._correct(turn, corrections)
            return ANSWERED
        if step is None or slot is None or index is None:
            return CONTINUE
        if found is not None and (forced or not (found.source == "text" and self._digressing(turn, strict=True))):
            await self._fill(turn, frame.flow_id, index, step, found)
            return ANSWERED
        if not forced and self._digressing(turn, strict=False):
            log.info("flow_digression", flow_id=frame.flow_id, step_id=frame.step_id)
            turn.followups.append(render(turn, "utter_flow_resume", values={"flow": display_name(turn)},
                                         default="Now, back to where we were."))
            turn.followups.append(render(turn, step.question))
            return CONTINUE
        await self._reask(turn, frame.flow_id, index, step)
        return ANSWERED

    # --- deciding -------------------------------------------------------------------------------

    def starting_flow(self, turn: Turn) -> str | None:
        """The flow this turn would start: none is active and the understood intent triggers one (else ``None``)."""
        flows = turn.project.flows
        if turn.understanding is None or any(f.flow_id in flows for f in turn.state.flow_stack):
            return None
        return self._triggered(turn, minimum=0.0)


    def _ask_which_cancel(self, turn: Turn) -> bool:
        """"actually, cancel it" in a flow may stop the flow or cancel the thing it is about; when the two
        readings are close, ask which (two buttons) instead of guessing. ``True`` when it asked."""
        understanding = turn.understanding
        if understanding is None or turn.text.startswith("/"):
            return False
        scores = dict(understanding.ranking[:3])
        stop = max((scores.get(i, 0.0) for i in CANCEL_INTENTS), default=0.0)
        things = [(intent, flow_id) for intent in scores for flow_id in self._flows_for(turn, intent)
                  if intent not in CANCEL_INTENTS and intent.startswith("cancel")]
        if not things or stop < AMBIGUOUS_CANCEL_FLOOR:
            return False
        intent, flow_id = max(things, key=lambda pair: scores[pair[0]])
        if (scores[intent] < AMBIGUOUS_CANCEL_FLOOR or abs(stop - scores[intent]) > AMBIGUOUS_CANCEL_GAP
                or flow_id in {f.flow_id for f in turn.state.flow_stack}):
            return False
        order = turn.state.slots.get("order_number") if intent == "cancel_order" else None
        thing = f"order {order}" if order else f"your {intent.removeprefix('cancel_').replace('_', ' ')}"
        payload = f"/{intent}" + (json.dumps({"order_number": order}) if order else "")
        log.info("cancel_clarified", stop=round(stop, 3), thing=intent, score=round(scores[intent], 3))
        utter(turn, "utter_which_cancel", values={"thing": thing, "flow": display_name(turn)},
              buttons=[{"title": f"Cancel {thing}", "payload": payload},
                       {"title": "Stop here", "payload": "/cancel"}],
              default="Do you want me to cancel {thing}, or stop {flow}?")
        return True

    @staticmethod
    def _flows_for(turn: Turn, intent: str) -> list[str]:
        return [flow_id for flow_id, flow in turn.project.flows.items()
                if any(trigger.intent == intent for trigger in flow.nlu_trigger)]

    def _triggered(self, turn: Turn, *, minimum: float) -> str | None:
        understanding = turn.understanding
        if understanding is None or not understanding.in_scope:
            return None
        for flow_id, flow in turn.project.flows.items():
            for trigger in flow.nlu_trigger:
                confident = understanding.confidence >= max(trigger.confidence_threshold, minimum)
                if (trigger.intent == understanding.intent and confident
                        and (flow.if_ is None or evaluate(flow.if_, turn.state.slots))):
                    return flow_id
        return None

    @staticmethod
    def _digressing(turn: Turn, *, strict: bool) -> bool:
        understanding = turn.understanding
        if understanding is None or understanding.intent not in DIGRESSION_INTENTS:
            return False
        if not strict:
            return True
        return understanding.intent != OUT_OF_SCOPE and understanding.confidence >= 0.8 and "?" in turn.text

    def _corrections(self, turn: Turn, collecting: str | None) -> dict[str, Any]:
        """Slots already filled in the active flows that this message gives a new value for."""
        out: dict[str, Any] = {}
        for frame in turn.state.flow_stack:
            flow = turn.project.flows.get(frame.flow_id)
            if flow is None:
                continue
            for name in collected_slots(flow):
                current = turn.state.slots.get(name)
                if name == collecting or current is None or name in out:
                    continue
                found = extract(turn, name, allow_text=False)
                if found is not None and found.source in ("entity", "payload") and found.value != current:
                    out[name] = found.value
        return out

    # --- verification over time ------------------------------------------------------------------

    def _expire(self, turn: Turn) -> None:
        """Drop a verification that was followed by a silence longer than ``auth.session_ttl``."""
        ttl = turn.project.config.auth.session_ttl
        silence = longest_silence(turn, self.clock())
        if silence is None or silence <= ttl:
            return
        log.warning("verification_expired", customer_id=turn.state.slots.get("customer_id"),
                    idle_seconds=round(silence, 1), session_ttl=ttl)
        drop_verification(turn)

    def _needs_verification(self, turn: Turn, flow: Flow, name: str) -> str | None:
        """Why action ``name`` cannot run on the current verification (``None`` when it can)."""
        auth = turn.project.config.auth
        if name in auth.step_up_actions:
            found = verified_at(turn.state)
            if found is None:
                return "unverified"
            if self.clock() - found[0] > auth.step_up_ttl:
                return "step_up"
            return None
        if flow.requires_auth and not turn.state.slots.get("authenticated"):
            return "unverified"
        return None

    async def _verify_first(self, turn: Turn, flow_id: str, name: str, reason: str) -> None:
        """Run the authentication flow on top of the action's step; the action runs when it completes."""
        ever = any(isinstance(e, SlotSet) and e.name == "authenticated" and e.value is True
                   for e in turn.state.events)
        log.info("verification_required", action=name, flow_id=flow_id, reason=reason)
        drop_verification(turn)
        if ever:
            utter(turn, "utter_verify_again", default="For your security, I need to check it's you again.")
        turn.emit(FlowStarted(flow_id=AUTH_FLOW))
        await self._advance(turn, AUTH_FLOW, None)

    # --- acting ---------------------------------------------------------------------------------

    async def _start(self, turn: Turn, flow_id: str) -> None:
        turn.emit(FlowStarted(flow_id=flow_id))
        self._prefill(turn, flow_id, seen=set())
        await self._advance(turn, flow_id, None)

    def _prefill(self, turn: Turn, flow_id: str, seen: set[str]) -> None:
        """Fill the slots this flow (and the flows it calls) collects from the starting message's entities."""
        flow = turn.project.flows[flow_id]
        seen.add(flow_id)
        for step in flow.steps:
            if step.collect is not None and not step.ask_before_filling:
                found = extract(turn, step.collect, allow_text=False)
                if found is not None and found.source in ("entity", "payload"):
                    turn.emit(SlotSet(name=step.collect, value=found.value))
            if step.call is not None and step.call not in seen and step.call in turn.project.flows:
                self._prefill(turn, step.call, seen)

    async def _fill(self, turn: Turn, flow_id: str, index: int, step: Step, found: Found) -> None:
        assert step.collect is not None
        turn.emit(SlotSet(name=step.collect, value=found.value))
        for rejection in step.rejections:
            if evaluate(rejection.if_, turn.state.slots):
                turn.emit(SlotSet(name=step.collect, value=None))
                utter(turn, rejection.utter)
                await self._reask(turn, flow_id, index, step, explained=True)
                return
        await self._advance(turn, flow_id, index)

    async def _reask(self, turn: Turn, flow_id: str, index: int, step: Step, *, explained: bool = False) -> None:
        assert step.collect is not None
        flow = turn.project.flows[flow_id]
        key = step_key(flow, index)
        asked = 0
        for event in reversed(turn.state.events):
            if isinstance(event, FlowStarted) and event.flow_id == flow_id:
                break
            if isinstance(event, FlowStepReached) and event.flow_id == flow_id and event.step_id == key:
                asked += 1
        if step.max_attempts is not None and asked >= step.max_attempts:
            log.info("collect_gave_up", flow_id=flow_id, slot=step.collect, attempts=asked)
            utter(turn, "utter_max_attempts", default="Sorry, I couldn't get that. You can start again, "
                  "or ask to talk to a person.")
            self._end_chain(turn, reason="max_attempts")
            return
        invalid = f"utter_invalid_{step.collect}"
        if not explained and invalid in turn.project.domain.responses:
            utter(turn, invalid)
        turn.emit(FlowStepReached(flow_id=flow_id, step_id=key))
        asker = f"action_ask_{step.collect}"
        if step.utter is None and asker in turn.project.domain.actions:
            await self._act(turn, flow_id, flow, asker)  # the same question again, with its buttons
        else:
            utter(turn, step.question)

    async def _cancel(self, turn: Turn) -> None:
        top = turn.state.flow_stack[-1].flow_id
        flow = turn.project.flows[top]
        root = self._end_chain(turn, reason="cancelled")
        name = turn.project.flows[root].name or root if root in turn.project.flows else flow.name or top
        utter(turn, "utter_flow_cancelled", values={"flow": name}, default="Okay, I've stopped that.")
        await self._resume(turn)
        complete(turn)

    def _end_chain(self, turn: Turn, *, reason: str) -> str:
        """Cancel the top flow and the flows waiting on it through ``call``; returns the outermost one."""
        flows = turn.project.flows
        stack = turn.state.flow_stack
        ended = stack[-1].flow_id
        while stack:
            frame = stack[-1]
            ended = frame.flow_id
            self._reset_slots(turn, ended)
            turn.emit(FlowCancelled(flow_id=ended, reason=reason))
            below = stack[-1] if stack else None
            if below is None or below.flow_id not in flows:
                break
            below_flow = flows[below.flow_id]
            if not waits_on(below_flow, index_of(below_flow, below.step_id), ended):
                break
        return ended

    async def _correct(self, turn: Turn, corrections: dict[str, Any]) -> None:
        top = turn.state.flow_stack[-1]
        flow = turn.project.flows[top.flow_id]
        current = index_of(flow, top.step_id)
        rewind: int | None = None
        for name, value in corrections.items():
            turn.emit(SlotSet(name=name, value=value))
            spec = turn.project.domain.slots.get(name)
            shown = "that" if spec is not None and spec.sensitive else str(value)
            utter(turn, "utter_corrected", values={"slot": name.replace("_", " "), "value": shown},
                  default="Okay, I've updated that.")
            position = next((i for i, s in enumerate(flow.steps) if s.collect == name), None)
            if position is not None and current is not None and position < current:
                rewind = position if rewind is None else min(rewind, position)
        log.info("slot_corrected", slots=sorted(corrections))
        if rewind is not None:
            await self._advance(turn, top.flow_id, rewind)
        else:
            await self._resume(turn, remind=False)

    async def _resume(self, turn: Turn, *, remind: bool = True) -> None:
        """Continue the flow on top of the stack after an interruption: remind, then ask again."""
        flows = turn.project.flows
        frame = next((f for f in reversed(turn.state.flow_stack) if f.flow_id in flows), None)
        if frame is None:
            return
        flow = flows[frame.flow_id]
        index = index_of(flow, frame.step_id)
        if index is None or (frame.flow_id == AUTH_FLOW and turn.state.slots.get("authenticated")):
            # (a verification interrupted by a request that verified the customer itself runs from its start,
            # which sees the verification and ends, so the flow that called it goes on)
            await self._advance(turn, frame.flow_id, None)
            return
        step = flow.steps[index]
        if remind:
            utter(turn, "utter_flow_resume", values={"flow": display_name(turn)},
                  default="Now, back to where we were.")
        if step.collect is not None and turn.state.slots.get(step.collect) is None:
            utter(turn, step.question)
        else:
            await self._advance(turn, frame.flow_id, index)

    def _reset_slots(self, turn: Turn, flow_id: str) -> None:
        flow = turn.project.flows[flow_id]
        for step in flow.steps:
            name = step.collect
            if (name is not None and step.reset_after_flow_ends and name not in flow.persisted_slots
                    and turn.state.slots.get(name) is not None):
                turn.emit(SlotSet(name=name, value=None))

    async def _advance(self, turn: Turn, flow_id: str, after: int | None) -> None:
        """Run steps after position ``after`` until one waits for the customer or the flows end."""
        flows = turn.project.flows
        flow = flows[flow_id]
        index = 0 if after is None else next_index(flow, after, turn.state.slots)
        for _ in range(MAX_STEPS_PER_TURN):
            if index is None:
                self._reset_slots(turn, flow_id)
                turn.emit(FlowCompleted(flow_id=flow_id))
                parent = turn.state.flow_stack[-1] if turn.state.flow_stack else None
                if parent is None or parent.flow_id not in flows:
                    complete(turn)
                    return
                parent_flow = flows[parent.flow_id]
                parent_index = index_of(parent_flow, parent.step_id)
                if not waits_on(parent_flow, parent_index, flow_id) or parent_index is None:
                    await self._resume(turn)
                    return
                called = parent_flow.steps[parent_index].call is not None
                flow_id, flow = parent.flow_id, parent_flow
                # After a call, the step after it; after a verification an action asked for, that action.
                index = next_index(flow, parent_index, turn.state.slots) if called else parent_index
                continue
            step = flow.steps[index]
            turn.emit(FlowStepReached(flow_id=flow_id, step_id=step_key(flow, index)))
            if step.collect is not None:
                if turn.state.slots.get(step.collect) is None and not step.ask_before_filling and flow_id != AUTH_FLOW:
                    carried = recall(turn, step.collect)  # (verification asks afresh: a renewal proves it again)
                    if carried is not None:
                        log.info("slot_recalled", flow_id=flow_id, slot=step.collect)
                        turn.emit(SlotSet(name=step.collect, value=carried))
                if turn.state.slots.get(step.collect) is None or step.ask_before_filling:
                    asker = f"action_ask_{step.collect}"
                    if step.utter is None and asker in turn.project.domain.actions:
                        # Rasa's convention: a custom action asks (buttons from the backend); one that can
                        # tell the answer itself (a single candidate) fills the slot and the flow goes on
                        if not await self._act(turn, flow_id, flow, asker):
                            return
                        if turn.state.slots.get(step.collect) is None or step.ask_before_filling:
                            return
                    else:
                        utter(turn, step.question)
                        return
                rejection = next((r for r in step.rejections if evaluate(r.if_, turn.state.slots)), None)
                if rejection is not None:
                    # a value carried from an earlier message meets the step's rejections only now: say why, ask
                    log.info("carried_slot_rejected", flow_id=flow_id, slot=step.collect)
                    turn.emit(SlotSet(name=step.collect, value=None))
                    utter(turn, rejection.utter)
                    utter(turn, step.question)
                    return
            elif step.action is not None:
                if not await self._act(turn, flow_id, flow, step.action):
                    return
            elif step.set_slots is not None:
                for assignment in step.set_slots:
                    for name, value in assignment.items():
                        turn.emit(SlotSet(name=name, value=value))
            elif step.handoff is not None:
                self._hand_off(turn, step)
            elif step.link is not None:
                self._reset_slots(turn, flow_id)
                turn.emit(FlowCompleted(flow_id=flow_id))
                flow_id, flow, index = step.link, flows[step.link], 0
                turn.emit(FlowStarted(flow_id=flow_id))
                continue
            elif step.call is not None:
                flow_id, flow, index = step.call, flows[step.call], 0
                turn.emit(FlowStarted(flow_id=flow_id))
                continue
            index = next_index(flow, index, turn.state.slots)
        log.error("flow_step_limit", flow_id=flow_id)
        raise _HandOff(Escalation("error", message="Sorry, something went wrong on our side. "
                                  "I'm passing you to a member of our team."))

    async def _act(self, turn: Turn, flow_id: str, flow: Flow, name: str) -> bool:
        """Run one action step; ``False`` stops the flow (refused, restarted); a handoff or a failed action raises
        :class:`_HandOff`."""
        if name.startswith("utter_"):
            utter(turn, name)
            return True
        if name == "action_listen":
            return True
        if name == "action_handoff":
            self._hand_off(turn, Step(handoff="requested"))
        if name == "action_restart":
            while turn.state.flow_stack:
                turn.emit(FlowCancelled(flow_id=turn.state.flow_stack[-1].flow_id, reason="restart"))
            return False
        reason = self._needs_verification(turn, flow, name)
        if reason is not None:
            if AUTH_FLOW in turn.project.flows and turn.state.flow_stack[-1].flow_id == flow_id:
                await self._verify_first(turn, flow_id, name, reason)
                return False
            log.warning("action_refused_unverified", action=name, flow_id=flow_id, reason=reason)
            utter(turn, "utter_verify_first", default="I need to verify your identity before I can do that.")
            self._end_chain(turn, reason="unverified")
            return False
        if self.executor is None:
            raise ProviderError(f"flow {flow_id!r} runs {name!r} but no action executor is configured",
                                provider="actions", permanent=True)
        try:
            result = await self.executor.run(name, turn)
        except ProviderError as exc:
            log.error("action_failed", action=name, error=str(exc), permanent=exc.permanent)
            raise _HandOff(Escalation("error", message="Sorry, I couldn't reach our systems just now. "
                                      "I'm passing you to a member of our team.")) from exc
        turn.emit(ActionExecuted(name=name))
        for event in slot_events(result):
            if event.name != VERIFIED_AT:  # only the runner dates a verification
                turn.emit(event)
            if event.name == "authenticated" and event.value is True:
                turn.emit(SlotSet(name=VERIFIED_AT, value=self.clock()))
        dispatch(turn, result.responses)
        return True

    def _hand_off(self, turn: Turn, step: Step) -> NoReturn:
        reason = step.handoff or "requested"
        signals: tuple[Signal, ...] = ()
        if reason == "auth_failed":
            signals = (Signal("authentication", "auth_failed", 1.0,
                              f"{turn.state.slots.get('auth_attempts', 0)} failed verifications"),)
        while turn.state.flow_stack:  # slots stay: the agent's context package shows them
            turn.emit(FlowCancelled(flow_id=turn.state.flow_stack[-1].flow_id, reason="handoff"))
        raise _HandOff(Escalation(reason, signals, team=step.team))
