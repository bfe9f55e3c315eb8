"""Small text utilities shared by chunking, lexical search and answering: sentences, words, slugs."""

from __future__ import annotations

import re

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "approx.", "a.m.", "p.m.", "mr.", "mrs.", "ms.", "dr.", "no.", "vs.",
                  "st.", "inc.", "ltd.", "min.", "max.")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9£$€])")
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_CITATION = re.compile(r"\s*\[(\d+)\](?:\s*\[(\d+)\])*")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")

STOPWORDS = frozenset(
    [
        "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with", "from",
        "as", "is", "are", "was", "were", "be", "been", "being", "do", "does", "did", "i", "me", "my", "we",
        "our", "you", "your", "he", "she", "it", "its", "they", "them", "their", "this", "that", "these",
        "those", "there", "here", "what", "which", "who", "whom", "when", "where", "why", "how", "can", "could",
        "would", "should", "will", "shall", "may", "might", "must", "have", "has", "had", "not", "no", "yes",
        "so", "than", "then", "too", "very", "just", "about", "into", "over", "any", "all", "some", "up", "out",
        "also", "please", "hi", "hello", "thanks", "thank", "whats", "wheres", "hows", "whos", "im", "ive",
        "dont", "doesnt", "u", "ur", "ya"
    ]
)
_CONTRACTION = re.compile(r"(?:n't|['](?:s|re|ll|ve|d|m|t))$")
_IRREGULAR = {"can't": "can", "won't": "will", "shan't": "shall"}


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences (list items and lines count as sentences of their own)."""
    sentences: list[str] = []
    for line in text.splitlines():
        line = line.strip().lstrip("-*• ").strip()
        if not line:
            continue
        start = 0
        for match in _SENTENCE_END.finditer(line):
            before = line[start:match.start() + 1].lower()
            if before.endswith(_ABBREVIATIONS):
                continue
            sentences.append(line[start:match.start() + 1].strip())
            start = match.end()
        tail = line[start:].strip()
        if tail:
            sentences.append(tail)
    return sentences


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lower-cased, lightly stemmed content words (stop words dropped) for lexical matching; a contraction
    counts as its first word ("what's" is "what", a stop word; "don't" is "do")."""
    found = []
    for raw in _WORD.findall(text.lower().replace("’", "'")):
        word = _IRREGULAR.get(raw) or _CONTRACTION.sub("", raw)
        if word and word not in STOPWORDS:
            found.append(_stem(word))
    return found


def numbers(text: str) -> set[str]:
    """The numbers stated in ``text`` ("30", "4.99", "9:00"), thousands separators removed."""
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def strip_citations(text: str) -> str:
    """``text`` without ``[1]``-style markers."""
    return _CITATION.sub("", text).strip()


def cited_numbers(text: str) -> set[int]:
    """The passage numbers cited in ``text`` as ``[n]``."""
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


def slugify(heading: str) -> str:
    """A GitHub-style anchor for ``heading``."""
    slug = re.sub(r"[^\w\s-]", "", heading.lower()).strip()
    return re.sub(r"[\s]+", "-", slug)
