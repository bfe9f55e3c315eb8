"""The corpus's words: how rare each one is (IDF), customer spellings mapped onto them, typos corrected.

Answer selection asks "how much of what the customer asked does this passage speak to?"; that needs the
customer's words in the documents' vocabulary. Three cheap steps, in order:

1. regional and everyday synonyms (British/American: colour/color, settee/sofa, jab/shot, lorry/truck,
   cheque/check...), a fixed table below — not learned, so it cannot overfit a QA set;
2. a word the corpus knows is kept;
3. an unknown word of five letters or more that is one edit away from a corpus word (SymSpell-style
   single-deletion keys: catches "shiping", "recieve", "warrenty") is replaced by the most frequent such word.

A word still unknown keeps the highest IDF: an unmatched rare word ("rent", "CEO", "MRI") weighs heavily
against a passage that shares only one common word with the question.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from functools import lru_cache

from bot.knowledge.text import STOPWORDS, words

EXPANSION_WEIGHT = 0.8
"""Weight of a synonym or spelling correction among the BM25 query terms (the customer's own words weigh 1)."""
_SURFACE_WORD = re.compile(r"[A-Za-z]+")

SYNONYMS: dict[str, tuple[str, ...]] = {
    "colour": ("color",), "color": ("colour",), "settee": ("sofa",), "couch": ("sofa",),
    "sofa": ("settee", "couch"), "lorry": ("truck",), "jab": ("shot", "vaccine", "vaccination"),
    "jabs": ("shot", "vaccine"), "shot": ("jab", "vaccine"), "vaccine": ("vaccination", "shot"),
    "cheque": ("check", "checks"), "cheques": ("check", "checks"), "courier": ("carrier",), "couriers": ("carrier",),
    "guarantee": ("warranty",), "warranty": ("guarantee",), "instalment": ("installment", "monthly", "payment"),
    "instalments": ("installment", "monthly", "payment"), "installment": ("instalment", "monthly", "payment"),
    "excess": ("deductible",), "enquiries": ("inquiries", "press"), "enquiry": ("inquiry",),
    "shop": ("store",), "shops": ("store",), "showroom": ("store",), "till": ("store", "receipt"),
    "parcel": ("package",), "package": ("parcel",), "postcode": ("zip",), "mobile": ("phone",),
    "ring": ("call", "phone"), "telephone": ("phone",), "flatpack": ("flat", "pack"), "cancelling": ("cancel",),
    "cancelled": ("cancel",), "canceled": ("cancel",), "favourite": ("favorite",), "centre": ("center",),
    "programme": ("program",), "holiday": ("holidays",), "weekend": ("saturday", "sunday"),
    "weekends": ("saturday", "sunday"), "saturdays": ("saturday",), "sundays": ("sunday",),
    "dispatch": ("ship", "shipping"), "delivery": ("deliver", "shipping"), "deliver": ("delivery", "ship"),
    "shipping": ("ship", "delivery"), "post": ("mail", "ship"), "money": ("refund",), "cash": ("cash",),
    "voucher": ("gift", "card"), "vouchers": ("gift", "card"), "discount": ("discount", "code", "promo"),
    "physio": ("physiotherapy",), "doc": ("doctor",), "gp": ("doctor",), "bloods": ("blood",),
    "jabbed": ("vaccination",), "nurse": ("nurse",), "prescription": ("prescription", "refill"),
    "repeat": ("refill",), "shut": ("closed",), "open": ("hours",), "cost": ("price", "fee"),
    "price": ("cost", "fee"), "fee": ("cost", "price"), "charge": ("fee", "cost"), "cheapest": ("price", "fee"),
    "password": ("password", "sign"), "login": ("sign",), "log": ("sign",), "amex": ("american", "express"),
    "uk": ("outside", "united", "state"), "abroad": ("outside", "travelling"), "kid": ("child",),
    "kids": ("child",), "son": ("child",), "daughter": ("child",), "husband": ("spouse",), "wife": ("spouse",),
    "bin": ("packaging",), "box": ("packaging",), "swap": ("exchange",), "back": ("return",),
    "postage": ("shipping",), "posting": ("shipping",), "bitcoin": ("cryptocurrency",),
    "crypto": ("cryptocurrency",), "xray": ("imaging",), "scan": ("imaging", "ultrasound"),
    "mum": ("parent",), "mom": ("parent",), "dad": ("parent",), "nan": ("guardian",), "grandma": ("guardian",),
    "finance": ("financing", "affirm", "apr"), "credit": ("credit",), "human": ("person",),
    "someone": ("person",), "agent": ("person",), "garden": ("outdoor",), "patio": ("outdoor",),
    "haul": ("removal",), "fortnight": ("weeks",), "ill": ("nurse", "advice"), "sick": ("nurse", "advice"),
    "jumper": ("sweater",), "trainers": ("sneakers",), "flat": ("apartment",), "holidays": ("holiday",),
    "whinge": ("complaint",), "complain": ("complaint",),
    "refund": ("refund", "money"), "guaranteed": ("warranty",), "expire": ("expire", "valid"),
    "pharmacist": ("pharmacy",), "chemist": ("pharmacy",), "surgery": ("clinic",), "gp's": ("doctor",),
}
"""Customer word → corpus words it stands for (looked up after light stemming, see :func:`bot.knowledge.text.words`)."""

PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(pattern, re.IGNORECASE), replacement) for
                                                         pattern, replacement in (
    (r"\b(?:send|take|bring|give|post)(?: (?:it|them|this|that|these|those|the \w+))? back\b", "return"),
    (r"\bmoney back\b", "refund"), (r"\bget (?:my|the) difference back\b", "refund the difference"),
    (r"\bget seen\b", "get an appointment"), (r"\bput (?:it |them )?together\b", "assemble"),
    (r"\bflat ?pack\b", "flat pack assembly"), (r"\bfind (?:it|my parcel) anywhere\b", "not arrived"),
    (r"\bwhat (?:time|hours) (?:do|does|are|is) (?:you|the \w+) (?:open|shut|close)\b", "opening hours"),
    (r"\b(?:r|are) u\b", "are you"), (r"\bur\b", "your"), (r"\bwot\b", "what"), (r"\bpls\b", "please"),
))
"""Customer phrasings rewritten before retrieval ("send it back" → "return"): the documents use the policy word."""

QUESTION_FILLERS = frozenset({"much", "many", "long", "know", "tell", "wonder", "wondering", "still", "really",
                              "actually", "okay", "ok"})
"""Words of the question's form ("how much", "how long", "I was wondering"), not of its subject: left out of
coverage (the answer type carries them) when at least two words of substance remain — "how much does that
cost?" alone keeps "much", so a bare follow-up is not fully covered by any price."""

QUESTION_WORDS = frozenset({"how", "long", "much", "many", "what", "when", "where", "which", "who", "why", "can",
                            "does", "will"})
"""Short words a swapped pair of letters is repaired to ("lnog" → "long", "hwo" → "how") besides corpus words."""

MIN_FUZZY = 5
"""Shortest unknown word that is corrected by one edit (shorter words collide too often)."""


_SUFFIXES = ("ations", "ation", "ings", "ing", "ied", "ies", "ers", "ery", "er", "ed", "ly", "es", "e", "y")


@lru_cache(maxsize=100_000)
def root(word: str) -> str:
    """A crude stem for matching only ("delivered", "delivery", "deliver" → "deliv"; "returning" → "return")."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[:-len(suffix)]
    return word


def roots(text_words: Iterable[str]) -> set[str]:
    """The :func:`root` of each word."""
    return {root(w) for w in text_words}


@lru_cache(maxsize=50_000)
def text_roots(text: str) -> frozenset[str]:
    """The roots of ``text``'s content words (memoized: the same passages are scored turn after turn)."""
    return frozenset(roots(words(text)))


def rewrite(question: str) -> str:
    """``question`` with the customer phrasings of :data:`PHRASES` replaced by the documents' words."""
    for pattern, replacement in PHRASES:
        question = pattern.sub(replacement, question)
    return question


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class Vocabulary:
    """Document frequencies of the corpus's (stemmed) words, with spelling repair for questions."""

    def __init__(self, documents: Iterable[str]) -> None:
        frequency: Counter[str] = Counter()
        size = 0
        for text in documents:
            size += 1
            frequency.update(set(words(text)))
        self.size = size
        self.frequency = frequency
        keys: dict[str, str] = {}
        for word, _ in frequency.most_common():
            if len(word) >= MIN_FUZZY - 1:
                for key in (word, *_deletes(word)):
                    keys.setdefault(key, word)
        self._keys = keys
        self.unknown_idf = math.log(1 + (size + 0.5) / 0.5)

    def idf(self, word: str) -> float:
        """BM25-style IDF (an unknown word gets the highest value)."""
        df = self.frequency.get(word, 0)
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def correct(self, word: str) -> str:
        """``word`` if known, else the corpus word one edit away, else ``word`` unchanged."""
        if word in self.frequency or len(word) < MIN_FUZZY or word.isdigit():
            return word
        for key in (word, *_deletes(word)):
            found = self._keys.get(key)
            if found is not None:
                return found
        return word

    def terms(self, text: str) -> list[tuple[str, tuple[str, ...]]]:
        """Each content word of ``text`` with the corpus words that count as a match for it."""
        result: list[tuple[str, tuple[str, ...]]] = []
        asked = words(text)
        if sum(w not in QUESTION_FILLERS for w in asked) >= 2:
            asked = [w for w in asked if w not in QUESTION_FILLERS]
        for word in asked:
            fixed = self.correct(word)
            alternatives = (fixed, *SYNONYMS.get(word, ()), *SYNONYMS.get(fixed, ()))
            result.append((fixed, tuple(dict.fromkeys(alternatives))))
        return result

    def repair(self, text: str) -> str:
        """``text`` with each unknown word repaired: two swapped letters ("lnog" → "long"), or for a word of five
        letters or more one edit ("refnud" → "refund"); everything else kept as written."""
        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            lower = word.lower()
            if len(lower) >= 3 and lower not in self.frequency and lower not in STOPWORDS:
                for i in range(len(lower) - 1):
                    swapped = lower[:i] + lower[i + 1] + lower[i] + lower[i + 2:]
                    if swapped in QUESTION_WORDS or swapped in self.frequency:
                        return swapped
            if len(lower) < MIN_FUZZY or lower in self.frequency or lower in STOPWORDS or lower in SYNONYMS:
                return word
            known = words(lower)
            if not known or known[0] in self.frequency:
                return word
            fixed = self.correct(known[0])
            if fixed == known[0]:
                return word
            return f"{fixed}s" if lower.endswith("s") and not fixed.endswith("s") else fixed
        return _SURFACE_WORD.sub(fix, text)

    def expansions(self, text: str) -> dict[str, float]:
        """Corpus words standing for ``text``'s words (corrections and synonyms), as lexical query terms of
        weight ``EXPANSION_WEIGHT`` ("amex" → "american", "express")."""
        asked = set(words(text))
        extra: dict[str, float] = {}
        for _, alternatives in self.terms(text):
            for alternative in alternatives:
                for term in words(alternative):
                    if term not in asked and term in self.frequency:
                        extra[term] = EXPANSION_WEIGHT
        return extra

    def coverage(self, question_terms: Sequence[tuple[str, tuple[str, ...]]], passage: AbstractSet[str]) -> tuple[
            float, float]:
        """IDF-weighted share of the question's words that ``passage`` (a set of :func:`root` forms) contains,
        and the IDF of the rarest word it lacks relative to an unknown word's (0 when it lacks none)."""
        total = covered = missing = 0.0
        for word, alternatives in question_terms:
            weight = self.idf(word) if word in self.frequency else self.unknown_idf
            total += weight
            if any(root(a) in passage for a in alternatives):
                covered += weight
            else:
                missing = max(missing, weight)
        return (covered / total if total else 0.0), missing / self.unknown_idf
