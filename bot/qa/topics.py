"""What to automate next: the messages the bot handed off or could not answer, clustered into topics.

Items: every customer message the bot answered with a fallback ("sorry, I didn't get that", "I don't know")
and, for each handed-off conversation, the customer message that stated the problem (the last one before
the handoff with at least two content words, so "agent please" does not stand for the topic).

Clustering: the serving encoder's sentence vectors (MiniLM, L2-normalized) and agglomerative clustering with
average linkage on cosine distance and a distance threshold (scikit-learn). Why this one: the number of topics
is unknown and changes week to week, so a method that needs *k* is out; a distance threshold says directly
"messages this similar are one topic" and keeps its meaning as the data grows; average linkage does not chain
unrelated messages together the way single linkage does; at the few thousand items a week yields, the
O(n²) distance matrix is small (items beyond :data:`MAX_ITEMS` are sampled, newest first). HDBSCAN would also
do but marks many short messages as noise. Each topic gets a count, examples (the members closest to its
centre), its daily trend, the share of its handed-off conversations an agent resolved (closed or returned to
the bot without the customer coming back in the conversation) and a suggestion: a knowledge document when the
bot mostly did not know, else a flow for the dominant intent.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot.infra.embeddings import ServingEncoder
from bot.kernel.events import event_from_dict
from bot.kernel.masking import mask_text
from bot.qa.bot_checks import topic_words
from bot.qa.transcript import FALLBACK_RESPONSES, Conversation
from bot.storage import Database

DISTANCE = 0.4
"""Cosine distance under which two messages (average linkage) are one topic."""
MAX_ITEMS = 4000
"""Items clustered at most (newest first)."""
MIN_TOPIC = 2
"""A topic needs at least this many messages (the rest are counted as ``other``)."""
SMALL_TALK = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "help", "human",
                        "nlu_fallback", "out_of_scope", "inform"})
TYPES = ("user", "bot", "escalated", "agent_joined", "closed", "returned_to_bot", "knowledge")


@dataclass(frozen=True, slots=True)
class Item:
    """One message to cluster."""

    conversation_id: str
    text: str
    kind: str
    """``unanswered`` (a fallback followed) or ``handed_off``."""
    intent: str | None
    at: float
    resolved: bool | None
    """For handed-off items: whether an agent resolved the conversation."""


@dataclass(slots=True)
class Topics:
    """The clustered topics of a window."""

    items: int = 0
    other: int = 0
    topics: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"items": self.items, "other": self.other, "distance_threshold": DISTANCE, "topics": self.topics}


def items_of(conversation: Conversation) -> list[Item]:
    """The handed-off and unanswered messages of one conversation."""
    from bot.kernel.events import AgentJoined, BotUttered, ConversationEnded, Escalated, ReturnedToBot, UserUttered

    out: list[Item] = []
    events = conversation.events
    last_user: UserUttered | None = None
    stated: UserUttered | None = None
    for event in events:
        if isinstance(event, UserUttered) and not event.for_agent:
            last_user = event
            if len(topic_words(event.text)) >= 2 and (event.intent or "") != "human":
                stated = event
        elif isinstance(event, BotUttered) and event.response in FALLBACK_RESPONSES and last_user is not None:
            out.append(Item(conversation.conversation_id, last_user.text, "unanswered", last_user.intent,
                            last_user.timestamp, None))
            last_user = None
    escalated = next((e for e in events if isinstance(e, Escalated)), None)
    if escalated is not None:
        joined = any(isinstance(e, AgentJoined) for e in events)
        ended = [i for i, e in enumerate(events) if isinstance(e, ConversationEnded | ReturnedToBot)]
        came_back = bool(ended) and any(isinstance(e, Escalated) for e in events[ended[-1]:])
        resolved = joined and bool(ended) and not came_back
        opening = stated or next((e for e in events if isinstance(e, UserUttered)), None)
        if opening is not None and opening.timestamp <= escalated.timestamp:
            out.append(Item(conversation.conversation_id, opening.text, "handed_off", opening.intent,
                            opening.timestamp, resolved))
    return out


async def load_items(db: Database, since: float, until: float) -> list[Item]:
    """Items of every conversation created in ``[since, until)``."""
    types = ", ".join(f"'{t}'" for t in TYPES)
    rows = await db.fetch(
        "SELECT e.conversation_id AS cid, e.type AS type, e.timestamp AS ts, e.data AS data FROM events e "  # noqa: S608
        "JOIN conversations c ON c.conversation_id = e.conversation_id "
        f"WHERE c.created_at >= ? AND c.created_at < ? AND e.type IN ({types}) ORDER BY e.conversation_id, e.seq",
        since, until)
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        try:
            event = event_from_dict({"type": row["type"], "timestamp": row["ts"], **json.loads(row["data"])})
        except (ValueError, KeyError, TypeError):
            continue
        grouped.setdefault(row["cid"], []).append(event)
    items: list[Item] = []
    for cid, events in grouped.items():
        items += items_of(Conversation(cid, tuple(events)))
    return items


def cluster(vectors: np.ndarray, threshold: float = DISTANCE) -> np.ndarray:
    """Cluster labels of ``vectors`` (agglomerative, average linkage, cosine distance below ``threshold``)."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold, metric="cosine",
                                    linkage="average")
    return np.asarray(model.fit_predict(vectors))


def describe(members: list[Item], vectors: np.ndarray, since: float, until: float) -> dict[str, Any]:
    """One topic: label, count, examples closest to the centre, daily trend, resolution, suggestion."""
    centre = vectors.mean(axis=0)
    order = np.argsort(-(vectors @ centre))
    words = Counter(w for m in members for w in topic_words(m.text))
    label = " ".join(w for w, _ in words.most_common(3)) or members[0].text[:40]
    handed = [m for m in members if m.kind == "handed_off"]
    resolved = [m for m in handed if m.resolved]
    intents = Counter(m.intent for m in members if m.intent and m.intent not in SMALL_TALK)
    unanswered = sum(m.kind == "unanswered" for m in members)
    days = max(1, round((until - since) / 86400))
    trend = [0] * min(days, 366)
    for m in members:
        index = min(len(trend) - 1, max(0, int((m.at - since) // 86400)))
        trend[index] += 1
    if unanswered * 2 >= len(members):
        suggestion = f"knowledge document: {label}"
    elif intents:
        suggestion = f"flow for intent '{intents.most_common(1)[0][0]}'"
    else:
        suggestion = f"flow or knowledge document: {label}"
    examples = list(dict.fromkeys(mask_text(members[i].text) for i in order[:10]))[:3]
    return {"label": label, "count": len(members), "conversations": len({m.conversation_id for m in members}),
            "unanswered": unanswered, "handed_off": len(handed),
            "resolved_by_agents": round(len(resolved) / len(handed), 4) if handed else 0.0,
            "examples": examples, "intents": dict(intents.most_common(3)), "trend": trend, "suggestion": suggestion}


async def automate_next(db: Database, encoder: ServingEncoder, *, since: float, until: float | None = None,
                        threshold: float = DISTANCE) -> Topics:
    """The topics of the window's handed-off and unanswered messages, largest first."""
    until = time.time() if until is None else until
    items = sorted(await load_items(db, since, until), key=lambda i: -i.at)[:MAX_ITEMS]
    result = Topics(items=len(items))
    if not items:
        return result
    vectors = await encoder.aencode([i.text for i in items])
    labels = await asyncio.to_thread(cluster, vectors, threshold)
    for label in sorted(set(labels.tolist())):
        index = [i for i, value in enumerate(labels.tolist()) if value == label]
        if len(index) < MIN_TOPIC:
            result.other += len(index)
            continue
        result.topics.append(describe([items[i] for i in index], vectors[index], since, until))
    result.topics.sort(key=lambda t: (-t["count"], t["label"]))
    return result
