"""``widget:`` in ``config.yml``: how the embeddable web chat looks and whom it serves.

The schema lives in the core (:mod:`bot.project.channels`, so a project is validated in full when it loads);
this module is the web connector's name for it.
"""

from __future__ import annotations

from bot.project.channels import WidgetConfig

__all__ = ["WidgetConfig"]
