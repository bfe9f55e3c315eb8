"""The README's "Web widget" section shows the real embed tag and valid settings."""

from __future__ import annotations

import re
from pathlib import Path

from ruamel.yaml import YAML

from connectors.web.widget import STATIC
from connectors.web.widget_config import WidgetConfig

SECTION = (Path(__file__).resolve().parents[2] / "README.md").read_text().split("## Web widget", 1)[1].split("\n## ")[0]


def test_readme_embed_tag_is_the_one_the_demo_page_uses() -> None:
    """The README's script tag, with the demo server's path, is exactly the demo page's tag."""
    tag = re.search(r"```html\n(.*?)\n```", SECTION, re.S)
    assert tag is not None
    assert tag.group(1).replace("https://bot.example.com", "") in (STATIC / "demo.html").read_text()


def test_readme_widget_settings_validate() -> None:
    """The README's `widget:` block is a valid WidgetConfig and names the screenshot folder."""
    block = re.search(r"```yaml\n(.*?)```", SECTION, re.S)
    assert block is not None
    config = WidgetConfig.model_validate(YAML(typ="safe").load(block.group(1))["widget"])
    assert config.allowed_origins == ["https://shop.example.com"] and config.start_payload == "/greet"
    assert "artifacts/screenshots/" in SECTION
