"""The project's speech model for pocketsphinx: a domain language model, its dictionary, closed grammars.

Built offline from the project itself — NLU examples, responses, button titles, slot values, the
human-request phrases — so the recognizer expects what callers of *this* bot say. The trigram model is
written with :class:`pocketsphinx.lm.ArpaBoLM`; the dictionary keeps only the model's words from the
en-US dictionary shipped in the wheel (a small dictionary also makes a decoder start in ~50 ms instead
of seconds). Both are cached on disk by the project's fingerprint.

When the bot asked for a closed form (digits, a code like A1001, yes/no), :func:`grammar` gives a JSGF
grammar for that one answer; the escape words ("agent", "cancel"...) are always allowed. Spoken choices
stay on the language model (callers answer them in sentences) and are matched on the transcript.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from bot.infra.cache import cache_dir
from bot.infra.logs import get_logger
from bot.project import Project

log = get_logger(__name__)

DIGIT_WORDS = ("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LETTERS = tuple("abcdefghijklmnopqrstuvwxyz")
YES_WORDS = ("yes", "yeah", "yep", "correct", "right", "sure", "that's right")
NO_WORDS = ("no", "nope", "wrong", "not")
#: Always recognizable, whatever grammar is active.
ESCAPE_WORDS = ("agent", "operator", "representative", "human", "person", "cancel", "stop", "repeat", "help")
#: Words that cut the bot short even in a short utterance over it.
INTERRUPT_WORDS = frozenset(ESCAPE_WORDS) | {"no", "wait", "hold"}
#: Sounds a recognizer needs to place around a short word ("uh agent", "okay uh").
FILLER_SOUNDS = ("uh", "um", "huh", "oh")
_DIGIT_TEXT = dict(enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")))
#: How many times a caller-side sentence counts in the corpus against a bot-side one.
CALLER_WEIGHT = 3
#: Bump when the files' layout or the dictionary's extra words change (invalidates cached models).
FORMAT = "careline-voice-lm-5"
_WORD = re.compile(r"[a-z']+")


class Expect(StrEnum):
    """The kind of answer the bot is waiting for."""

    OPEN = "open"
    DIGITS = "digits"
    CODE = "code"
    YES_NO = "yes_no"
    CHOICE = "choice"


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the caller is expected to say next; ``choices`` are the spoken options for ``CHOICE``."""

    kind: Expect = Expect.OPEN
    choices: tuple[str, ...] = ()
    digits: int | None = None
    """Exactly this many digits (a PIN, a code's number part); ``None``: any number."""


def spell_digits(text: str) -> str:
    """``"A1001"`` → ``"A one zero zero one"``: digits as words, so they reach the language model."""
    return re.sub(r"\d", lambda m: f" {_DIGIT_TEXT[int(m.group(0))]} ", text)


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` (digits spelled out, punctuation and ``{slot}`` placeholders dropped)."""
    text = re.sub(r"\{[^}]*\}", " ", text)
    return _WORD.findall(spell_digits(text).lower().replace("’", "'"))


def domain_sentences(project: Project, extra: Iterable[str] = ()) -> list[str]:
    """Sentences the caller or the bot may say in this project (the language model's corpus).

    What callers say (NLU examples, human-request phrases, ``extra``) counts :data:`CALLER_WEIGHT` times;
    the bot's own responses, button titles and slot values once (callers echo their words).
    """
    said_by_callers: list[str] = [e.text for e in project.nlu.examples]
    said_by_callers.extend(project.guardrails.human_request.phrases)
    said_by_callers.extend(extra)
    texts: list[str] = []
    for variants in project.domain.responses.values():
        for variant in variants:
            texts.extend(re.split(r"(?<=[.!?])\s+", variant.text))
            texts.extend(b.title for b in variant.buttons)
    for slot in project.domain.slots.values():
        texts.extend(slot.values or ())
    for values in project.nlu.lookups.values():
        texts.extend(values)
    texts.extend(project.nlu.synonyms)
    texts.extend(("one two three four five six seven eight nine zero", "oh", "yes", "no", "yeah", "nope",
                  "that's right", "mhm", "okay", "uh huh"))
    texts.extend(said_by_callers * CALLER_WEIGHT)
    out = []
    for text in texts:
        sentence = " ".join(words(text))
        if sentence:
            out.append(sentence)
    return out


@dataclass(frozen=True, slots=True)
class SpeechModel:
    """Paths of a built domain model: ``arpa`` (trigram LM) and ``dictionary`` (its words' pronunciations)."""

    arpa: Path
    dictionary: Path
    vocabulary: frozenset[str]
    cmn_init: str | None = None
    """Where live cepstral mean normalization starts on a call (:mod:`connectors.voice.channel`)."""

    @classmethod
    def build(cls, project: Project, extra: Iterable[str] = (), *, folder: Path | None = None) -> SpeechModel:
        """Build (or reuse from the cache) the model for ``project``."""
        import hashlib

        sentences = domain_sentences(project, extra)
        key = hashlib.sha256("\n".join([FORMAT, *sentences]).encode()).hexdigest()[:16]
        folder = folder or cache_dir(project.path, "voice")
        arpa, dictionary = folder / f"domain-{key}.arpa", folder / f"domain-{key}.dict"
        cmn = folder / f"domain-{key}.cmn"
        if arpa.exists() and dictionary.exists() and cmn.exists():
            vocabulary = frozenset(line.split(" ", 1)[0].split("(")[0] for line in dictionary.read_text().splitlines())
            return cls(arpa, dictionary, vocabulary, cmn.read_text().strip() or None)
        pronunciations = _pronunciations({w for s in sentences for w in s.split()} | INTERRUPT_WORDS
                                         | set(FILLER_SOUNDS)
                                         | set(DIGIT_WORDS) | set(LETTERS)
                                         | {w for p in YES_WORDS + NO_WORDS for w in p.split()})
        known = frozenset(w.split("(")[0] for w in pronunciations)
        kept = [" ".join(w for w in s.split() if w in known) for s in sentences]
        kept = [s for s in kept if s]
        unknown = sorted({w for s in sentences for w in s.split()} - known)
        if unknown:
            log.info("voice_lm_words_without_pronunciation", count=len(unknown), examples=unknown[:10])
        _write_arpa(kept, arpa)
        dictionary.write_text("".join(f"{word} {phones}\n" for word, phones in sorted(pronunciations.items())))
        from connectors.voice.channel import measure_line_cmn

        cmn_init = measure_line_cmn(str(arpa), str(dictionary))
        cmn.write_text(cmn_init or "")
        log.info("voice_lm_built", sentences=len(kept), words=len(known), path=str(arpa))
        return cls(arpa, dictionary, known, cmn_init)


def _write_arpa(sentences: list[str], path: Path) -> None:
    from pocketsphinx.lm import ArpaBoLM

    model = ArpaBoLM(text="\n".join(sentences) + "\n", add_start=True, case="lower", discount_mass=0.5)
    with contextlib.redirect_stdout(io.StringIO()):  # ArpaBoLM prints a corpus summary
        model.compute()
        tmp = path.with_suffix(".tmp")
        model.write_file(str(tmp))
    tmp.replace(path)


def _pronunciations(vocabulary: set[str]) -> dict[str, str]:
    """Entries (``word`` and ``word(2)`` variants) of the shipped en-US dictionary for ``vocabulary``."""
    from pocketsphinx import get_model_path

    out: dict[str, str] = {}
    with open(Path(get_model_path()) / "en-us" / "cmudict-en-us.dict", encoding="utf-8") as handle:
        for line in handle:
            entry, _, phones = line.rstrip("\n").partition(" ")
            if entry.split("(")[0] in vocabulary:
                out[entry] = phones
    return out


def grammar(expectation: Expectation, vocabulary: frozenset[str]) -> str | None:
    """A JSGF grammar for one answer of ``expectation``; ``None`` when it is open (use the LM)."""
    if expectation.kind in (Expect.OPEN, Expect.CHOICE):
        return None  # choices are matched on the LM transcript: callers answer them in whole sentences
    escape = [w for w in ESCAPE_WORDS if w in vocabulary]
    run = " ".join(["<digit>"] * expectation.digits) if expectation.digits else "<digit>+"
    if expectation.kind is Expect.DIGITS:
        body = run
        rules = f"<digit> = {' | '.join(DIGIT_WORDS)};\n"
    elif expectation.kind is Expect.CODE:
        letters = [x for x in LETTERS if x in vocabulary]
        body = f"<letter> {run}"
        rules = f"<digit> = {' | '.join(DIGIT_WORDS)};\n<letter> = {' | '.join(letters)};\n"
    elif expectation.kind is Expect.YES_NO:
        body = " | ".join(YES_WORDS + NO_WORDS)
        rules = ""
    else:
        return None
    if not body:
        return None
    alternatives = f"({body})" + (f" | {' | '.join(escape)}" if escape else "")
    return f"#JSGF V1.0;\ngrammar answer;\n{rules}public <answer> = {alternatives};\n"


def barge_in_grammar(backchannels: Iterable[str], vocabulary: frozenset[str]) -> str | None:
    """A JSGF grammar for a short utterance over the bot: interrupt words, backchannels, filler sounds.

    An open language model hears a lone word badly (on synthetic phone audio "agent" came out as "ada not"
    or "you can"); forced to choose among the words that matter while the bot speaks, the recognizer
    tells "agent" or "wait" from "okay" or "mhm" reliably. ``None`` when the vocabulary has none of them.
    """
    wanted = set(INTERRUPT_WORDS) | {w for phrase in backchannels for w in words(phrase)} | set(FILLER_SOUNDS)
    kept = sorted(w for w in wanted if w in vocabulary)
    if not kept:
        return None
    return f"#JSGF V1.0;\ngrammar barge;\npublic <barge> = ({' | '.join(kept)})+;\n"
