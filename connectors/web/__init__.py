"""The aiohttp web app: health, the Rasa REST channel, the tracker API, the widget and the consoles.

``create_app`` is imported on first use so that :mod:`bot.project.schema` can import
:mod:`connectors.web.widget_config` without pulling in the app (and the engine) in a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from connectors.web.app import create_app

        return create_app
    raise AttributeError(f"module 'connectors.web' has no attribute {name!r}")
