"""What kind of answer a question wants: yes/no, an amount, a duration, a time, a place, a phone number.

Rules, not a model: the question's opening words and a few cue phrases decide. A passage unit then
``satisfies`` the type when it states that kind of fact ("$59", "7 business days", "8:00 am", "455 SW
Alder Street", "(800) 555-0142"). Answer selection uses the match as one feature, and composition uses
``yes_no`` to decide whether an answer may open with "Yes." or "No.".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_AUX = r"(?:do|does|did|can|could|is|are|was|were|will|would|should|shall|may|might|must|have|has|am)"
_YES_NO = re.compile(rf"^(?:(?:and|so|but|ok|okay|hi|hello|also|please)[, ]+)*{_AUX}\b|[,;.?!]\s*{_AUX}\s+"
                     r"(?:i|we|you|they|it|he|she|my|the|this|that|there)\b|\b(?:whether|if)\s+(?:i|we|you|it|they|"
                     r"there|my|the)\b", re.IGNORECASE)
_WH = re.compile(r"^\W*(?:what|whats|what's|wot|which|where|when|who|whom|why|how|wats)\b", re.IGNORECASE)

_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("duration", re.compile(r"\bhow (?:long|soon|quick(?:ly)?|fast|early|many (?:days|weeks|nights|hours|"
                            r"minutes|months|years))\b|\bwhen will\b|\bhow much (?:notice|time)\b", re.IGNORECASE)),
    ("money", re.compile(r"\bhow much\b|\b(?:cost|costs|price|prices|fee|fees|charge|charges|cheapest|"
                         r"expensive|pay for)\b", re.IGNORECASE)),
    ("count", re.compile(r"\bhow many\b", re.IGNORECASE)),
    ("phone", re.compile(r"\b(?:phone|number to call|call you|ring|telephone|hotline|line)\b", re.IGNORECASE)),
    ("email", re.compile(r"\be-?mail (?:address|for)\b|\bemail\b.*\b(?:press|privacy|trade)\b", re.IGNORECASE)),
    ("time", re.compile(r"\bwhat time\b|\bwhen\b|\b(?:opening|open|close|closing) (?:hours|times)\b|"
                        r"\bhours\b|\bopen\b", re.IGNORECASE)),
    ("place", re.compile(r"\bwhere\b|\baddress\b|\blocation\b|\bclosest\b|\bnearest\b", re.IGNORECASE)),
)

_FACT_PATTERNS = {
    "money": re.compile(r"[$£€]\s?\d|\d\s?%|\b\d+ (?:dollars|percent)\b|\bfree\b|\bno (?:fee|charge|cost)\b|"
                        r"\bfree of charge\b|\bat no (?:extra )?cost\b", re.IGNORECASE),
    "duration": re.compile(r"\b\d+(?:[.,]\d+)?(?:\s?(?:–|-|to)\s?\d+)?[\s-]*(?:business\s|calendar\s)?(?:minutes?|"
                           r"hours?|days?|nights?|weeks?|months?|years?)\b|\b(?:same|next) (?:day|business day)\b|"
                           r"\bwithin\b|\bimmediately\b|\buntil\b|\bbefore\b|\bseconds\b", re.IGNORECASE),
    "count": re.compile(r"\b\d+\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|once|twice)\b",
                        re.IGNORECASE),
    "phone": re.compile(r"\(\d{3}\)\s?\d{3}-\d{4}|\b911\b"),
    "email": re.compile(r"\b[\w.+-]+@[\w-]+\.\w+"),
    "time": re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?:am|pm)\b|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|"
                       r"sunday|weekdays?|weekends?|january|february|march|april|may|june|july|august|september|"
                       r"october|november|december|closed|open)\b|\b\d+ (?:business )?days? (?:before|after)\b|"
                       r"\bwhen\b|\bwithin\b", re.IGNORECASE),
    "place": re.compile(r"\b\d+\s+(?:[NSEW]{1,2}\s+)?[A-Z]\w+ (?:Street|St|Avenue|Ave|Road|Rd|Boulevard)\b|\bfloor\b|"
                        r"\bnext to\b|\bstop\b|\bgarage\b|\bentrance\b|\bin (?:Portland|Seattle|Boise)\b|"
                        r"\bwalk\b"),
}


@dataclass(frozen=True, slots=True)
class QuestionType:
    """The answer a question asks for."""

    yes_no: bool
    """Answerable with yes or no ("can I...", "do you...", "..., is it free?")."""
    wants: str | None
    """``money``, ``duration``, ``count``, ``phone``, ``email``, ``time``, ``place`` or ``None``."""

    def satisfied_by(self, text: str) -> bool | None:
        """Does ``text`` state the kind of fact wanted? ``None`` when the question wants no particular kind."""
        if self.wants is None:
            return None
        return bool(_FACT_PATTERNS[self.wants].search(text))


def classify(question: str) -> QuestionType:
    """The type of ``question`` (see the module docstring)."""
    text = question.strip()
    wants = next((name for name, pattern in _TYPES if pattern.search(text)), None)
    wh = bool(_WH.search(text))
    yes_no = bool(_YES_NO.search(text)) and not (wh and not re.search(r"[,;.?!]\s*" + _AUX + r"\s", text, re.I))
    return QuestionType(yes_no, wants)
