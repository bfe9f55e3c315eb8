"""Openings that describe the problem instead of naming it reach the right flow (issue #16).

``data/openings_dev.csv`` was written apart from the demo's NLU examples (descriptions, typos, British and
American phrasing, knowledge questions that mention a purchase as hard negatives) and used to choose the demo's
``nlu.threshold`` (0.3); ``data/openings_heldaside.csv`` was not looked at while choosing it. A row lists the
intents that lead to the right place (a knowledge question may be ``ask_question`` or out of scope: both are
answered from the documents). Measured: dev 0.85, held-aside 0.714 (0.475 / 0.536 at the old 0.5); with
messages read clause by clause when the whole is not placed, dev 0.85, held-aside 0.75.

``data/openings_multiclause_*.csv`` are openings that wrap the request in a greeting, a name or contact details
("hi, grace here, email grace@example.com, any news on my chair?"), written for clause reading
(:meth:`~bot.nlu.understander.Understander.understand`): dev 11/16 as whole messages → 14/16 by clauses;
held-aside 8/8 either way.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bot.nlu.understander import Understander

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(("name", "floor"), [("openings_dev", 0.8), ("openings_heldaside", 0.7),
                                             ("openings_multiclause_dev", 0.85),
                                             ("openings_multiclause_heldaside", 0.85)])
def test_descriptive_openings_are_understood(understander: Understander, name: str, floor: float) -> None:
    with (DATA / f"{name}.csv").open(newline="") as rows:
        labelled = [(row["text"], row["intents"].split("|")) for row in csv.DictReader(rows)]
    right = sum(understander.understand(text).intent in intents for text, intents in labelled)
    assert right / len(labelled) >= floor
