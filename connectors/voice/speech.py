"""What the bot says on the phone, and what the caller's words and keys mean as input.

Translation only, no business rules: buttons become spoken choices ("say one or press one for ..."),
a spoken or keyed choice becomes that button's payload, and spoken forms ("four five six") become
written ones through the NLU package's normalizer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from bot.kernel.messages import BotMessage, Button
from bot.nlu.normalize import normalize_spoken
from connectors.voice.lm import words

_ORDINAL_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_MARKDOWN = re.compile(r"[*_`#>]+|\[([^\]]+)\]\([^)]+\)")


def spoken_text(message: BotMessage) -> str:
    """``message`` as one utterance: markdown links read by their label, buttons read as numbered choices."""
    text = _MARKDOWN.sub(lambda m: m.group(1) or "", message.text).strip()
    if not message.buttons:
        return text
    options = [f"{_ORDINAL_WORDS[i] if i < 9 else i + 1} for {b.title.rstrip('?.!')}"
               for i, b in enumerate(message.buttons[:9])]
    listed = options[0] if len(options) == 1 else ", ".join(options[:-1]) + f", or {options[-1]}"
    return f"{text} Say or press {listed}."


def choose(said: str, buttons: Sequence[Button]) -> str | None:
    """The payload of the button ``said`` picks (a number word or digit, or most of its title), else ``None``."""
    if not buttons:
        return None
    tokens = words(said)
    if len(tokens) == 1 and tokens[0] in _ORDINAL_WORDS[: len(buttons)]:
        return buttons[_ORDINAL_WORDS.index(tokens[0])].payload
    spoken = set(tokens)
    best, best_score = None, 0.0
    for button in buttons:
        title = set(words(button.title)) - {"a", "the", "my", "is", "to", "i"}
        if not title:
            continue
        score = len(title & spoken) / len(title)
        if score > best_score:
            best, best_score = button, score
    return best.payload if best is not None and best_score >= 0.6 else None


#: Short words a recognizer wraps around a backchannel ("the ok", "uh yeah").
FILLERS = frozenset({"a", "the", "uh", "um", "oh", "ah", "and", "i'm", "am", "i"})


def is_backchannel(text: str, backchannels: Sequence[str]) -> bool:
    """True when short ``text`` opens with an acknowledgement ("mhm", "okay", "uh huh") after any filler sounds.

    Only the first real word counts: a recognizer often hangs a stray word or two on a short "okay"
    ("okay you do"), while a caller who means to interrupt leads with it ("wait", "no", "stop").
    """
    vocabulary = {w for phrase in backchannels for w in words(phrase)}
    tokens = [t for t in words(text) if t not in FILLERS]
    return 0 < len(tokens) <= 3 and tokens[0] in vocabulary


def default_normalizer() -> Callable[[str], str]:
    """The NLU package's spoken-form normalizer ("four five six" → "456"), the one the engine's normalize
    stage uses. Imported, never probed: the core is always installed with the connectors, so a failing import is a
    broken install and stops the import of this module rather than switching to a weaker normalizer unseen."""
    return normalize_spoken
