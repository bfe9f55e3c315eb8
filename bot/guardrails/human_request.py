"""Explicit requests for a human ("agent", "real person", pressing 0 on voice), read as requests, not as words.

A rule detector (no model): a message asks for a person when one of its clauses

- names a person as the one to talk to ("let me speak to an agent", "put me through to someone", "is there
  anyone I can talk to?", "could a member of the team contact me?", "I want a real person"), or
- is nothing but the person ("agent please", "human", "Operator.", "real person now").

What does not count: the same words in another sense ("my estate agent said...", "the travel agent booked it",
"the person I spoke to", "someone stole my parcel", "per person"), requests that are negated in their clause
("no, I don't need a person", "don't transfer me", "stop asking if I want an agent"), and reported or past
speech ("I spoke to a human yesterday"). The configured phrases (``human_request.phrases``) are the person
words; the built-in ones (person, someone, staff, advisor, manager, ...) come on top. One-letter typos of the
words of length five or more are tolerated ("agnet", "persn", "tlak" is handled as a verb variant).

Measured on ``tests/guardrails/data/human_request_{dev,heldout}.csv`` (see ``docs/guardrails.md``).
"""

from __future__ import annotations

import re

from bot.guardrails.base import Action, Decision, Detector, Policy, Signal
from bot.kernel.conversation import ConversationState
from bot.project.schema import HumanRequest

#: Person words every project understands (the configured phrases add to them).
PERSON_WORDS = (
    "person", "human", "human being", "humanbeing", "someone", "somebody", "anyone", "anybody", "agent", "operator",
    "representative", "rep", "advisor", "adviser", "manager", "supervisor", "colleague", "member of staff",
    "member of the team", "member of your team", "staff member", "customer service", "customer services",
    "customer support", "customer care", "support team", "team", "department", "nurse", "pharmacist", "doctor",
    "live chat", "real one",
)

#: Words that may stand right before a person word without changing its sense ("a real agent", "your manager").
_PLAIN_BEFORE = frozenset((
    "a", "an", "the", "to", "real", "live", "human", "actual", "your", "one", "some", "any", "with", "me", "please",
    "get", "speak", "talk", "chat", "customer", "service", "services", "support", "care", "available", "proper",
    "another", "other", "different", "complaints", "billing", "refunds", "sales", "of", "in", "from", "that",
    "this", "someone", "somebody", "there", "is", "are", "for", "be", "i", "yes", "ok", "okay", "just", "now",
    "actually", "", "senior", "duty", "uh", "um", "uhm", "er", "erm", "ah", "hmm",
))

#: A clause is negated when one of these comes before the request in it.
_NEGATION = re.compile(r"\b(?:no|not|never|nope|stop|without|rather not|no need|don'?t|do not|doesn'?t|didn'?t|"
                       r"won'?t|wouldn'?t|shouldn'?t|can'?t|cannot|isn'?t|aren'?t|dont|nor|neither)\b",
                       re.IGNORECASE)
_CLAUSES = re.compile(r"[.!?;,\n]+|\s+\bbut\b\s+|\s+-\s+", re.IGNORECASE)
_TALK = r"(?:speak|talk|tlak|tak|chat|spek|have a word|speek|discuss this)"
_TRANSFER = r"(?:transfer|put|pass|hand|connect|escalate|forward|send)"
_WANT = r"(?:want|wanna|need|like|prefer|demand|rather|get|give|have|find|request|ask for)"
_CONTACT = r"(?:call|ring|phone|contact|email|message|look at|look into|review|check|sort|help|explain|deal with)"
_TOKEN = re.compile(r"[a-z']+")
SPOKEN_ALONE_WORDS = 3
"""On a call, an utterance of at most this many words that holds a person word asks for a person."""


def _typo_forms(word: str) -> str:
    """A regex matching ``word`` with at most one transposition or one missing/extra letter (words of 5+)."""
    if len(word) < 5 or " " in word:
        return re.escape(word)
    forms = {word}
    for i in range(len(word) - 1):
        forms.add(word[:i] + word[i + 1] + word[i] + word[i + 2:])
    for i in range(len(word)):
        forms.add(word[:i] + word[i + 1:])
    return "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))


class detect_human_request(Detector):  # noqa: N801 - detectors get verb names (STYLE.md)
    """Fires when the customer asks for a person (see the module docstring) or presses the DTMF key."""

    name = "human_request"
    kind = "rule"

    def __init__(self, config: HumanRequest) -> None:
        words = sorted({p.lower() for p in (*config.phrases, *PERSON_WORDS)}, key=len, reverse=True)
        person = "|".join(_typo_forms(w).replace(r"\ ", r"\s+") for w in words)
        self._person = re.compile(rf"\b(?:{person})s?\b", re.IGNORECASE)
        target = rf"(?:\w+\s+){{0,4}}?(?:{person})s?\b"
        self._frames = [re.compile(p, re.IGNORECASE) for p in (
            rf"\b{_TALK}\s+(?:\w+\s+){{0,3}}?(?:to|with)\s+{target}",
            rf"\b{_TRANSFER}\b(?:\s+(?:me|this|it|my \w+|the \w+))?\s+(?:(?:through|over|on|across)\s+)?"
            rf"(?:to|with)\s+{target}",
            rf"\bbe\s+(?:transferred|put\s+through|passed|connected|handed\s+over)\s+to\s+{target}",
            rf"^\s*(?:please\s+)?(?:get|give|find)\s+(?:me\s+)?{target}",
            rf"\b(?:{_TRANSFER})\s+me\b(?:\s+(?:through|over|on|please|now))?\s*$",
            rf"\b(?:i|i'd|id|we|i'm|im)\b.{{0,25}}\b{_WANT}\b(?:\s+to\s+(?:get|have|speak|talk))?\s+{target}",
            rf"\b(?:can|could|may)\s+i\s+(?:get|have|speak|talk)\b\s+{target}",
            rf"\b(?:get|give|find)\s+me\s+{target}",
            rf"\b(?:is|are)\s+there\s+{target}",
            rf"\b(?:can|could|would|will|please|have)\s+(?:{target})(?:\s+(?:from|at|in|on)\s+\w+(?:\s+\w+)?)?"
            rf"\s+(?:please\s+)?{_CONTACT}\b",
            rf"\b(?:escalate|pass)\s+(?:this|it)\b.{{0,20}}\b(?:to\s+)?{target}",
            rf"\bcall\s*back\s+from\s+{target}",
        )]
        fillers = r"uh+|um+|uhm|er+m?|hmm+|ah+|yes|ok|okay|just|please|now|an?|the|real|live|actual|human"
        self._bare = re.compile(rf"^\s*(?:(?:{fillers}|talk\s+to|speak\s+to|get\s+me|give\s+me)\s+)*(?:{person})s?"
                                rf"(?:\s+(?:please|pls|now|asap|then))*\s*$", re.IGNORECASE)
        self._dtmf = config.dtmf

    def _sense_ok(self, clause: str, match: re.Match[str]) -> bool:
        """The person word is meant as "a person to talk to", not a trade or a third party."""
        words = _TOKEN.findall(clause[:match.start()].lower())
        before = words[-1] if words else ""
        noun = match.group(0).lower()
        if before in ("my", "our", "his", "her", "their") and noun not in ("manager",):
            return False
        if before not in _PLAIN_BEFORE and not before.endswith("ing"):
            return False  # a compound: "estate agent", "travel agent", "delivery person", "contact person"
        after = clause[match.end():].lower()
        return not re.match(r"\s*(?:else|i\s+(?:spoke|talked|dealt|emailed)|who\s+(?:delivered|called|said))", after)

    def requested(self, text: str) -> str | None:
        """The clause that asks for a person, or ``None``."""
        for clause in (c.strip() for c in _CLAUSES.split(text)):
            if not clause:
                continue
            for pattern in (self._bare, *self._frames):
                match = pattern.search(clause)
                if match is None:
                    continue
                person = self._person.search(clause, match.start())
                if person is not None and pattern is not self._bare and not self._sense_ok(clause, person):
                    continue
                if pattern is not self._bare and _NEGATION.search(clause[:match.end()]):
                    break
                return clause
        return None

    async def detect(self, text: str, state: ConversationState, channel: str) -> list[Signal]:
        stripped = text.strip()
        if stripped == "/human" or (channel == "voice" and stripped == self._dtmf):
            return [Signal(self.name, "requested", 1.0, stripped)]
        clause = self.requested(text)
        if clause is None and channel == "voice":
            clause = self.spoken_alone(stripped)
        return [Signal(self.name, "requested", 0.9, clause)] if clause is not None else []

    def spoken_alone(self, text: str) -> str | None:
        """On a call, a short utterance that is a person word among noise ("i uh agent": speech recognition of
        one word often adds a syllable or two), neither negated nor in another sense; else ``None``."""
        if len(_TOKEN.findall(text.lower())) > SPOKEN_ALONE_WORDS or _NEGATION.search(text):
            return None
        person = self._person.search(text)
        return text if person is not None and self._sense_ok(text, person) else None


class EscalateOnRequest(Policy):
    """The foundation policy: an explicit request for a human escalates; everything else continues."""

    def decide(self, signals: list[Signal], state: ConversationState) -> Decision:
        requested = [s for s in signals if s.category == "requested"]
        if requested:
            return Decision(Action.ESCALATE, "requested", "requested", tuple(requested))
        return Decision(Action.CONTINUE)
