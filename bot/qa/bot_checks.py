"""Checks of the bot's side of a conversation (see :mod:`bot.qa.base` for what a check is)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.handoff.sentiment import score_text
from bot.kernel.events import (
    BotUttered,
    Escalated,
    GuardrailTriggered,
    KnowledgeConsulted,
    UserUttered,
)
from bot.qa.base import NOT_APPLICABLE, CheckContext, Verdict, check, failed, passed
from bot.qa.transcript import Conversation, is_answer, is_fallback, words

#: Words that carry no topic (left out when comparing two questions).
_STOPWORDS = """
    a an the and or but if of to in on at for from by with about as is
    are was were be been being am do does did i me my mine you your we our us it its this that these
    those there here what which who whom how when where why can could would should will shall may might
    must please just so very really again still also any some not no get got have has had want wanted
    need needed like know tell let ok okay hi hello thanks thank yes yeah
"""
STOPWORDS = frozenset(_STOPWORDS.split())
#: The customer says the bot missed their question.
MISSED = re.compile(r"\b(?:that'?s not what i (?:asked|meant)|you didn'?t answer|not (?:what|my) question|"
                    r"i (?:already )?asked|i meant|let me rephrase|in other words|that doesn'?t answer|"
                    r"that'?s not it|not helpful|doesn'?t help)\b", re.IGNORECASE)
#: Words of a bot message offering a person.
OFFER = re.compile(r"\b(?:agent|person|colleague|human|team member|member of our team|someone)\b", re.IGNORECASE)


def stem(word: str) -> str:
    """A crude English stem (plural, -ed, -ing), enough to match "refunds" with "refund"."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def topic_words(text: str) -> set[str]:
    """The stemmed content words of a message."""
    return {stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1}


def lexical_similarity(a: str, b: str) -> float:
    """Dice overlap of the content words of two messages (0 when either has none)."""
    left, right = topic_words(a), topic_words(b)
    if not left or not right:
        return 0.0
    return 2 * len(left & right) / (len(left) + len(right))


@check("verified_before_account_data")
def verified_before_account_data(conversation: Conversation, params: Mapping[str, Any],
                                 context: CheckContext) -> Verdict:
    """The bot showed account data only after the customer verified (``account_data`` bot messages)."""
    verified = conversation.verified_at()
    shown = [seq for seq, e in conversation.of(BotUttered) if e.custom.get("account_data")]
    if not shown:
        return NOT_APPLICABLE
    early = [seq for seq in shown if verified is None or seq < verified]
    return failed("account data before verification", *early) if early else passed("", *shown)


@check("answers_cited")
def answers_cited(conversation: Conversation, params: Mapping[str, Any], context: CheckContext) -> Verdict:
    """Every answer from the knowledge base cites at least one document."""
    answers = [(seq, e) for seq, e in conversation.of(BotUttered) if e.response == "knowledge_answer"]
    consulted = [(seq, e) for seq, e in conversation.of(KnowledgeConsulted) if e.answered]
    if not answers and not consulted:
        return NOT_APPLICABLE
    bad = [seq for seq, e in answers if not e.citations]
    bad += [seq for seq, e in consulted if not e.documents]
    return failed("answer without a cited document", *sorted(bad)) if bad else passed()


@check("no_rephrase_after_answer", kind="model", threshold=0.5, embedding_threshold=0.72, min_words=3)
def no_rephrase_after_answer(conversation: Conversation, params: Mapping[str, Any],
                             context: CheckContext) -> Verdict:
    """The customer did not ask the same question again right after the bot's answer.

    For each customer message the bot answered (a real answer, not a fallback: those count under
    ``max_fallbacks``; not a question of its own, which the next message answers), the customer's next
    message fails the answer when it says the bot missed the question ("that's not what I asked") or asks
    the same thing again: content-word overlap at least ``threshold``, or, with the serving encoder, cosine
    similarity at least ``embedding_threshold``. Evidence: the answer and the rephrase.
    """
    turns = [(seq, e) for seq, e in conversation.numbered() if isinstance(e, UserUttered | BotUttered | Escalated)]
    answered = 0
    for index, (_seq, event) in enumerate(turns):
        if not isinstance(event, UserUttered) or event.for_agent:
            continue
        replies: list[tuple[int, BotUttered]] = []
        following: tuple[int, UserUttered] | None = None
        for later_seq, later in turns[index + 1:]:
            if isinstance(later, Escalated):
                break
            if isinstance(later, BotUttered):
                replies.append((later_seq, later))
            elif isinstance(later, UserUttered):
                following = (later_seq, later)
                break
        answers = [(s, r) for s, r in replies if is_answer(r)]
        if not answers or any(is_fallback(r) for _, r in replies):
            continue
        if answers[-1][1].text.rstrip().endswith("?"):
            continue  # the bot asked something: the next message answers it, it does not ask again
        answered += 1
        if following is None or following[1].for_agent:
            continue
        next_seq, next_text = following[0], following[1].text
        if MISSED.search(next_text):
            return failed("the customer said the answer missed their question", answers[-1][0], next_seq)
        if min(len(words(event.text)), len(words(next_text))) < int(params["min_words"]):
            continue
        if lexical_similarity(event.text, next_text) >= float(params["threshold"]):
            return failed("the customer asked the same question again", answers[-1][0], next_seq)
        if context.similarity is not None and \
                context.similarity(event.text, next_text) >= float(params["embedding_threshold"]):
            return failed("the customer asked the same question again (embedding)", answers[-1][0], next_seq)
    return passed() if answered else NOT_APPLICABLE


@check("max_fallbacks", max=1)
def max_fallbacks(conversation: Conversation, params: Mapping[str, Any], context: CheckContext) -> Verdict:
    """No more than ``max`` "sorry, I didn't get that" / "I don't know" answers in the conversation."""
    fallbacks = [seq for seq, e in conversation.of(BotUttered) if is_fallback(e)]
    if not conversation.customer():
        return NOT_APPLICABLE
    allowed = int(params["max"])
    if len(fallbacks) > allowed:
        return failed(f"{len(fallbacks)} fallbacks (at most {allowed})", *fallbacks[allowed:])
    return passed(f"{len(fallbacks)} fallback(s)", *fallbacks)


def _asked_for_person(conversation: Conversation) -> list[int]:
    """Seqs of customer messages asking for a person (the human-request guard fired, or intent ``human``)."""
    asked = []
    guarded = {seq for seq, e in conversation.of(GuardrailTriggered)
               if e.category == "requested" or any(s.get("category") == "requested" for s in e.signals)}
    for seq, event in conversation.customer():
        if event.for_agent:
            continue
        if event.intent == "human" or event.text.strip().lower() == "/human" or (seq + 1) in guarded:
            asked.append(seq)
    return asked


@check("offered_person_when_asked")
def offered_person_when_asked(conversation: Conversation, params: Mapping[str, Any],
                              context: CheckContext) -> Verdict:
    """When the customer asked for a person, the bot handed off or offered one before their next message."""
    asked = _asked_for_person(conversation)
    if not asked:
        return NOT_APPLICABLE
    for seq in asked:
        offered = False
        for later_seq, later in conversation.numbered():
            if later_seq <= seq:
                continue
            if isinstance(later, UserUttered):
                break
            if isinstance(later, Escalated) or (isinstance(later, BotUttered) and (
                    later.response == "utter_offer_human" or OFFER.search(later.text)
                    or any("human" in str(b.get("payload", "")) for b in later.buttons))):
                offered = True
                break
        if not offered:
            return failed("asked for a person and was not offered one", seq)
    return passed("", *asked)


#: Guardrail categories that are not emotional or regulated cases (the rest must reach a person).
ROUTINE_CATEGORIES = frozenset({"requested", "low_confidence", "repeated_fallback", "multiple_requests",
                                "long_message", "repeated_question", "scope", "pii", "prompt_injection"})


@check("escalated_sensitive", kind="model", sentiment_below=-0.6)
def escalated_sensitive(conversation: Conversation, params: Mapping[str, Any], context: CheckContext) -> Verdict:
    """Emotional and regulated cases reached a person: a guardrail flagged them, or the customer's message
    scores at most ``sentiment_below`` on the handoff sentiment lexicon; then the bot handed off or offered a
    person in that same turn (before the customer's next message)."""
    cases: list[int] = []
    for seq, guard in conversation.of(GuardrailTriggered):
        if guard.category not in ROUTINE_CATEGORIES and guard.decision != "block":
            cases.append(seq - 1 if isinstance(conversation.events[seq - 2], UserUttered) else seq)
    threshold = float(params["sentiment_below"])
    for seq, event in conversation.customer():
        if not event.for_agent and score_text(event.text) <= threshold and \
                not any(isinstance(e, Escalated) for e in conversation.events[:seq - 1]):
            cases.append(seq)
    if not cases:
        return NOT_APPLICABLE
    for seq in sorted(set(cases)):
        reached = False
        for later_seq, later in conversation.numbered():
            if later_seq <= seq:
                continue
            if isinstance(later, UserUttered) and not isinstance(conversation.events[seq - 1], GuardrailTriggered):
                break  # the turn that should have reached a person is over
            if isinstance(later, Escalated) or (isinstance(later, BotUttered) and (
                    later.response == "utter_offer_human" or later.response == "utter_handoff")):
                reached = True
                break
        if not reached:
            return failed("an emotional or regulated case was not offered a person", seq)
    return passed("", *sorted(set(cases)))


CONTEXT_KEYS = ("transcript", "intents", "reason", "summary", "slots")
#: Keys of the context that must also hold something (a handoff on the first message has no intents yet).
NON_EMPTY = ("transcript", "reason", "summary")


@check("handoff_context_complete", keys=list(CONTEXT_KEYS), non_empty=list(NON_EMPTY))
def handoff_context_complete(conversation: Conversation, params: Mapping[str, Any],
                             context: CheckContext) -> Verdict:
    """Every handoff carried a context with transcript, intents, slots, reason and summary."""
    escalations = conversation.of(Escalated)
    if not escalations:
        return NOT_APPLICABLE
    for seq, event in escalations:
        package = event.context or {}
        missing = [k for k in params["keys"] if k not in package or (k in params["non_empty"] and not package[k])]
        if missing:
            return failed(f"handoff context lacks {', '.join(missing)}", seq)
    return passed("", *(seq for seq, _ in escalations))
