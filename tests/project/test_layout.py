"""A Rasa project directory loads as it is: config, a domain folder, data told apart by keys, endpoints."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from bot.infra.settings import DEMO_PROJECT
from bot.kernel.errors import ConfigError
from bot.project import load_project
from bot.project.patterns import DEFAULT_RESPONSES

CONFIG = """\
recipe: default.v1
language: en
assistant_id: tiny
pipeline:
  - name: CompactLLMCommandGenerator
    llm:
      model_group: rasa_command_generation_model
policies:
  - name: FlowPolicy
"""
DOMAIN_SLOTS = """\
version: "3.1"
slots:
  size:
    type: categorical
    values: [small, large]
    mappings:
      - type: from_llm
responses:
  utter_ask_size:
    - text: Small or large?
"""
DOMAIN_RESPONSES = """\
version: "3.1"
intents:
  - order_coffee
  - greet:
      use_entities: []
responses:
  utter_done:
    - text: One {size} coffee coming up.
"""
FLOWS = """\
flows:
  order_coffee:
    description: Order a coffee.
    steps:
      - collect: size
      - action: utter_done
"""
NLU = """\
version: "3.1"
nlu:
  - intent: order_coffee
    examples: |
      - a coffee please
      - can I get a coffee
  - intent: greet
    examples: |
      - hi
      - hello
"""
ENDPOINTS = """\
action_endpoint:
  url: "${ACTION_SERVER_URL}"
model_groups:
  - id: rasa_command_generation_model
    models:
      - provider: self-hosted
        model: local-model
        api_base: http://127.0.0.1:8000/v1
        api_key: ${LOCAL_LLM_KEY}
nlg:
  type: rephrase
tracker_store:
  type: sql
"""
ENV = {"ACTION_SERVER_URL": "http://localhost:5055/webhook"}


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture
def rasa(tmp_path: Path) -> Path:
    """A small Rasa CALM project: config/config.yml, domain/ with two files, data/ nested, endpoints.yml."""
    return _write(tmp_path / "rasa", {
        "config/config.yml": CONFIG, "domain/slots.yml": DOMAIN_SLOTS, "domain/shared/responses.yml": DOMAIN_RESPONSES,
        "data/flows/coffee.yml": FLOWS, "data/nlu/nlu.yml": NLU, "endpoints.yml": ENDPOINTS,
    })


def _problems(path: Path, env: dict[str, str] = ENV) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_project(path, env=env)
    return [str(p) for p in info.value.problems]


def test_a_rasa_project_loads_as_it_is(rasa: Path) -> None:
    """config/config.yml, the merged domain/ folder, data/ files told apart by their keys and endpoints.yml
    all load; the action server URL comes from endpoints.yml with its ${VAR} filled."""
    project = load_project(rasa, env=ENV)
    assert set(project.flows) == {"order_coffee"}
    assert project.nlu.intents == ["greet", "order_coffee"]
    assert set(project.domain.responses) - set(DEFAULT_RESPONSES) == {"utter_ask_size", "utter_done"}
    assert project.rasa_patterns
    assert project.domain.intents == ["order_coffee", "greet"]
    assert project.config.action_endpoint == "http://localhost:5055/webhook"


def test_the_llm_command_generator_model_group_becomes_the_llm(rasa: Path) -> None:
    """The pipeline's model_group is looked up in endpoints.yml: its api_base and model become ``llm:`` and the
    key is read from the variable its ${NAME} names, never stored."""
    project = load_project(rasa, env=ENV)
    assert project.config.llm is not None
    assert (project.config.llm.base_url, project.config.llm.model) == ("http://127.0.0.1:8000/v1", "local-model")
    assert project.config.llm.api_key_env == "LOCAL_LLM_KEY"
    assert project.config.nlu.llm_commands == "fallback"


def test_rasa_keys_careline_does_not_use_warn_once_each(rasa: Path) -> None:
    """recipe, pipeline, policies, intent properties, nlg and tracker_store each give one structured warning with
    file and line; keys Careline uses (language: en, assistant_id, version 3.1) give none."""
    with capture_logs() as logs:
        project = load_project(rasa, env=ENV)
    ignored = [e for e in logs if e["event"] == "rasa_key_ignored"]
    keys = sorted(e["key"] for e in ignored)
    assert keys == sorted(["recipe", "pipeline", "policies", "intents.1.greet", "nlg", "tracker_store"])
    assert all(e["log_level"] == "warning" for e in ignored)
    recipe = next(w for w in project.warnings if w.key == "recipe")
    assert (recipe.path, recipe.line) == (rasa / "config" / "config.yml", 1)


def test_a_missing_environment_variable_is_an_error_with_its_line(rasa: Path) -> None:
    """${ACTION_SERVER_URL} without the variable set is reported at its line, like Rasa refuses it."""
    problems = _problems(rasa, env={})
    assert problems == [f"{rasa / 'endpoints.yml'}:2: key 'action_endpoint.url': environment variable "
                        "ACTION_SERVER_URL is not set (set it or write the value)"]


def test_a_response_defined_in_two_domain_files_names_both_places(rasa: Path) -> None:
    """Domain files are merged; a response in two of them is an error at the second that names the first."""
    extra = rasa / "domain" / "z_more.yml"
    extra.write_text("responses:\n  utter_done:\n    - text: again\n")
    first = rasa / "domain" / "shared" / "responses.yml"
    assert _problems(rasa) == [f"{extra}:2: key 'responses.utter_done': response also defined at {first}:7"]


def test_unknown_keys_are_still_errors_with_file_and_line(rasa: Path) -> None:
    """A typo in a domain file, a data file or endpoints.yml is an unknown key at its line, not a warning."""
    (rasa / "domain" / "slots.yml").write_text(DOMAIN_SLOTS.replace("responses:", "respones:"))
    (rasa / "data" / "nlu" / "nlu.yml").write_text(NLU.replace("nlu:", "nlu:\n  - intnet: x\n    examples: '- a'"))
    (rasa / "data" / "typo.yml").write_text("flow:\n  a: {}\n")
    (rasa / "endpoints.yml").write_text(ENDPOINTS + "action_endpont: {}\n")
    problems = "\n".join(_problems(rasa))
    assert f"{rasa / 'domain' / 'slots.yml'}:8: key 'respones': unknown key" in problems
    assert f"{rasa / 'data' / 'nlu' / 'nlu.yml'}:3: key 'nlu.0.intnet': unknown key" in problems
    assert f"{rasa / 'data' / 'typo.yml'}:1: key 'flow': unknown key (a data file holds" in problems
    assert f"{rasa / 'endpoints.yml'}:14: key 'action_endpont': unknown key" in problems


def test_rasa_path_options_override_the_layout(rasa: Path, tmp_path: Path) -> None:
    """-c, -d, --data and --endpoints (as keyword arguments) replace where each part is found."""
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(rasa, elsewhere)
    shutil.rmtree(rasa / "data")
    (rasa / "endpoints.yml").unlink()
    project = load_project(rasa, config=elsewhere / "config" / "config.yml", domain=elsewhere / "domain",
                           data=[elsewhere / "data" / "flows", elsewhere / "data" / "nlu" / "nlu.yml"],
                           endpoints=elsewhere / "endpoints.yml", env=ENV)
    assert set(project.flows) == {"order_coffee"} and project.config.action_endpoint is not None


def test_rules_and_stories_are_read_but_not_run(rasa: Path) -> None:
    """A data file with rules and stories loads with one warning for each kind."""
    (rasa / "data" / "rules.yml").write_text(
        'version: "3.1"\nrules:\n  - rule: greet\n    steps:\n      - intent: greet\n      - action: utter_done\n'
        'stories:\n  - story: s\n    steps: []\n')
    project = load_project(rasa, env=ENV)
    assert {"rules", "stories"} <= {w.key for w in project.warnings}


def test_careline_layout_still_loads_without_warnings() -> None:
    """The bundled demo (Careline's own layout) loads as before, with no Rasa warnings."""
    project = load_project(DEMO_PROJECT)
    assert project.warnings == () and "greet" in project.flows


def test_the_vector_store_folder_is_the_knowledge_base_the_runtime_opens(rasa: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """endpoints.yml's ``vector_store: {type: faiss, source: docs}`` makes ``docs/`` the folder the knowledge base
    is built from (not ``knowledge/``)."""
    import bot.knowledge
    from bot.app.runtime import open_knowledge

    (rasa / "endpoints.yml").write_text(ENDPOINTS + "vector_store:\n  type: faiss\n  source: docs\n")
    (rasa / "docs").mkdir()
    (rasa / "docs" / "fees.txt").write_text("The monthly fee is 5 pounds.\n")
    project = load_project(rasa, env=ENV)
    opened: dict[str, object] = {}

    def fake_open(project_dir: Path, config: object, **kwargs: object) -> str:
        opened.update(kwargs)
        return "kb"

    monkeypatch.setattr(bot.knowledge.KnowledgeBase, "open", fake_open)
    assert open_knowledge(project, embedder=object()) == "kb"  # type: ignore[arg-type]
    assert opened["knowledge_dir"] == rasa / "docs"
