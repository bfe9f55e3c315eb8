"""The QA report over a window: score distributions, failures per criterion, agent facts and calibration.

Definitions (a conversation belongs to a window when it was *created* in it, like the KPIs):

- **score**: a conversation's weighted share of applicable criteria passed; **mean score** per segment
  (channel, kind — bot / handed_off / agent —, flow, agent, ISO week) and a histogram in tenths.
- **pass rate** of a criterion: passed over applicable (not-applicable verdicts are left out).
- **calibration**: ops users mark a score as wrong (or confirm it); the latest review of a score counts.
  **Agreement** of a criterion is the share of its reviewed scores where the human verdict equals the automatic
  one; the report lists it per criterion with the number of reviews behind it.
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.kernel.events import (
    AgentJoined,
    AgentMessage,
    AgentNote,
    BotUttered,
    ConversationEnded,
    CsatGiven,
    Escalated,
    ReturnedToBot,
    UserUttered,
)
from bot.kernel.masking import mask_text
from bot.qa.scorecard import Scorecard
from bot.qa.store import ConversationScore, QAStore
from bot.qa.transcript import Conversation

MAX_FAILURES = 100
"""Failing conversations listed per criterion (the newest)."""


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _week(ts: float) -> str:
    """The ISO week of ``ts`` (UTC), like ``2026-W49``."""
    return time.strftime("%G-W%V", time.gmtime(ts))


@dataclass(slots=True)
class Segment:
    """Scores of one group of conversations."""

    conversations: int = 0
    scores: list[float] = field(default_factory=list)
    failed: int = 0
    """Conversations with at least one failed criterion."""

    def add(self, score: ConversationScore) -> None:
        self.conversations += 1
        if score.score is not None:
            self.scores.append(score.score)
        self.failed += bool(score.failed)

    def to_dict(self) -> dict[str, Any]:
        return {"conversations": self.conversations, "mean_score": _mean(self.scores), "with_failures": self.failed,
                "histogram": histogram(self.scores)}


def histogram(scores: Iterable[float]) -> list[int]:
    """Counts of scores in [0, 0.1), [0.1, 0.2) ... [0.9, 1.0]."""
    bins = [0] * 10
    for score in scores:
        bins[min(9, int(score * 10))] += 1
    return bins


def build_report(scorecard: Scorecard, scores: list[ConversationScore], reviews: list[dict[str, Any]], *,
                 since: float, until: float, window: str) -> dict[str, Any]:
    """The report (JSON-able) over ``scores`` (already limited to the window) and every review."""
    overall = Segment()
    segments: dict[str, dict[str, Segment]] = {k: defaultdict(Segment) for k in ("channel", "kind", "flow", "agent",
                                                                                  "week")}
    per: dict[str, dict[str, Any]] = {c.id: {"criterion": c.id, "check": c.check, "side": c.side,
                                             "description": c.description, "weight": c.weight, "applicable": 0,
                                             "passed": 0, "failed": 0, "failures": []} for c in scorecard.criteria}
    agents: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"first_response": [], "handling": []})
    in_window = {s.conversation_id for s in scores}
    for score in scores:
        overall.add(score)
        segments["channel"][score.channel].add(score)
        segments["kind"][score.kind].add(score)
        segments["week"][_week(score.created_at)].add(score)
        for flow in score.flows:
            segments["flow"][flow].add(score)
        for agent in score.agents:
            segments["agent"][agent].add(score)
        for session in score.facts.get("sessions", []):
            if session.get("first_response_seconds") is not None:
                agents[session["agent"]]["first_response"].append(float(session["first_response_seconds"]))
            agents[session["agent"]]["handling"].append(float(session.get("handling_seconds") or 0))
        for criterion in score.criteria:
            entry = per.get(criterion.criterion)
            if entry is None or criterion.passed is None:
                continue
            entry["applicable"] += 1
            if criterion.passed:
                entry["passed"] += 1
            else:
                entry["failed"] += 1
                if len(entry["failures"]) < MAX_FAILURES:
                    entry["failures"].append({"conversation_id": score.conversation_id, "evidence": list(
                        criterion.evidence), "note": criterion.note, "channel": score.channel,
                        "created_at": score.created_at})
    for entry in per.values():
        entry["pass_rate"] = round(entry["passed"] / entry["applicable"], 4) if entry["applicable"] else None
    return {
        "scorecard": {"name": scorecard.name, "version": scorecard.version},
        "window": window, "since": since, "until": until,
        "overall": overall.to_dict(),
        "criteria": list(per.values()),
        "segments": {kind: {name: seg.to_dict() for name, seg in sorted(groups.items())}
                     for kind, groups in segments.items()},
        "agents": {name: {"sessions": len(facts["handling"]), "first_response_seconds_avg": _mean(
            facts["first_response"]), "handling_seconds_avg": _mean(facts["handling"])}
            for name, facts in sorted(agents.items())},
        "calibration": calibration(reviews, in_window),
    }


def calibration(reviews: list[dict[str, Any]], conversations: set[str] | None = None) -> dict[str, Any]:
    """Agreement between automatic and human verdicts per criterion (the latest review of each score counts)."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for review in reviews:
        if conversations is None or review["conversation_id"] in conversations:
            latest[(review["conversation_id"], review["criterion"])] = review
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"reviewed": 0, "agreed": 0, "marked_wrong": 0})
    for (_cid, criterion), review in latest.items():
        entry = per[criterion]
        entry["reviewed"] += 1
        if review["human"] == review["automatic"]:
            entry["agreed"] += 1
        else:
            entry["marked_wrong"] += 1
    out = {}
    for criterion, entry in sorted(per.items()):
        out[criterion] = {**entry, "agreement": round(entry["agreed"] / entry["reviewed"], 4)}
    return {"criteria": out, "reviewed": sum(e["reviewed"] for e in per.values())}


async def report(store: QAStore, scorecard: Scorecard, *, since: float, until: float,
                 window: str) -> dict[str, Any]:
    """Read the window's scores and every review under the scorecard's version and build the report."""
    scores = await store.runs(scorecard.version, since=since, until=until)
    reviews = await store.reviews(scorecard.version)
    return build_report(scorecard, scores, reviews, since=since, until=until, window=window)


def write_csv(result: dict[str, Any], path: Path) -> int:
    """Long format (section, segment, name, metric, value); returns the data rows written."""
    rows: list[list[Any]] = []
    for metric, value in result["overall"].items():
        if metric != "histogram":
            rows.append(["overall", "all", "all", metric, value])
    for entry in result["criteria"]:
        for metric in ("applicable", "passed", "failed", "pass_rate"):
            rows.append(["criterion", entry["side"], entry["criterion"], metric, entry[metric]])
    for kind, groups in result["segments"].items():
        for name, seg in groups.items():
            rows += [["segment", kind, name, "conversations", seg["conversations"]],
                     ["segment", kind, name, "mean_score", seg["mean_score"]]]
    for name, facts in result["agents"].items():
        rows += [["agent", "agent", name, metric, value] for metric, value in facts.items()]
    for criterion, entry in result["calibration"]["criteria"].items():
        rows += [["calibration", "criterion", criterion, metric, value] for metric, value in entry.items()]
    for topic in result.get("topics", {}).get("topics", []):
        rows += [["topic", "topic", topic["label"], "count", topic["count"]],
                 ["topic", "topic", topic["label"], "resolved_by_agents", topic["resolved_by_agents"]]]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["window", "section", "segment", "name", "metric", "value"])
        for row in rows:
            writer.writerow([result["window"], *["" if v is None else v for v in row]])
    return len(rows)


def transcript_lines(conversation: Conversation) -> list[dict[str, Any]]:
    """The conversation as ops reviewers see it: every line with its ``seq`` (evidence numbers), texts masked."""
    lines: list[dict[str, Any]] = []
    for seq, event in conversation.numbered():
        line: dict[str, Any] | None = None
        if isinstance(event, UserUttered):
            line = {"from": "customer", "text": mask_text(event.text)}
        elif isinstance(event, BotUttered):
            line = {"from": "bot", "text": mask_text(event.text), "response": event.response}
        elif isinstance(event, AgentMessage):
            line = {"from": "agent", "agent": event.agent, "text": mask_text(event.text)}
        elif isinstance(event, AgentNote):
            line = {"from": "note", "agent": event.agent, "text": mask_text(event.text)}
        elif isinstance(event, Escalated):
            line = {"from": "system", "text": f"handed off ({event.reason}) to {event.team or 'the queue'}"}
        elif isinstance(event, AgentJoined):
            line = {"from": "system", "text": f"{event.agent} joined"}
        elif isinstance(event, ReturnedToBot):
            line = {"from": "system", "text": "returned to the bot"}
        elif isinstance(event, ConversationEnded):
            line = {"from": "system", "text": f"closed by {event.by}"}
        elif isinstance(event, CsatGiven):
            line = {"from": "system", "text": f"CSAT {event.score}/5"}
        if line is not None:
            lines.append({"seq": seq, "at": event.timestamp, **line})
    return lines
