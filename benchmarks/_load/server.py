"""The servers under load: a copy of the bundled demo with its per-conversation and per-client rate limits
raised (a load test is one client sending far more than a customer would), served by ``careline serve``
subprocesses on free loopback ports.

The copy lives in a stable folder (``CARELINE_BENCH_DIR``, default ``~/.cache/careline/load-bench``), so the
trained classifier, the ONNX export and the knowledge index in its ``.careline`` cache are built on the first
run only.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import yaml

from bot.infra.settings import DEMO_PROJECT
from bot.testing.workers import free_port, wait_healthy

REST_TOKEN = "load-bench-rest-token-" + secrets.token_hex(8)
"""The REST channel's token: with it each sender is its own client (a backend relaying many customers)."""
OPS_TOKEN = "load-bench-ops-" + secrets.token_hex(8)
ADMIN_TOKEN = "load-bench-admin-" + secrets.token_hex(8)
SECRET = "load-bench-secret-" + secrets.token_hex(8)
"""Shared by the workers of one run (client pseudonyms and stream tokens agree across them)."""

LIMITS = {"max_turns_per_minute": 1_000_000, "max_messages_per_minute_per_client": 1_000_000}
WIDGET = {"messages_per_minute": 600, "burst": 100}


def cache_ready(project: Path) -> bool:
    """True when ``project``'s cache already holds the ONNX export and a knowledge index (a server start and the
    floor's loading may then overlap without both building them)."""
    cache = project / ".careline"
    return any(cache.glob("**/*.int8-per-channel.onnx")) and any(cache.glob("**/manifest.json"))


def bench_dir() -> Path:
    """Where the benchmark keeps its project copy (and, inside it, the copy's model cache)."""
    configured = os.environ.get("CARELINE_BENCH_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "careline" / "load-bench"


def prepare_project(folder: Path | None = None) -> Path:
    """Copy the demo project (its cache kept) to ``folder`` with the load-test limits; returns its path."""
    target = (folder or bench_dir()) / "project"
    target.mkdir(parents=True, exist_ok=True)
    for item in DEMO_PROJECT.iterdir():
        if item.name == ".careline":
            continue
        dest = target / item.name
        if item.is_dir():
            shutil.copytree(item, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(item, dest)
    config_file = target / "config.yml"
    config = yaml.safe_load(config_file.read_text()) or {}
    config["limits"] = {**config.get("limits", {}), **LIMITS}
    config["widget"] = {**config.get("widget", {}), **WIDGET}
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    return target


@dataclass
class Server:
    """One ``careline serve`` process: its base URL, process and log file."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[str] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, within: float = 600) -> None:
        """Block until ``/health`` answers; on failure stop the process and raise with its log's last lines."""
        try:
            wait_healthy(self.url, self.process, within=within)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{exc}; last lines of {self.log_path}:\n{tail}") from exc

    def settle(self, *, idle_share: float = 0.05, quiet_s: int = 3, within: float = 300) -> float:
        """Block until the process has used under ``idle_share`` of a core for ``quiet_s`` seconds in a row (its
        start-up work, e.g. the voice's phrase cache warming in a background thread, is done) and return the
        CPU seconds it used from start until then; gives up after ``within`` seconds."""
        from benchmarks._load.machine import tree_cpu_seconds as cpu_seconds

        began = time.monotonic()
        quiet = 0
        last = cpu_seconds(self.pid) or 0.0
        while quiet < quiet_s and time.monotonic() - began < within:
            time.sleep(1.0)
            now = cpu_seconds(self.pid) or last
            quiet = quiet + 1 if now - last < idle_share else 0
            last = now
        return round(last, 1)

    def stop(self) -> None:
        """Terminate (then kill) the process and close its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


def server_env(*, redis_url: str | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a benchmark worker."""
    env = {
        **os.environ,
        "CARELINE_REST_TOKEN": REST_TOKEN,
        "CARELINE_ADMIN_TOKEN": ADMIN_TOKEN,
        "CARELINE_TOKENS": f"bench-ops:ops:{OPS_TOKEN}",
        "CARELINE_SECRET": SECRET,
        "CARELINE_LOG_LEVEL": "warning",
        "CARELINE_REDIS_URL": redis_url or "",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    return {**env, **(extra or {})}


def start_server(project: Path, database_url: str, log_dir: Path, *, redis_url: str | None = None,
                 name: str = "worker", within: float = 600, wait: bool = True, workers: int = 1) -> Server:
    """Start ``careline serve`` for ``project`` on a free port (``--workers N``: a supervisor and N worker
    processes sharing the port) and (when ``wait``) wait until ``/health`` answers (else call
    :meth:`Server.wait` later)."""
    port = free_port()
    log_path = log_dir / f"{name}.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "careline", "serve", "--project", str(project), "--port", str(port),
         "--database", database_url, "--workers", str(workers)],
        env=server_env(redis_url=redis_url), stdout=log, stderr=subprocess.STDOUT,
    )
    server = Server(f"http://127.0.0.1:{port}", process, log_path, log)
    if wait:
        server.wait(within)
    return server


@contextmanager
def serving(project: Path, database_url: str, log_dir: Path, *, workers: int = 1, redis_url: str | None = None,
            ) -> Iterator[Server]:
    """``careline serve --workers N`` on one port, once every worker's start-up work is done."""
    server = start_server(project, database_url, log_dir, redis_url=redis_url, name=f"workers{workers}",
                          workers=workers)
    try:
        if workers > 1:
            wait_workers(server, workers)
        server.settle()
        yield server
    finally:
        server.stop()


def wait_workers(server: Server, workers: int, within: float = 300) -> None:
    """Block until the supervisor has ``workers`` live children (the later ones start after the first answers)."""
    from benchmarks._load.machine import process_tree

    deadline = time.monotonic() + within
    while len(process_tree(server.pid)) < workers + 1 and time.monotonic() < deadline:
        time.sleep(0.5)
