"""A labelled set for the outbound "is it a greeting?" check (:func:`bot.outbound.detect_voicemail_greeting`).

What the callee's side says first on an answered outbound call, written the way an offline recognizer hands it
over (lower case, no punctuation, the odd misheard word), with the seconds of speech a VAD would time. Written
for this benchmark from how voicemail greetings and people answering the phone sound (UK and US, personal and
business lines, carrier messages), not from the check's own phrase list or its tests. Hard cases on both sides:
short personal greetings without a stock phrase; people who answer at length, receptionists who say "you've
reached", people who say "not available" about someone else.

``machine`` is True for anything that is not a person on the line (voicemail, carrier and switchboard messages).
Which items are held aside is decided by a hash of the text (:func:`held_aside`), never by looking at them.

    python benchmarks/voice/greetings.py [--json out.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


@dataclass(frozen=True, slots=True)
class Heard:
    """One first turn: the transcript, its seconds of speech, and whether a machine said it."""

    text: str
    secs: float
    machine: bool


MACHINES = [
    Heard("hi you've reached sarah i can't get to the phone right now leave me a message", 4.6, True),
    Heard("hello you have reached the voicemail of james porter please leave a message after the tone", 5.1, True),
    Heard("hey it's mike leave a message", 1.9, True),
    Heard("hi this is dana", 1.1, True),
    Heard("the person you are trying to reach is not available please leave your message after the tone", 5.3, True),
    Heard("the number you have dialled is not in service", 2.8, True),
    Heard("the number you have dialed has been disconnected", 2.7, True),
    Heard("sorry i missed your call please leave your name and number and i'll get back to you", 4.9, True),
    Heard("you've reached the hendersons we're not home right now", 3.2, True),
    Heard("hello you've reached four four seven nine", 2.6, True),
    Heard("please leave a massage after the beep", 2.1, True),
    Heard("at the tone please record your message when you have finished recording you may hang up", 5.4, True),
    Heard("the vodafone customer you are calling is unable to take your call", 3.6, True),
    Heard("welcome to the o two messaging service", 2.5, True),
    Heard("this is the ee voicemail service the person you have called is not available", 4.4, True),
    Heard("hi it's priya i'm away from my desk", 2.2, True),
    Heard("hey this is jordan text me instead", 2.0, True),
    Heard("you have reached our office outside of business hours our opening hours are nine to five", 5.6, True),
    Heard("thank you for calling all our lines are busy please hold", 3.4, True),
    Heard("hello i'm not available at the moment please call back later", 3.5, True),
    Heard("the subscriber cannot be reached", 1.9, True),
    Heard("hi you've got tom and lucy leave us a message", 2.8, True),
    Heard("your call has been forwarded to an automatic voice message system", 3.9, True),
    Heard("nine four seven two three one is not available", 3.0, True),
    Heard("please state your name after the tone and i'll see if this person is available", 4.3, True),
    Heard("hello and thanks for calling me back soon", 2.4, True),
    Heard("hi i can't answer right now", 1.6, True),
    Heard("this mailbox is full and cannot accept any messages at this time", 3.8, True),
    Heard("the call can't be completed as dialled", 2.2, True),
    Heard("hi you've reached the voice mail box of", 2.3, True),
    Heard("hello this is doctor patel's phone i'm with patients", 3.0, True),
    Heard("hey you know what to do", 1.4, True),
    Heard("hi it's ellie", 0.9, True),
    Heard("please leave a message for", 1.5, True),
    Heard("record your message after the bleep", 2.0, True),
    Heard("sorry we can't come to the phone right now", 2.4, True),
    Heard("hello i'm on holiday until the fourteenth for urgent matters call my colleague", 4.7, True),
    Heard("the person you're calling has a voicemail box that has not been set up yet", 4.0, True),
    Heard("google subscriber you are calling is not available", 2.9, True),
    Heard("hi this is alex from the plumbing company we're out on a job leave your details", 4.6, True),
    Heard("beep", 0.4, True),
    Heard("welcome to voicemail", 1.2, True),
    Heard("you have reached the number for the smith family", 2.6, True),
    Heard("hello the caller you have dialed is unavailable", 2.7, True),
    Heard("this is chris i'll call you back", 1.8, True),
    Heard("the mobile phone you are calling is switched off", 2.6, True),
]

PEOPLE = [
    Heard("hello", 0.5, False),
    Heard("hello", 0.6, False),
    Heard("hello who's this", 1.0, False),
    Heard("yeah hello", 0.7, False),
    Heard("hi", 0.4, False),
    Heard("hello hello", 1.3, False),
    Heard("yes speaking", 0.8, False),
    Heard("good morning", 0.7, False),
    Heard("hiya", 0.4, False),
    Heard("this is margaret", 0.9, False),
    Heard("hello margaret speaking", 1.1, False),
    Heard("yeah", 0.3, False),
    Heard("hello sorry who is calling", 1.3, False),
    Heard("hello is anyone there", 1.2, False),
    Heard("hi there", 0.5, False),
    Heard("yes", 0.3, False),
    Heard("hello can you hear me", 1.1, False),
    Heard("allo", 0.4, False),
    Heard("hello this is the patel residence", 1.8, False),
    Heard("hello you've reached the front desk how can i help", 2.4, False),
    Heard("good afternoon northwind clinic reception", 2.0, False),
    Heard("yeah hi sorry i'm just driving can you call me back in ten minutes", 3.6, False),
    Heard("hello oh hang on let me turn the telly down", 2.5, False),
    Heard("hello yes i was expecting your call actually about my appointment", 3.4, False),
    Heard("hi sorry he's not available at the moment can i take a message", 3.1, False),
    Heard("who is this please", 0.9, False),
    Heard("speaking", 0.5, False),
    Heard("hello david here", 0.9, False),
    Heard("hey what's up", 0.7, False),
    Heard("mm hello", 0.8, False),
    Heard("uh hello", 0.7, False),
    Heard("hello is this about the dentist", 1.4, False),
    Heard("sorry i can't really talk right now i'm at work", 2.5, False),
    Heard("yes this is she", 0.9, False),
    Heard("hello it's me", 0.8, False),
    Heard("hi i think you've got the wrong number", 1.7, False),
    Heard("hello how can i help you", 1.2, False),
    Heard("she's out at the moment she'll be back around five", 2.6, False),
    Heard("hello who am i speaking to", 1.2, False),
    Heard("good evening", 0.7, False),
    Heard("hello mum is that you", 1.1, False),
    Heard("ok go ahead", 0.7, False),
    Heard("yes hello i've been waiting for you to call me back about the results", 3.5, False),
    Heard("hello sorry i missed the first bit", 1.6, False),
    Heard("hello", 0.9, False),
    Heard("eh", 0.2, False),
]

SET = MACHINES + PEOPLE


def held_aside(item: Heard) -> bool:
    """A third of the items, chosen by a hash of the text (and its position among equal texts) alone."""
    return hashlib.sha256(f"{item.text}|{item.secs}".encode()).digest()[0] % 3 == 0


def score(items: list[Heard], *, with_secs: bool) -> dict[str, float | int]:
    """Precision, recall and F1 of "machine" over ``items`` (with or without the speech duration)."""
    from bot.outbound import detect_voicemail_greeting

    tp = fp = fn = tn = 0
    for item in items:
        said = detect_voicemail_greeting(item.text, speech_secs=item.secs if with_secs else None)
        tp += said and item.machine
        fp += said and not item.machine
        fn += item.machine and not said
        tn += not said and not item.machine
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n": len(items), "machines": tp + fn, "people": fp + tn, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", default=None)
    parser.add_argument("--held-aside", action="store_true", help="also score the held-aside part (report only)")
    parser.add_argument("--misses", action="store_true", help="list the dev part's misses (for tuning)")
    args = parser.parse_args()
    dev = [i for i in SET if not held_aside(i)]
    if args.misses:
        from bot.outbound import detect_voicemail_greeting

        for item in dev:
            if detect_voicemail_greeting(item.text, speech_secs=item.secs) is not item.machine:
                print(f"miss: machine={item.machine} {item.secs}s {item.text!r}")
    report: dict[str, object] = {"dev": {"with_secs": score(dev, with_secs=True),
                                         "text_only": score(dev, with_secs=False)}}
    if args.held_aside:
        rest = [i for i in SET if held_aside(i)]
        report["held_aside"] = {"with_secs": score(rest, with_secs=True), "text_only": score(rest, with_secs=False)}
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
