"""The aiohttp web app: health, the Rasa REST channel, the tracker API, the widget and the consoles."""

from __future__ import annotations

from connectors.web.app import create_app

__all__ = ["create_app"]
