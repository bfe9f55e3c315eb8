"""The labelled QA set (``tests/qa/data/conversations.txt``): parse it into events and measure the demo
scorecard's checks on it, per criterion, on the dev and held-aside splits.

    python -m tests.qa.labelled            # JSON: precision / recall per criterion, dev and held
    python -m tests.qa.labelled --misses   # also the conversations each criterion got wrong (dev only)
    python -m tests.qa.labelled --embedding  # the rephrase check also compares sentence vectors (MiniLM)
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.infra.settings import DEMO_PROJECT
from bot.kernel.events import (
    AgentJoined,
    AgentMessage,
    AgentNote,
    BotUttered,
    ConversationEnded,
    CsatGiven,
    Escalated,
    Event,
    GuardrailTriggered,
    KnowledgeConsulted,
    ReturnedToBot,
    SlotSet,
    UserUttered,
)
from bot.qa import CheckContext, Conversation, Scorecard, load_scorecard, score_conversation

DATA = Path(__file__).parent / "data" / "conversations.txt"
START = 1_800_000_000.0
STEP = 5.0
DOC = {"doc_id": "living/faq", "title": "FAQ"}


@dataclass(frozen=True, slots=True)
class Labelled:
    """One labelled conversation."""

    conversation_id: str
    split: str
    fails: frozenset[str]
    events: tuple[Event, ...]


def _events(line: str, at: float) -> list[Event]:
    head, _, text = line.partition(": ")
    text = text.strip()
    word, _, arg = line.partition(" ")
    complete = {"transcript": [{"from": "customer", "text": "..."}], "intents": [], "slots": {},
                "reason": arg, "summary": "Customer needs help."}
    makers: dict[str, Any] = {
        "C": lambda: [UserUttered(text=text, timestamp=at)],
        "C>": lambda: [UserUttered(text=text, for_agent=True, timestamp=at)],
        "B": lambda: [BotUttered(text=text, response="utter_answer", timestamp=at)],
        "B!": lambda: [BotUttered(text=text, response="utter_default", timestamp=at)],
        "B$": lambda: [BotUttered(text=text, response="utter_account", custom={"account_data": True}, timestamp=at)],
        "K": lambda: [KnowledgeConsulted(query="q", documents=(DOC,), answered=True, timestamp=at),
                      BotUttered(text=text, response="knowledge_answer", citations=(DOC,), timestamp=at)],
        "K0": lambda: [KnowledgeConsulted(query="q", documents=(), answered=True, timestamp=at),
                       BotUttered(text=text, response="knowledge_answer", timestamp=at)],
        "D": lambda: [KnowledgeConsulted(query="q", answered=False, timestamp=at),
                      BotUttered(text=text, response="utter_dont_know", timestamp=at)],
        "A": lambda: [AgentMessage(agent="agent", text=text, timestamp=at)],
        "N": lambda: [AgentNote(agent="agent", text=text, timestamp=at)],
    }
    if ": " in line and head in makers:
        return list(makers[head]())
    simple: dict[str, Any] = {
        "V": lambda: [SlotSet(name="authenticated", value=True, timestamp=at)],
        "ID": lambda: [SlotSet(name="customer_id", value=arg, timestamp=at)],
        "G": lambda: [GuardrailTriggered(decision="escalate", category=arg, signals=({"category": arg},),
                                         timestamp=at)],
        "OFFER": lambda: [BotUttered(text="Would you like me to connect you with a person?",
                                     response="utter_offer_human", timestamp=at)],
        "ESC": lambda: [Escalated(reason=arg, context=complete, timestamp=at)],
        "ESC-": lambda: [Escalated(reason=arg, context={"reason": arg, "intents": [], "slots": {}}, timestamp=at)],
        "J": lambda: [AgentJoined(agent=arg, timestamp=at)],
        "RET": lambda: [ReturnedToBot(agent="agent", timestamp=at)],
        "CLOSE": lambda: [ConversationEnded(by="agent", timestamp=at)],
        "SURVEY": lambda: [BotUttered(text="How did we do? Rate us 1-5.", response="utter_csat", timestamp=at)],
        "R": lambda: [UserUttered(text=arg, timestamp=at), CsatGiven(score=int(arg), timestamp=at)],
    }
    if word not in simple:
        raise ValueError(f"unreadable line {line!r}")
    return list(simple[word]())


def load(path: Path = DATA) -> list[Labelled]:
    """Every labelled conversation in ``path``."""
    out: list[Labelled] = []
    block: list[str] = []

    def flush() -> None:
        if not block:
            return
        header = block[0].split()
        cid, split = header[1], header[2].removeprefix("split=")
        fails_line = block[1].removeprefix("fails:").strip()
        fails = frozenset() if fails_line == "-" else frozenset(f.strip() for f in fails_line.split(","))
        at = START
        events: list[Event] = []
        for line in block[2:]:
            if line.startswith("+"):
                at += float(line[1:])
                continue
            at += STEP
            # the agent's name comes from the latest "J name" line
            made = _events(line, at)
            if events and line.startswith(("A:", "N:")):
                agent = next((e.agent for e in reversed(events) if isinstance(e, AgentJoined)), "agent")
                made = [AgentMessage(agent=agent, text=m.text, timestamp=at) if isinstance(m, AgentMessage)
                        else AgentNote(agent=agent, text=m.text, timestamp=at) if isinstance(m, AgentNote) else m
                        for m in made]
            events.extend(made)
        out.append(Labelled(cid, split, fails, tuple(events)))
        block.clear()

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("==="):
            flush()
        block.append(line)
    flush()
    return out


def measure(items: list[Labelled], scorecard: Scorecard, context: CheckContext | None = None) -> dict[str, Any]:
    """Precision and recall of each criterion's failures (a failure is the positive class), per split."""
    context = context or CheckContext()
    result: dict[str, Any] = {}
    for split in ("dev", "held"):
        chosen = [i for i in items if i.split == split]
        counts = {c.id: {"tp": 0, "fp": 0, "fn": 0, "labelled_failures": 0} for c in scorecard.criteria}
        misses: dict[str, list[str]] = {c.id: [] for c in scorecard.criteria}
        for item in chosen:
            score = score_conversation(scorecard, Conversation(item.conversation_id, item.events), context,
                                       last_seq=len(item.events), created_at=START)
            predicted = {c.criterion for c in score.failed}
            for criterion, entry in counts.items():
                truth, guess = criterion in item.fails, criterion in predicted
                entry["labelled_failures"] += truth
                entry["tp"] += truth and guess
                entry["fp"] += guess and not truth
                entry["fn"] += truth and not guess
                if truth != guess:
                    misses[criterion].append(f"{item.conversation_id} ({'missed' if truth else 'false alarm'})")
        per = {}
        for criterion, entry in counts.items():
            tp, fp, fn = entry["tp"], entry["fp"], entry["fn"]
            per[criterion] = {**entry, "precision": round(tp / (tp + fp), 3) if tp + fp else None,
                              "recall": round(tp / (tp + fn), 3) if tp + fn else None}
        tp = sum(e["tp"] for e in counts.values())
        fp = sum(e["fp"] for e in counts.values())
        fn = sum(e["fn"] for e in counts.values())
        result[split] = {"conversations": len(chosen), "criteria": per, "misses": misses,
                         "micro_precision": round(tp / (tp + fp), 3) if tp + fp else None,
                         "micro_recall": round(tp / (tp + fn), 3) if tp + fn else None}
    return result


def main() -> None:
    scorecard = load_scorecard(DEMO_PROJECT)
    assert scorecard is not None
    context = None
    if "--embedding" in sys.argv:
        from bot.infra.embeddings import ServingEncoder, shared_embedder
        from bot.qa.scorer import embedding_similarity

        context = CheckContext(similarity=embedding_similarity(ServingEncoder(shared_embedder())))
    result = measure(load(), scorecard, context)
    if "--misses" not in sys.argv:
        for split in result.values():
            split.pop("misses")
    else:
        result["held"].pop("misses")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
