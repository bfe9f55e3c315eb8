"""The scorecard: ``qa.yml`` in the project directory, named criteria with weights, each an automatic check.

```yaml
idle_minutes: 30          # a conversation nobody wrote to for this long counts as finished
criteria:
  - id: no_rephrase
    check: no_rephrase_after_answer
    weight: 2
    params: {threshold: 0.5}
```

The scorecard's ``version`` is a hash of its content (criteria, checks, weights and parameters, as parsed), so
editing ``qa.yml`` makes a new version and every finished conversation is scored again under it; comments and
formatting do not change it. A check name that does not exist, a duplicate id or a bad parameter is a
:class:`~bot.kernel.errors.ConfigError` naming the file, line and key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.kernel.errors import ConfigError, ConfigProblem
from bot.project.yamlfile import read_yaml

FILENAME = "qa.yml"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Criterion(_Strict):
    """One line of the scorecard."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    """Stable name of the criterion (rows, reports and calibration key on it)."""
    check: str
    """The check that decides it (:data:`bot.qa.checks.CHECKS` names them)."""
    weight: float = Field(default=1.0, ge=0, le=100)
    """Its share of the conversation's score."""
    side: Literal["bot", "agent"] = "bot"
    """Whose work it judges (the console groups by it)."""
    description: str = ""
    """What a reviewer reads next to a failure."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Parameters of the check (each check documents its own)."""


class Scorecard(_Strict):
    """The whole ``qa.yml``."""

    name: str = "default"
    """Shown in reports."""
    idle_minutes: float = Field(default=30, gt=0, le=7 * 24 * 60)
    """A conversation with the bot that nobody wrote to for this long is finished (closed ones are at once)."""
    schedule_seconds: float = Field(default=60, ge=0, le=86400)
    """How often each web worker scores the finished conversations (0: only ``careline qa score``)."""
    similarity: Literal["lexical", "embedding"] = "lexical"
    """How checks compare two customer messages: content-word overlap, or also the sentence encoder's cosine
    (the web workers use the runtime's encoder; ``careline qa score`` loads it)."""
    criteria: tuple[Criterion, ...] = ()
    """The criteria, in the order reports list them."""

    @property
    def version(self) -> str:
        """12 hex digits of SHA-256 over the parsed content: a new version whenever a criterion changes."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def criterion(self, criterion_id: str) -> Criterion | None:
        """The criterion called ``criterion_id``, if any."""
        return next((c for c in self.criteria if c.id == criterion_id), None)


def parse_scorecard(data: Any, path: Path, lines: dict[Any, int] | None = None) -> Scorecard:
    """``data`` (the parsed YAML) as a :class:`Scorecard`; every problem names ``path``, line and key."""
    from bot.qa.checks import CHECKS

    lines = lines or {}

    def problem(loc: tuple[Any, ...], message: str) -> ConfigProblem:
        line = next((lines[loc[:end]] for end in range(len(loc), -1, -1) if loc[:end] in lines), None)
        return ConfigProblem(path, line, ".".join(map(str, loc)) or None, message)

    if not isinstance(data, dict):
        raise ConfigError([problem((), "qa.yml must be a mapping with a 'criteria' list")])
    try:
        card = Scorecard.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([problem(tuple(e["loc"]), "unknown key" if e["type"] == "extra_forbidden"
                                   else e["msg"]) for e in exc.errors()]) from exc
    problems: list[ConfigProblem] = []
    seen: set[str] = set()
    for index, criterion in enumerate(card.criteria):
        if criterion.id in seen:
            problems.append(problem(("criteria", index, "id"), f"duplicate criterion id {criterion.id!r}"))
        seen.add(criterion.id)
        spec = CHECKS.get(criterion.check)
        if spec is None:
            problems.append(problem(("criteria", index, "check"),
                                    f"unknown check {criterion.check!r}; known: {', '.join(sorted(CHECKS))}"))
            continue
        unknown = sorted(set(criterion.params) - set(spec.params))
        if unknown:
            problems.append(problem(("criteria", index, "params"),
                                    f"unknown parameter(s) {', '.join(unknown)} for check {criterion.check!r}; "
                                    f"it takes: {', '.join(sorted(spec.params)) or 'none'}"))
    if problems:
        raise ConfigError(problems)
    return card


def load_scorecard(project_path: Path) -> Scorecard | None:
    """The scorecard of the project at ``project_path`` (``None`` when it has no ``qa.yml``)."""
    path = project_path / FILENAME
    if not path.is_file():
        return None
    doc = read_yaml(path)
    return parse_scorecard(doc.data, path, doc.lines)
