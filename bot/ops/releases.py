"""Deployed project versions: when a release of the flows, NLU or knowledge misbehaves, restore the previous one.

Every start records the project's files (YAML, NLU, knowledge documents) under their fingerprint when
that fingerprint is new, and stamps the deployment time otherwise. ``careline scope releases`` lists
them, newest deployment first; ``careline scope restore-release N --to DIR`` writes release N's files
to a folder to serve or commit. The automation scope is separate: switching a flow off needs no release.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.infra.logs import get_logger
from bot.kernel.errors import ConcurrentWriteError, RequestError
from bot.project import Project
from bot.storage import Database

log = get_logger(__name__)

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS careline_project_releases (
        release {id},
        fingerprint TEXT NOT NULL UNIQUE,
        files {json} NOT NULL,
        first_deployed_at {float} NOT NULL,
        deployed_at {float} NOT NULL
    )""",
]
#: Projects larger than this are not snapshotted (the release is still listed, without files).
MAX_SNAPSHOT_BYTES = 50 * 1024 * 1024


class UnknownRelease(RequestError):
    """No release with that number."""

    status = 404


@dataclass(frozen=True, slots=True)
class Release:
    """One deployed version of the project."""

    release: int
    fingerprint: str
    first_deployed_at: float
    deployed_at: float
    files: dict[str, str]
    """Relative path → base64 content (empty when the project was too large to keep)."""

    def summary(self) -> dict[str, Any]:
        return {"release": self.release, "fingerprint": self.fingerprint[:12], "files": len(self.files),
                "first_deployed_at": self.first_deployed_at, "deployed_at": self.deployed_at}


def snapshot(path: Path) -> dict[str, str]:
    """Every file of the project folder (``.careline`` caches excluded), base64-encoded by relative path."""
    files, total = {}, 0
    for file in sorted(p for p in path.rglob("*") if p.is_file() and ".careline" not in p.parts):
        data = file.read_bytes()
        total += len(data)
        if total > MAX_SNAPSHOT_BYTES:
            log.warning("release_snapshot_skipped", bytes=total, limit=MAX_SNAPSHOT_BYTES)
            return {}
        files[file.relative_to(path).as_posix()] = base64.b64encode(data).decode()
    return files


class ReleaseStore:
    """The release history in the conversation database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def setup(self) -> None:
        await self.database.migrate(SCHEMA)

    async def record(self, project: Project) -> None:
        """Note that ``project`` is deployed now (a new release when its fingerprint is new)."""
        now = time.time()
        exists = await self.database.fetchval(
            "SELECT release FROM careline_project_releases WHERE fingerprint = ?", project.fingerprint)
        if exists is None:
            files = await asyncio.to_thread(snapshot, project.path)
            try:
                await self.database.execute(
                    "INSERT INTO careline_project_releases (fingerprint, files, first_deployed_at, deployed_at) "
                    "VALUES (?, ?, ?, ?)", project.fingerprint, json.dumps(files), now, now)
                log.info("release_recorded", fingerprint=project.fingerprint[:12])
                return
            except ConcurrentWriteError:
                pass  # another worker recorded it a moment ago
        await self.database.execute("UPDATE careline_project_releases SET deployed_at = ? WHERE fingerprint = ?",
                                    now, project.fingerprint)

    async def recent(self, limit: int = 20) -> list[Release]:
        """Releases, most recently deployed first."""
        rows = await self.database.fetch(
            "SELECT * FROM careline_project_releases ORDER BY deployed_at DESC, release DESC LIMIT ?", limit)
        return [_release(r) for r in rows]

    async def get(self, release: int) -> Release:
        row = await self.database.fetchrow("SELECT * FROM careline_project_releases WHERE release = ?", release)
        if row is None:
            raise UnknownRelease(f"no release {release}")
        return _release(row)

    async def restore(self, release: int, target: Path) -> list[Path]:
        """Write release ``release``'s files under ``target`` (created; existing files are overwritten)."""
        found = await self.get(release)
        if not found.files:
            raise UnknownRelease(f"release {release} was too large to keep its files")
        written = await asyncio.to_thread(write_files, found.files, target)
        log.info("release_restored", release=release, files=len(written), target=str(target))
        return written


def write_files(files: dict[str, str], target: Path) -> list[Path]:
    """Write base64 ``files`` under ``target``; a path escaping ``target`` is refused."""
    root = target.resolve()
    written = []
    for relative, content in files.items():
        file = (root / relative).resolve()
        if not file.is_relative_to(root):
            raise RequestError(f"the release holds a path outside the project: {relative!r}")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(base64.b64decode(content))
        written.append(file)
    return written


def _release(row: dict[str, Any]) -> Release:
    return Release(int(row["release"]), row["fingerprint"], float(row["first_deployed_at"]),
                   float(row["deployed_at"]), json.loads(row["files"]))
