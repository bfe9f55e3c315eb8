"""Load-time checks of a flow's structure: conditions, reachability, authentication.

Returns ``(loc, message)`` pairs; the project loader turns them into problems with file and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bot.flows.conditions import ConditionError, parse, slot_names
from bot.flows.schema import AUTH_FLOW, Flow

Loc = tuple[str | int, ...]


def _conditions(flow: Flow) -> Iterator[tuple[Loc, str]]:
    if flow.if_ is not None:
        yield ("if",), flow.if_
    for index, step in enumerate(flow.steps):
        for r_index, rejection in enumerate(step.rejections):
            yield ("steps", index, "rejections", r_index, "if"), rejection.if_
        if isinstance(step.next, list):
            for b_index, branch in enumerate(step.next):
                if branch.if_ is not None:
                    yield ("steps", index, "next", b_index, "if"), branch.if_


def _successors(flow: Flow, index: int) -> list[int]:
    ids = {s.id: i for i, s in enumerate(flow.steps) if s.id}
    step = flow.steps[index]
    after = [index + 1] if index + 1 < len(flow.steps) else []
    if step.next is None:
        return after
    targets: list[Any] = []
    if isinstance(step.next, str):
        targets = [step.next]
    else:
        has_else = False
        for branch in step.next:
            target = branch.then if branch.if_ is not None else branch.else_
            has_else = has_else or branch.if_ is None
            targets.append(target)
        if not has_else:
            targets.append(None)
    out = []
    for target in targets:
        if target is None:
            out.extend(after)
        elif target in ids:
            out.append(ids[target])
    return out


def check_flow_structure(flow_id: str, flow: Flow, slots: set[str], flows: set[str]) -> list[tuple[Loc, str]]:
    """Problems in ``flow``: bad or unknown-slot conditions, unreachable steps, unguarded account data."""
    out: list[tuple[Loc, str]] = []
    for loc, condition in _conditions(flow):
        try:
            parse(condition)
        except ConditionError as exc:
            out.append((loc, str(exc)))
            continue
        for name in sorted(slot_names(condition) - slots):
            out.append((loc, f"condition reads unknown slot '{name}'"))
    reached, todo = {0}, [0]
    while todo:
        for nxt in _successors(flow, todo.pop()):
            if nxt not in reached:
                reached.add(nxt)
                todo.append(nxt)
    for index, step in enumerate(flow.steps):
        if index not in reached:
            out.append((("steps", index), f"unreachable step '{step.id or index}' (no step leads to it)"))
    if flow.requires_auth and flow_id != AUTH_FLOW:
        if AUTH_FLOW not in flows:
            out.append((("requires_auth",), f"requires_auth needs a flow named '{AUTH_FLOW}'"))
        elif flow.steps[0].call != AUTH_FLOW:
            out.append((("steps", 0), f"a flow with requires_auth must start with 'call: {AUTH_FLOW}'"))
    return out
