"""Which files make up a project: Careline's own layout or a Rasa project directory as it is.

Careline's layout::

    config.yml  domain.yml  flows/*.yml  nlu/*.yml  guardrails.yml  knowledge/

A Rasa (CALM) project, as ``rasa init`` or the Rasa Pro templates make it::

    config.yml | config/config.yml   domain.yml | domain/**.yml   data/**.yml   endpoints.yml

Both can be mixed (a Rasa project may add ``guardrails.yml`` or ``knowledge/``). Rasa's ``-c/--config``,
``-d/--domain``, ``--data`` and ``--endpoints`` (as in ``rasa train``) override the place of each part;
relative paths are taken as given (from the current directory, like Rasa).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.kernel.errors import ConfigProblem

YAML_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True, slots=True)
class PathOverrides:
    """Rasa's path options; ``None`` (or empty ``data``) means "where the layout puts it"."""

    config: Path | None = None
    """``-c/--config``: the config file."""
    domain: Path | None = None
    """``-d/--domain``: a domain file or a folder of domain files."""
    data: tuple[Path, ...] = ()
    """``--data``: training data files or folders (replace ``data/``)."""
    endpoints: Path | None = None
    """``--endpoints``: the endpoints file."""

    @property
    def any(self) -> bool:
        """True when at least one path is overridden."""
        return any((self.config, self.domain, self.data, self.endpoints))


@dataclass(frozen=True, slots=True)
class ProjectFiles:
    """The files of one project, found but not read yet."""

    root: Path
    config: Path | None = None
    """The config file (``None`` when missing: a problem has been reported)."""
    domain: tuple[Path, ...] = ()
    """Domain files, merged in this order."""
    domain_source: Path | None = None
    """The domain file or folder the files came from (for messages)."""
    flows: tuple[Path, ...] = ()
    """Careline's ``flows/`` files (each must be a flows file)."""
    nlu: tuple[Path, ...] = ()
    """Careline's ``nlu/`` files (each must be an NLU file)."""
    data: tuple[Path, ...] = ()
    """Rasa data files, told apart by their top-level keys."""
    endpoints: Path | None = None
    """``endpoints.yml`` when present."""
    guardrails: Path | None = None
    """``guardrails.yml`` when present."""
    unread: tuple[Path, ...] = field(default_factory=tuple)
    """Rasa files Careline does not read (``credentials.yml``), for one warning each."""

    def all(self) -> list[Path]:
        """Every file read, in load order (the fingerprint's input besides ``knowledge/``)."""
        singles = [p for p in (self.config, self.endpoints, self.guardrails) if p is not None]
        return [*singles, *self.domain, *self.flows, *self.nlu, *self.data]


def yaml_files(folder: Path) -> list[Path]:
    """The YAML files under ``folder`` (recursively, sorted); hidden folders are skipped."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _files_of(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        out.extend(yaml_files(path) if path.is_dir() else [path])
    return out


def find_files(root: Path, overrides: PathOverrides = PathOverrides()) -> tuple[ProjectFiles, list[ConfigProblem]]:
    """Locate the files of the project at ``root``; missing required files are returned as problems."""
    problems: list[ConfigProblem] = []

    config: Path | None
    if overrides.config is not None:
        config = overrides.config if overrides.config.is_file() else None
        if config is None:
            problems.append(ConfigProblem(overrides.config, None, None, "config file (-c/--config) does not exist"))
    else:
        config = next((p for p in (root / "config.yml", root / "config" / "config.yml") if p.is_file()), None)
        if config is None:
            problems.append(ConfigProblem(root / "config.yml", None, None, "required file is missing"))

    domain_source: Path | None
    if overrides.domain is not None:
        domain_source = overrides.domain if overrides.domain.exists() else None
        if domain_source is None:
            problems.append(ConfigProblem(overrides.domain, None, None, "domain (-d/--domain) does not exist"))
    else:
        domain_source = next((p for p in (root / "domain.yml", root / "domain") if p.exists()), None)
        if domain_source is None:
            problems.append(ConfigProblem(root / "domain.yml", None, None, "required file is missing"))
    domain = tuple(_files_of([domain_source])) if domain_source is not None else ()
    if domain_source is not None and domain_source.is_dir() and not domain:
        problems.append(ConfigProblem(domain_source, None, None, "the domain folder holds no .yml files"))

    if overrides.data:
        missing = [p for p in overrides.data if not p.exists()]
        problems.extend(ConfigProblem(p, None, None, "data path (--data) does not exist") for p in missing)
        data = _files_of([p for p in overrides.data if p.exists()])
    else:
        data = yaml_files(root / "data")

    endpoints: Path | None
    if overrides.endpoints is not None:
        endpoints = overrides.endpoints if overrides.endpoints.is_file() else None
        if endpoints is None:
            problems.append(ConfigProblem(overrides.endpoints, None, None,
                                          "endpoints file (--endpoints) does not exist"))
    else:
        endpoints = root / "endpoints.yml" if (root / "endpoints.yml").is_file() else None

    guardrails = root / "guardrails.yml" if (root / "guardrails.yml").is_file() else None
    unread = tuple(p for p in (root / "credentials.yml",) if p.is_file())
    files = ProjectFiles(root, config, domain, domain_source, tuple(yaml_files(root / "flows")),
                         tuple(yaml_files(root / "nlu")), tuple(data), endpoints, guardrails, unread)
    return files, problems
