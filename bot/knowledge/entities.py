"""Which catalogue entity (hotel, restaurant, store, service) a conversation is about, from spoken text.

A knowledge base that is a catalogue — many documents titled with the name of the thing they describe
("Acorn Guest House", "De Luca Cucina and Bar") — answers "do they accept credit cards?" only for the entity
named turns earlier. :class:`EntityIndex` finds entity names in text the way a speech recognizer writes them:

- names and text are lower-cased, "&" read as "and", punctuation and "the" dropped;
- a name is matched on its *distinctive* words (words shared by many names — "guest", "house", "hotel",
  "restaurant" — count only when a name has nothing else);
- a word of five letters or more matches with one slip (SymSpell-style deletion keys: "gueshouse", "takkeaway"),
  and two adjacent words of the text are also tried joined ("a corn" → "acorn");
- two adjacent distinctive words are also matched run together ("thaitime", "kinggeorge");
- a name matches when its distinctive words, weighted by rarity, are at least :data:`MIN_COVER` present — but
  when only one word of a longer name matched ("good" of "Good Hotel", "two" of "Restaurant Two Two"), the
  whole name must be there; the best-covered name wins (ties: the name with more words matched).

The retriever asks the question first, then the earlier turns, most recent first: the first turn naming an
entity decides, and that entity's documents join the candidates with a boost.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

MIN_COVER = 0.75
"""Share (rarity-weighted) of a name's distinctive words the text must contain."""
FUZZY_LENGTH = 6
"""Words this long or longer match with one slip (five-letter words collide: "table"/"fable", "great"/"grant")."""
COMMON_TEXTS = 10
"""A word in at least this many document texts is common ("good", "two", "north")."""
GENERIC_SHARE = 0.01
"""A word in more than this share of names (and at least 3) is generic ("guest", "house")."""
_NOISE = frozenset({"the", "and", "n", "of", "a", "at", "in", "on", "to", "my", "me", "i", "it", "is", "for", "you",
                    "can", "do", "does", "what", "where", "how", "there", "they", "place", "please"})


def normalize(text: str) -> list[str]:
    """Lower-case words of ``text`` ("&" as "and", apostrophes dropped, other punctuation a space)."""
    text = text.lower().replace("&", " and ").replace("'", "").replace("’", "")
    return re.sub(r"[^a-z0-9]+", " ", text).split()


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class EntityIndex:
    """Entity names (document titles) and the document positions of each, searchable in spoken text."""

    def __init__(self, titles: Sequence[str], texts: Sequence[str] = ()) -> None:
        positions: dict[str, list[int]] = defaultdict(list)
        for position, title in enumerate(titles):
            positions[" ".join(normalize(title))].append(position)
        in_texts: Counter[str] = Counter(w for text in texts for w in set(normalize(text)))
        self.names = [name for name in positions if name]
        self.positions = [positions[name] for name in self.names]
        df: Counter[str] = Counter(w for name in self.names for w in set(name.split()))
        generic_df = max(3, int(GENERIC_SHARE * len(self.names)))
        self.keys: list[dict[str, float]] = []
        self.phrases = [" ".join(w for w in name.split() if w not in _NOISE) for name in self.names]
        """Each name without noise words, as the text must contain it when only one common word matched."""
        self.common = {w for w, n in in_texts.items() if n >= COMMON_TEXTS}
        """Words found in many documents' texts ("good", "north"): alone (like any word of four letters or fewer)
        they name nothing."""
        lookup: dict[str, set[tuple[int, tuple[str, ...], bool]]] = defaultdict(set)
        """Key → (entity, the name words it stands for, whether the key is the word itself or a deletion)."""
        for entity, name in enumerate(self.names):
            words = [w for w in name.split() if w not in _NOISE] or name.split()
            distinctive = [w for w in words if df[w] <= generic_df] or words
            weights = {w: math.log(1 + len(self.names) / df[w]) for w in distinctive}
            self.keys.append(weights)
            entries: list[tuple[str, tuple[str, ...]]] = [(w, (w,)) for w in weights]
            entries += [(a + b, tuple(x for x in (a, b) if x in weights)) for a, b in pairwise(words)
                        if min(len(a), len(b)) >= 3]
            for joined, parts in entries:
                lookup[joined].add((entity, parts, True))
                if len(joined) >= FUZZY_LENGTH:
                    for key in _deletes(joined):
                        lookup[key].add((entity, parts, False))
        self._lookup = dict(lookup)

    def __len__(self) -> int:
        return len(self.names)

    @lru_cache(maxsize=4096)  # noqa: B019 - one index per retriever, texts repeat turn after turn
    def find(self, text: str) -> int | None:
        """The entity named in ``text`` (an index into :attr:`names`), or ``None``."""
        every = normalize(text)
        tokens = [t for t in every if t not in _NOISE]
        probes = set(tokens) | {a + b for a, b in pairwise(every)} | {
            a + b + c for a, b, c in zip(every, every[1:], every[2:], strict=False)}
        matched: dict[int, set[str]] = defaultdict(set)
        for probe in probes:
            fuzzy = len(probe) >= FUZZY_LENGTH
            keys = {probe} | (_deletes(probe) if fuzzy else set())
            for key in keys:
                for entity, parts, exact in self._lookup.get(key, ()):
                    if (key == probe and exact) or fuzzy:
                        matched[entity].update(parts)
        joined_text = " ".join(tokens)
        best: tuple[float, int, int] | None = None
        found = None
        for entity, words in matched.items():
            weights = self.keys[entity]
            cover = sum(weights[w] for w in words) / sum(weights.values())
            if cover < MIN_COVER:
                continue
            if len(words) == 1 and (words <= self.common or len(next(iter(words))) <= 4) and \
                    len(self.names[entity].split()) > 1 and \
                    self.phrases[entity] not in joined_text:
                continue  # one common word of a longer name ("good" of "good hotel") needs the whole name
            rank = (cover, len(words), len(self.names[entity]))
            if best is None or rank > best:
                best, found = rank, entity
        return found

    def about(self, query: str, context: Sequence[str]) -> int | None:
        """The entity ``query`` names, else the one the most recent earlier turn names."""
        for text in (query, *reversed(context)):
            entity = self.find(text)
            if entity is not None:
                return entity
        return None
