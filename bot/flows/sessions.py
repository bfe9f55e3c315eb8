"""How long a verification lasts: when it happened, the silences since, and dropping it.

A verification is dated by the ``verified_at`` slot, which only the flow runner sets (right after an action set
``authenticated``); no flow collects it, so nothing a customer sends can fill it. Conversations verified before
the slot existed are dated by their ``authenticated`` event.
"""

from __future__ import annotations

from itertools import pairwise

from bot.kernel.conversation import ConversationState
from bot.kernel.events import SlotSet, UserUttered
from bot.pipeline.turn import Turn

VERIFIED_AT = "verified_at"
#: Slots a verification sets, all dropped when it expires or a step-up asks for a fresh one.
VERIFICATION_SLOTS = ("authenticated", "customer_id", "customer_name", VERIFIED_AT)


def verified_at(state: ConversationState) -> tuple[float, int] | None:
    """When the conversation's verification happened and the position of its event (``None`` unverified)."""
    if not state.slots.get("authenticated"):
        return None
    for position in range(len(state.events) - 1, -1, -1):
        event = state.events[position]
        if isinstance(event, SlotSet) and event.name in (VERIFIED_AT, "authenticated") and event.value:
            stamp = event.value if event.name == VERIFIED_AT else event.timestamp
            try:
                return float(stamp), position
            except (TypeError, ValueError):
                return 0.0, position  # not a time: treat the verification as ancient
    return 0.0, -1


def longest_silence(turn: Turn, now: float) -> float | None:
    """The longest gap since the verification: between it, each later customer message and ``now`` (this
    turn's message excluded); ``None`` when the conversation is not verified."""
    found = verified_at(turn.state)
    if found is None:
        return None
    stamp, position = found
    current = turn.state.latest_user
    moments = [stamp, *(e.timestamp for e in turn.state.events[position + 1:]
                        if isinstance(e, UserUttered) and e is not current), now]
    return max(later - earlier for earlier, later in pairwise(moments))


def drop_verification(turn: Turn) -> None:
    """Forget the conversation's verification (the customer verifies again before account data)."""
    for name in VERIFICATION_SLOTS:
        value = turn.state.slots.get(name)
        if value is not None and value is not False:
            turn.emit(SlotSet(name=name, value=False if name == "authenticated" else None))
