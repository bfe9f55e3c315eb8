"""Rasa's ``endpoints.yml``: the parts Careline reads, and one warning for each part it does not.

========================  ===========================================================================
``action_endpoint.url``   the project's action server (``config.yml`` ``action_endpoint``)
``model_groups``          the model of the LLM command generator named in ``config.yml``'s pipeline
                          (``llm.model_group``) becomes ``llm:`` with ``nlu.llm_commands: fallback``
``vector_store``          ``type: faiss`` with ``source: DIR``: the knowledge documents' folder
``nlg``                   warned: responses are sent as written (no rephrasing, no NLG server)
stores, broker, models    warned: Careline's own store and bus (``CARELINE_DATABASE_URL``, ``..._REDIS_URL``)
========================  ===========================================================================

``${NAME}`` in a value is replaced by the environment variable, as Rasa does (an unset one is an error);
an ``api_key: ${NAME}`` is never read: it becomes ``api_key_env: NAME``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.infra.llm import LLMConfig
from bot.infra.logs import get_logger
from bot.kernel.errors import ConfigProblem
from bot.project.channels import Strict
from bot.project.compat import Warnings
from bot.project.schema import ProjectConfig
from bot.project.yamlfile import Loc, YamlDoc

log = get_logger(__name__)

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: Default base URLs of the OpenAI-compatible providers Rasa names.
PROVIDER_URLS = {"openai": "https://api.openai.com/v1", "ollama": "http://localhost:11434/v1"}
OPENAI_COMPATIBLE = frozenset({"openai", "self-hosted", "vllm", "ollama", "litellm_proxy"})


class _Open(BaseModel):
    """A section whose extra keys Rasa passes to a third-party client: kept, not checked."""

    model_config = ConfigDict(frozen=True, extra="allow")


class ActionEndpoint(Strict):
    """``action_endpoint``: where the rasa-sdk action server listens."""

    url: str = Field(pattern=r"^https?://")
    """E.g. ``http://localhost:5055/webhook``."""
    token: str | None = None
    """Sent by Rasa as a query parameter; not sent by Careline (warned)."""
    token_name: str | None = None
    """Name of the token parameter (with ``token``)."""
    cafile: str | None = None
    """CA bundle for HTTPS (not used: the system's CAs are)."""
    headers: dict[str, Any] | None = None
    """Extra headers (not sent)."""
    params: dict[str, Any] | None = None
    """Extra query parameters (not sent)."""
    basic_auth: dict[str, Any] | None = None
    """HTTP basic auth (not sent)."""
    timeout: float | None = None
    """Seconds per call (Careline uses its own timeout)."""


class ModelSpec(_Open):
    """One model of a model group (``provider``, ``model``, ``api_base``...)."""

    provider: str | None = None
    model: str | None = None
    api_base: str | None = None
    api_key: str | None = None
    timeout: float | None = None
    temperature: float | None = None


class ModelGroup(Strict):
    """``model_groups`` entry: an id and its models (the first one is used)."""

    id: str
    models: list[ModelSpec] = Field(min_length=1)
    router: dict[str, Any] | None = None


class EndpointsFile(Strict):
    """``endpoints.yml``."""

    version: str | None = None
    action_endpoint: ActionEndpoint | None = None
    nlg: _Open | None = None
    vector_store: _Open | None = None
    model_groups: list[ModelGroup] = Field(default_factory=list)
    tracker_store: _Open | None = None
    lock_store: _Open | None = None
    event_broker: _Open | None = None
    models: _Open | None = None
    """Rasa's model server (Careline trains at start-up)."""


STORES = {
    "tracker_store": "conversations are stored in Careline's database (CARELINE_DATABASE_URL)",
    "lock_store": "conversation locks are Careline's (CARELINE_REDIS_URL for several workers)",
    "event_broker": "events are published on Careline's bus (CARELINE_REDIS_URL); use the webhooks or the "
                    "tracker API to consume them",
    "models": "Careline trains its models at start-up; no model server is polled",
}


@dataclass(frozen=True, slots=True)
class Endpoints:
    """What ``endpoints.yml`` changes: the config and the knowledge folder."""

    config: ProjectConfig
    knowledge_path: Path | None = None


def substitute_env(doc: YamlDoc, env: Mapping[str, str], problems: list[ConfigProblem]) -> None:
    """Replace ``${NAME}`` in every string of ``doc`` (except ``api_key``) by the environment's value."""

    def walk(node: Any, loc: Loc) -> Any:
        if isinstance(node, dict):
            return {k: v if k == "api_key" else walk(v, (*loc, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*loc, i)) for i, v in enumerate(node)]
        if isinstance(node, str):
            def value(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in env:
                    problems.append(doc.problem(loc, f"environment variable {name} is not set (set it or write "
                                                     "the value)"))
                    return match.group(0)
                return env[name]
            return _ENV.sub(value, node)
        return node

    doc.data = walk(doc.data, ())


def _llm_of(spec: ModelSpec) -> LLMConfig | None:
    provider = (spec.provider or "openai").lower()
    base_url = spec.api_base or PROVIDER_URLS.get(provider)
    if provider not in OPENAI_COMPATIBLE or base_url is None or not spec.model:
        return None
    key_env = "OPENAI_API_KEY"
    if spec.api_key and (match := _ENV.fullmatch(spec.api_key.strip())):
        key_env = match.group(1)
    extra: dict[str, Any] = {}
    if spec.timeout is not None:
        extra["timeout"] = spec.timeout
    if spec.temperature is not None:
        extra["temperature"] = spec.temperature
    return LLMConfig(base_url=base_url.rstrip("/"), model=spec.model, api_key_env=key_env, **extra)


def apply_endpoints(doc: YamlDoc, parsed: EndpointsFile, config: ProjectConfig, model_group: str | None,
                    config_doc: YamlDoc | None, root: Path, notes: Warnings,
                    problems: list[ConfigProblem]) -> Endpoints:
    """Fold ``endpoints.yml`` into the config (see the module docstring); ``model_group`` is the group the
    config's LLM command generator names (``""``: none named, ``None``: no such generator)."""
    knowledge_path: Path | None = None
    if parsed.action_endpoint is not None:
        url = parsed.action_endpoint.url
        if config.action_endpoint not in (None, url):
            problems.append(doc.problem(("action_endpoint", "url"), f"config.yml already sets action_endpoint "
                                        f"{config.action_endpoint!r}; keep one of them"))
        config = config.model_copy(update={"action_endpoint": url})
        sent = [k for k in ("token", "headers", "params", "basic_auth", "cafile")
                if getattr(parsed.action_endpoint, k) is not None]
        if sent:
            notes.add("action_endpoint_options", doc, ("action_endpoint", sent[0]),
                      f"not sent to the action server ({', '.join(sent)}); put the server on a private network")

    if parsed.model_groups:
        config = _apply_model_groups(doc, parsed, config, model_group, config_doc, notes, problems)

    if parsed.vector_store is not None:
        store = parsed.vector_store.model_dump()
        kind, source = str(store.get("type", "faiss")).lower(), store.get("source")
        if kind == "faiss" and source:
            knowledge_path = root / str(source)
            log.info("rasa_endpoint_read", key="vector_store", knowledge=str(knowledge_path))
        else:
            notes.add("vector_store", doc, ("vector_store",), f"vector store {kind!r} is not used: Careline's "
                      "knowledge base is a FAISS index of a folder (type: faiss, source: DIR), else knowledge/")

    if parsed.nlg is not None:
        nlg = parsed.nlg.model_dump()
        reason = ("responses are sent as written (Careline does not rephrase them)" if nlg.get("type") == "rephrase"
                  else "no NLG server is called; responses come from the domain")
        notes.add("nlg", doc, ("nlg",), reason)
    for key, reason in STORES.items():
        if getattr(parsed, key) is not None:
            notes.add(key, doc, (key,), reason)
    return Endpoints(config, knowledge_path)


def _apply_model_groups(doc: YamlDoc, parsed: EndpointsFile, config: ProjectConfig, model_group: str | None,
                        config_doc: YamlDoc | None, notes: Warnings, problems: list[ConfigProblem]) -> ProjectConfig:
    if model_group is None:
        notes.add("model_groups", doc, ("model_groups",), "no LLM command generator in config.yml's pipeline "
                  "names a model group; not used")
        return config
    if config.llm is not None:
        notes.add("model_groups", doc, ("model_groups",), "config.yml's llm: section is used instead")
        return config
    groups = {g.id: (i, g) for i, g in enumerate(parsed.model_groups)}
    if model_group and model_group not in groups:
        where = config_doc if config_doc is not None else doc
        problems.append(where.problem(("pipeline",), f"llm.model_group '{model_group}' is not in endpoints.yml "
                                      f"model_groups ({', '.join(groups)})"))
        return config
    index, group = groups[model_group] if model_group else (0, parsed.model_groups[0])
    llm = _llm_of(group.models[0])
    if llm is None:
        notes.add("model_groups", doc, ("model_groups", index, "models", 0),
                  f"provider {group.models[0].provider!r} is not OpenAI-compatible (or has no model/api_base); "
                  "the LLM command generator stays off")
        return config
    nlu = config.nlu if config.nlu.llm_commands != "off" else config.nlu.model_copy(update={"llm_commands":
                                                                                              "fallback"})
    log.info("rasa_endpoint_read", key="model_groups", model_group=group.id, base_url=llm.base_url,
             model=llm.model, llm_commands=nlu.llm_commands)
    return config.model_copy(update={"llm": llm, "nlu": nlu})
