"""Rasa keys Careline does not use load with one structured warning each, never an error."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from bot.kernel.errors import ConfigError
from bot.project import load_project
from tests.project.test_layout import FLOWS, NLU, _write

DOMAIN = """\
version: "3.1"
session_config:
  session_expiration_time: 60
  carry_over_slots_to_new_session: true
config:
  store_entities_as_slots: true
intents:
  - order_coffee:
      use_entities: [size]
  - greet:
      ignore_entities: [size]
entities:
  - size:
      roles: [first, second]
  - city:
      groups: [a, b]
  - plain
actions:
  - action_check_stock:
      send_domain: true
  - action_other
forms:
  coffee_form:
    required_slots: [size]
e2e_actions:
  - hello there
slots:
  size:
    type: categorical
    values: [small, large]
    influence_conversation: false
    mappings:
      - type: from_entity
        entity: size
        role: first
  strength:
    type: float
    min_value: 0
    max_value: 5
    mappings: [{type: controlled}]
responses:
  utter_ask_size:
    - text: Small or large?
      id: ask_size_1
      button_type: vertical
      buttons:
        - title: Small
          payload: /SetSlots(size=small)
  utter_done:
    - text: One {size} coffee coming up.
  utter_picture:
    - image: https://example.com/coffee.png
  utter_card:
    - custom:
        blocks: [{type: section}]
"""
CONFIG = """\
recipe: default.v1
language: de
assistant_id: coffee
importers:
  - name: RasaFileImporter
pipeline:
  - name: WhitespaceTokenizer
  - name: DIETClassifier
    epochs: 100
policies:
  - name: RulePolicy
"""


def test_every_ignored_rasa_key_warns_once_with_file_and_line(tmp_path: Path) -> None:
    """Each kind of ignored key gets one ``rasa_key_ignored`` warning at its first place (count for the rest),
    and the project still loads with what Careline uses."""
    root = _write(tmp_path / "p", {"config.yml": CONFIG, "domain.yml": DOMAIN, "data/flows.yml": FLOWS,
                                   "data/nlu.yml": NLU, "credentials.yml": "rest:\n"})
    with capture_logs() as logs:
        project = load_project(root)
    warned = {e["key"]: e for e in logs if e["event"] == "rasa_key_ignored"}
    assert set(warned) == {
        "recipe", "language", "importers", "pipeline", "policies", "session_config", "config", "forms",
        "e2e_actions", "intents.0.order_coffee", "entities.0.size", "actions.0.action_check_stock",
        "slots.strength.min_value", "slots.strength.max_value", "responses.utter_ask_size.0.id",
        "responses.utter_ask_size.0.button_type", "responses.utter_picture.0.image",
        "responses.utter_card.0.custom", "credentials.yml",
    }
    assert warned["intents.0.order_coffee"]["places"] == 2  # greet's ignore_entities counted, not repeated
    assert warned["entities.0.size"]["places"] == 2
    assert warned["forms"]["line"] == DOMAIN.splitlines().index("forms:") + 1
    assert "DIETClassifier" in warned["pipeline"]["reason"]
    assert project.domain.intents == ["order_coffee", "greet"]
    assert project.domain.entities == ["size", "city", "plain"]
    assert project.domain.actions == ["action_check_stock", "action_other"]
    assert project.response("utter_picture") is not None
    assert project.response("utter_picture").image == "https://example.com/coffee.png"  # type: ignore[union-attr]


def test_an_e2e_test_file_in_data_is_skipped_with_a_warning(tmp_path: Path) -> None:
    """A Rasa e2e test file kept under data/ is not training data: skipped with one warning, not an error."""
    root = _write(tmp_path / "p", {"config.yml": "", "domain.yml": DOMAIN, "data/flows.yml": FLOWS,
                                   "data/nlu.yml": NLU,
                                   "data/tests.yml": "test_cases:\n  - test_case: t\n    steps:\n      - user: hi\n"})
    project = load_project(root)
    assert [w.key for w in project.warnings if w.key == "e2e_tests_in_data"] == ["e2e_tests_in_data"]


def test_a_response_variant_that_says_nothing_is_an_error(tmp_path: Path) -> None:
    """A variant with neither text, image nor custom is an error at its line."""
    root = _write(tmp_path / "p", {"config.yml": "", "domain.yml": DOMAIN.replace(
        "  utter_done:\n    - text: One {size} coffee coming up.", "  utter_done:\n    - channel: web"),
        "data/flows.yml": FLOWS, "data/nlu.yml": NLU})
    with pytest.raises(ConfigError) as info:
        load_project(root)
    line = DOMAIN.splitlines().index("  utter_done:") + 2
    assert [str(p) for p in info.value.problems] == [
        f"{root / 'domain.yml'}:{line}: key 'responses.utter_done.0': a response variant needs text, image or custom"]
