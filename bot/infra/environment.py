"""The process environment, read in one place.

:meth:`bot.infra.settings.Settings.from_env` reads the deployment variables (``CARELINE_*``) through :func:`variables`;
the few values the core needs below the entry point (where derived artifacts are cached, the secrets a project's
config names by variable, the demo's clock) come from the functions here, each taking an ``env`` mapping that
defaults to the process environment, so tests pass a dict instead of patching ``os.environ``.

Connectors read their own secrets (``TWILIO_*`` in :mod:`connectors.voice.config`, a helpdesk's token, a pipecat
service's ``env:NAME`` arguments through :func:`secret`) where they are configured, each taking an ``env`` mapping
too; nothing else reads ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from datetime import date
from pathlib import Path

CACHE_DIR = "CARELINE_CACHE_DIR"
"""Overrides where trained classifiers, knowledge indexes and exports are kept (one sub-folder per project)."""
DEMO_TODAY = "CARELINE_DEMO_TODAY"
"""The day the demo backend's data is moved to: ``today`` (the real date; ``make run`` sets it), ``YYYY-MM-DD``,
or unset: the seed's own day, so tests and evaluations see the same dates on every machine."""

LOCAL_MODELS = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
"""Set (unless already set) by :func:`use_local_models`: no hub look-ups, no model-loading progress bars."""


def variables() -> Mapping[str, str]:
    """The process environment (read-only view for :meth:`Settings.from_env`)."""
    return os.environ


def use_local_models(env: MutableMapping[str, str] | None = None) -> None:
    """Models load from local paths only and quietly: ``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1`` and
    ``HF_HUB_DISABLE_PROGRESS_BARS=1`` unless the variable is already set (must run before ``transformers``
    is imported)."""
    env = os.environ if env is None else env
    for name, value in LOCAL_MODELS.items():
        env.setdefault(name, value)


def cache_override(env: Mapping[str, str] | None = None) -> Path | None:
    """``CARELINE_CACHE_DIR`` as a path, or ``None`` when it is unset or empty."""
    value = (os.environ if env is None else env).get(CACHE_DIR)
    return Path(value) if value else None


def user_cache_home(env: Mapping[str, str] | None = None) -> Path:
    """The per-user cache folder: ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    value = (os.environ if env is None else env).get("XDG_CACHE_HOME")
    return Path(value) if value else Path.home() / ".cache"


def secret(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The value of the variable a project's config names for a secret (``llm.api_key_env``,
    ``backend.token_env``), or ``None`` when it is unset or empty."""
    return (os.environ if env is None else env).get(name) or None


def demo_today(env: Mapping[str, str] | None = None) -> date | None:
    """The day ``CARELINE_DEMO_TODAY`` names (``today`` → the real date, or ``YYYY-MM-DD``); ``None`` when it is
    unset (the demo keeps its seed's own day)."""
    value = (os.environ if env is None else env).get(DEMO_TODAY, "").strip()
    if not value:
        return None
    if value == "today":
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{DEMO_TODAY} must be 'today' or a date as YYYY-MM-DD, got {value!r}") from exc


def for_child(overrides: Mapping[str, str]) -> dict[str, str]:
    """The environment of a child process (a worker): this one's variables with ``overrides`` on top."""
    return {**os.environ, **overrides}
