"""Is a message a question about the rules (policy) rather than a request about the customer's own account?

"my lamp came last month, can I still send it back?" names a purchase but asks what the returns policy allows;
"my lamp hasn't arrived yet" asks about one order's state. The first is answered from the documents before any
flow asks who the customer is (the flow is then offered); the second starts the flow.

The test is on the question's form: a policy form ("can I still return", "is it too late to", "what's your
returns window", "how long do I have to", "what happens if", "am I covered", "is assembly included") and no sign of
an account request (an order number, "hasn't arrived", "where's my", "arrived broken", "cancel", "change the
address", "when will it arrive", "any news on"). Conditions ("if it arrives damaged") are read as hypothetical:
their words are not account signs. Measured on a first-turn set written for this (``tests/nlu/data/
policy_questions_*.csv``, see ``tests/nlu/test_policy_questions.py``).
"""

from __future__ import annotations

import re

_POLICY_FORMS = re.compile(
    r"\b(?:can|could|may) (?:i|we|you)(?: still)? (?:return|send (?:it|them|\w+) back|send back|exchange|swap|"
    r"get (?:a |my )?(?:refund|money back)|be refunded|pay|use|finance|get (?:it|them|\w+ \w+) delivered)\b"
    r"|\bcan (?:it|they|this|that) (?:still )?be (?:returned|refunded|exchanged|sent back)\b"
    r"|\bis it (?:too late|possible|ok|okay|allowed) to\b"
    r"|\bam i (?:covered|able to|allowed to|eligible)\b"
    r"|\bhow long (?:do i have|have i got|is (?:the|your)|does (?:a |the )?refund|do refunds|does it take to "
    r"(?:get (?:a |my )?)?refund)"
    r"|\bw(?:h)?at(?:'?s| is| are) (?:your|the) (?:return|returns|refund|exchange|warranty|guarantee|delivery|shipping|"
    r"price|trial|cancellation) ?(?:policy|policies|window|period|terms|rules|charges?|fees?|costs?)?\b"
    r"|\bw(?:h)?at happens if\b"
    r"|\bhow much (?:does|do|is|are|would|will) [\w ]{0,40}\b(?:cost|charge)"
    r"|\bhow much is (?:delivery|shipping|assembly|collection|installation|white glove)\b"
    r"|\bis there (?:a|any) (?:warranty|guarantee|fee|charge|trial|restocking)\b"
    r"|\bhow (?:do|can|should) i (?:care for|clean|look after|return|claim|pay)\b"
    r"|\bdo(?:es)? (?:i|you|it|my \w+) (?:need|charge|offer|accept|include|earn|come with)\b"
    r"|\bis (?:delivery|assembly|shipping|collection|installation) (?:free|included)\b",
    re.IGNORECASE,
)

_ACCOUNT_SIGNS = re.compile(
    r"\b[A-Z]\d{4,}\b"  # an order or booking number: this customer's own thing
    r"|\b(?:where(?:'?s| is| are)|any news|status|track(?:ing)?|on (?:its|it's|the) way|shipped|dispatched)\b"
    r"|\b(?:has ?n[o']?t|have ?n[o']?t|hasnt|havent|not yet|never|still (?:not|waiting|hasn'?t))\b"
    r"|\bnothing (?:has )?(?:come|arrived|turned up)\b"
    r"|\b(?:arrived|came|come|delivered|turned up) (?:broken|damaged|cracked|scratched|faulty|wrong)\b"
    r"|\b(?:broken|cracked|missing|faulty)\b"
    r"|\b(?:cancel|reschedule|move|change|update|amend) (?:my|the|this|that|it|an?)\b"
    r"|\bwhen (?:will|is|does) (?:it|my|the|they)\b|\bhow long until\b|\bgoing to be late\b"
    r"|\bwhat(?:'?s| is) in my\b",
    re.IGNORECASE,
)

_CONDITION = re.compile(r"\b(?:if|in case|should (?:it|my|the))\b[^,.;?]*", re.IGNORECASE)


def is_policy_question(text: str) -> bool:
    """``True`` when ``text`` asks what the rules allow rather than about the customer's own order or booking."""
    return policy_question(text) is not None


def policy_question(text: str) -> str | None:
    """The policy question ``text`` asks, without the story before it ("my lamp came last month, can I still
    send it back?" → "can I still send it back?"), or ``None`` when ``text`` is not a policy question."""
    match = _POLICY_FORMS.search(text)
    if match is None or _ACCOUNT_SIGNS.search(_CONDITION.sub(" ", text)) is not None:
        return None
    start = max(text.rfind(mark, 0, match.start()) for mark in ",;.!")
    return text[start + 1:].strip() if start >= 0 else text.strip()
