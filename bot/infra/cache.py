"""Where derived artifacts (trained classifiers, knowledge indexes) are kept on disk."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from bot.infra import environment


def cache_dir(project_path: Path, *parts: str) -> Path:
    """``PROJECT/.careline/<parts>`` when the project is writable, else a per-user cache folder.

    ``CARELINE_CACHE_DIR`` overrides the location (one sub-folder per project; :mod:`bot.infra.environment`).
    """
    override = environment.cache_override()
    project_path = project_path.resolve()
    key = hashlib.sha256(str(project_path).encode()).hexdigest()[:16]
    if override:
        base = override / key
    elif os.access(project_path, os.W_OK):
        base = project_path / ".careline"
    else:
        base = environment.user_cache_home() / "careline" / key
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
