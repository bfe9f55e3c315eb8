"""Answer evaluation as data: QA cases in, answer accuracy and refusal precision/recall out.

A QA file is YAML with a ``cases`` list (or JSON lines), one case per question::

    - {q: "how much is standard shipping?", fact: "$6.95", doc: living/shipping}
    - {q: "and how much is that?", context: ["do you offer express shipping?"], fact: "$19.95"}
    - {q: "do you offer a student discount?", answerable: false}

``fact`` is a short string (or a list: any one of them) that must appear in the answer text, compared
case-insensitively with dashes and spaces normalized and the ``(Source: ...)`` line removed. An answerable
case is *right* when the bot answers and the fact appears, *wrong* when it answers without the fact, *refused*
when it says it does not know. Refusal precision is the share of refusals that were unanswerable questions;
refusal recall the share of unanswerable questions refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from bot.kernel.errors import ConfigError, ConfigProblem
from bot.knowledge.types import KnowledgeAnswer

_SOURCE_LINE = re.compile(r"\n*\(Source: [^\n]*\)\s*$")
_DASHES = str.maketrans({"–": "-", "—": "-", "‑": "-", "’": "'"})


class Answerer(Protocol):
    async def answer(self, question: str, *, context: Sequence[str] = ()) -> KnowledgeAnswer: ...


@dataclass(frozen=True, slots=True)
class QACase:
    """One question; ``facts`` is empty for a question the documents do not answer."""

    question: str
    facts: tuple[str, ...]
    doc: str | None = None
    context: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.facts)


@dataclass(slots=True)
class QAReport:
    """Scores of one run over a QA set."""

    answerable: int
    unanswerable: int
    answer_accuracy: float
    """Answerable questions whose answer contains the expected fact."""
    wrong_answer_rate: float
    """Answerable questions answered without the expected fact."""
    false_refusal_rate: float
    """Answerable questions refused."""
    refusal_precision: float
    refusal_recall: float
    citation_accuracy: float
    """Answered answerable questions (with a ``doc``) whose first citation is that document."""
    failures: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self, *, failures: int = 40) -> dict[str, Any]:
        data = asdict(self)
        data["failures"] = self.failures[:failures]
        return data

    def summary(self) -> str:
        return (f"answerable {self.answerable}  accuracy {self.answer_accuracy:.3f}  wrong "
                f"{self.wrong_answer_rate:.3f}  refused {self.false_refusal_rate:.3f} | unanswerable "
                f"{self.unanswerable}  refusal precision {self.refusal_precision:.3f}  recall "
                f"{self.refusal_recall:.3f}")


def normalize(text: str) -> str:
    """Lower case, one kind of dash and apostrophe, single spaces."""
    return " ".join(text.translate(_DASHES).lower().split())


def answer_body(text: str) -> str:
    """The answer text without its trailing ``(Source: ...)`` line."""
    return _SOURCE_LINE.sub("", text)


def contains_fact(text: str, facts: Sequence[str]) -> bool:
    """Does ``text`` (its source line removed) state one of ``facts``?"""
    body = normalize(answer_body(text))
    return any(normalize(fact) in body for fact in facts)


def _case(row: Any) -> QACase:
    if not isinstance(row, dict) or not isinstance(row.get("q"), str):
        raise TypeError("a case needs a string 'q'")
    fact = row.get("fact")
    facts = (fact,) if isinstance(fact, str) else tuple(str(f) for f in fact or ())
    if row.get("answerable", True) is False:
        facts = ()
    elif not facts:
        raise TypeError("an answerable case needs 'fact' (or 'answerable: false')")
    context = tuple(str(t) for t in row.get("context", ()) or ())
    doc = row.get("doc")
    return QACase(row["q"], facts, str(doc) if doc else None, context)


def read_qa(path: Path) -> list[QACase]:
    """QA cases from a YAML (``cases:`` list) or JSON-lines file; a bad case is a ConfigError naming it."""
    text = path.read_text(encoding="utf-8")
    rows: list[tuple[int | None, Any]]
    if path.suffix == ".jsonl":
        rows = [(n, json.loads(line)) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    else:
        try:
            loaded = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError([ConfigProblem(path, None, "cases", f"not YAML: {exc}")]) from exc
        items = loaded.get("cases") if isinstance(loaded, dict) else loaded
        rows = [(None, row) for row in items or []]
    cases: list[QACase] = []
    problems: list[ConfigProblem] = []
    for index, (line, row) in enumerate(rows):
        try:
            cases.append(_case(row))
        except TypeError as exc:
            problems.append(ConfigProblem(path, line, f"cases[{index}]", str(exc)))
    if problems:
        raise ConfigError(problems)
    return cases


async def evaluate_answers(answerer: Answerer, cases: Sequence[QACase]) -> QAReport:
    """Ask every case and score the answers (see the module docstring)."""
    right = wrong = refused = cited = cited_of = 0
    true_refusals = false_answers = 0
    failures: list[dict[str, Any]] = []
    for case in cases:
        answer = await answerer.answer(case.question, context=case.context)
        first_doc = answer.citations[0].doc_id if answer.citations else None
        if not case.answerable:
            if answer.answered:
                false_answers += 1
                failures.append({"q": case.question, "expected": None, "got": answer_body(answer.text)[:200],
                                 "doc": first_doc})
            else:
                true_refusals += 1
            continue
        if not answer.answered:
            refused += 1
            failures.append({"q": case.question, "expected": list(case.facts), "got": None})
            continue
        if case.doc is not None:
            cited_of += 1
            cited += first_doc == case.doc
        if contains_fact(answer.text, case.facts):
            right += 1
        else:
            wrong += 1
            failures.append({"q": case.question, "expected": list(case.facts),
                             "got": answer_body(answer.text)[:200], "doc": first_doc, "want_doc": case.doc})
    answerable = sum(c.answerable for c in cases)
    unanswerable = len(cases) - answerable
    refusals = refused + true_refusals
    return QAReport(
        answerable, unanswerable, _share(right, answerable), _share(wrong, answerable), _share(refused, answerable),
        _share(true_refusals, refusals), _share(true_refusals, unanswerable), _share(cited, cited_of), failures)


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
