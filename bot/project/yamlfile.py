"""Read YAML keeping the line of every key, so config errors can say where they are."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bot.kernel.errors import ConfigError, ConfigProblem

Loc = tuple[str | int, ...]


@dataclass(slots=True)
class YamlDoc:
    """A parsed YAML file: plain Python ``data`` plus the 1-based line of every key and item."""

    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        """Line of ``loc``, or of its nearest ancestor that has one."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None

    def problem(self, loc: Loc, message: str) -> ConfigProblem:
        """A :class:`ConfigProblem` pointing at ``loc`` in this file."""
        key = ".".join(str(p) for p in loc) or None
        return ConfigProblem(self.path, self.line_of(loc), key, message)


def _plain(node: Any, loc: Loc, lines: dict[Loc, int]) -> Any:
    if isinstance(node, CommentedMap):
        out = {}
        for key, value in node.items():
            child = (*loc, str(key))
            line, _col = node.lc.key(key)
            lines[child] = line + 1
            out[str(key)] = _plain(value, child, lines)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            child = (*loc, index)
            line, _col = node.lc.item(index)
            lines[child] = line + 1
            items.append(_plain(value, child, lines))
        return items
    if isinstance(node, str):
        return str(node)
    return node


def read_yaml(path: Path) -> YamlDoc:
    """Parse ``path``; syntax errors and duplicate keys raise :class:`ConfigError` with the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(path, None, None, f"not UTF-8 text: {exc}")]) from exc
    except OSError as exc:
        raise ConfigError([ConfigProblem(path, None, None, f"cannot read file: {exc.strerror}")]) from exc
    yaml = YAML(typ="rt")
    try:
        node = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p) or str(exc)
        raise ConfigError([ConfigProblem(path, line, None, f"invalid YAML: {message}")]) from exc
    except YAMLError as exc:
        raise ConfigError([ConfigProblem(path, None, None, f"invalid YAML: {exc}")]) from exc
    lines: dict[Loc, int] = {(): 1}
    data = _plain(node, (), lines)
    return YamlDoc(path, {} if data is None else data, lines)
