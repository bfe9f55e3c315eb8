"""The channel sections of config.yml (``widget:``, ``voice:``) are validated by the core when a project loads,
and the connectors' config modules name the very same models."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.infra.settings import DEMO_PROJECT
from bot.kernel.errors import ConfigError
from bot.project import load_project
from bot.project.channels import VoiceConfig, VoiceHandoffConfig, WidgetConfig


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A writable copy of the demo project (without knowledge documents)."""
    target = tmp_path / "project"
    shutil.copytree(DEMO_PROJECT, target, ignore=shutil.ignore_patterns(".careline", "knowledge"))
    return target


def _problems(path: Path, section: str) -> list[str]:
    config = path / "config.yml"
    config.write_text(config.read_text() + "\n" + section)
    with pytest.raises(ConfigError) as info:
        load_project(path)
    return [str(p) for p in info.value.problems]


def test_a_bad_widget_setting_is_rejected_at_load(project: Path) -> None:
    """An allowed origin with a path fails the load with its file, line and key."""
    [problem] = _problems(project, "widget:\n  allowed_origins: [https://shop.example.com/page]\n")
    assert problem.startswith(f"{project / 'config.yml'}:") and "widget.allowed_origins" in problem
    assert "must look like https://shop.example.com" in problem


def test_a_bad_voice_setting_is_rejected_at_load(project: Path) -> None:
    """A misspelt key under ``voice.tts`` fails the load naming the dotted key."""
    [problem] = _problems(project, "voice:\n  tts:\n    wpm: 200\n")
    assert "key 'voice.tts.wpm': unknown key" in problem


def test_the_connectors_config_modules_are_the_core_models() -> None:
    """``connectors.voice.config`` and ``connectors.web.widget_config`` re-export the core's classes (one schema)."""
    from connectors.voice.config import HandoffConfig
    from connectors.voice.config import VoiceConfig as ConnectorVoiceConfig
    from connectors.web.widget_config import WidgetConfig as ConnectorWidgetConfig

    assert ConnectorVoiceConfig is VoiceConfig and HandoffConfig is VoiceHandoffConfig
    assert ConnectorWidgetConfig is WidgetConfig
    config = load_project(DEMO_PROJECT).config
    assert isinstance(config.widget, ConnectorWidgetConfig) and isinstance(config.voice, ConnectorVoiceConfig)
