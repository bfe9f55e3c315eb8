"""Careline's core: embed a customer-service bot in your own process.

    from bot import Settings, UserMessage, build_runtime, load_project

    settings = Settings.from_env()                     # CARELINE_* variables; default: the bundled demo
    runtime = await build_runtime(settings, load_project(settings.project))
    replies = await runtime.engine.handle("customer-1", UserMessage("where is my order?"))
    await runtime.close()

Serving it over HTTP (REST channel, widget, consoles) is a connector's job: ``connectors.web.create_app(runtime)``
(the core imports no connector). The names below load on first use: ``import bot`` stays cheap, and a
submodule (``bot.kernel.events``, ``bot.project``, ...) never pulls in the whole runtime.
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (a few ms of ``import bot``)
if TYPE_CHECKING:
    from bot.app.runtime import Runtime, build_runtime
    from bot.infra.settings import DEMO_PROJECT, Settings
    from bot.kernel.errors import CarelineError, ConfigError, RequestError
    from bot.kernel.messages import BotMessage, Button, UserMessage
    from bot.pipeline.engine import Engine
    from bot.project import Project, load_project

_EXPORTS = {
    "DEMO_PROJECT": "bot.infra.settings",
    "Settings": "bot.infra.settings",
    "Project": "bot.project",
    "load_project": "bot.project",
    "Runtime": "bot.app.runtime",
    "build_runtime": "bot.app.runtime",
    "Engine": "bot.pipeline.engine",
    "UserMessage": "bot.kernel.messages",
    "BotMessage": "bot.kernel.messages",
    "Button": "bot.kernel.messages",
    "CarelineError": "bot.kernel.errors",
    "ConfigError": "bot.kernel.errors",
    "RequestError": "bot.kernel.errors",
}
"""Public name → the module that defines it."""

__all__ = ["DEMO_PROJECT", "BotMessage", "Button", "CarelineError", "ConfigError", "Engine", "Project",
           "RequestError", "Runtime", "Settings", "UserMessage", "build_runtime", "load_project"]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bot' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
