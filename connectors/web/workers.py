"""``careline serve --workers N``: N server processes on one port, supervised.

Every worker is a full ``careline serve`` process (its own event loop, models and database pool) listening on
the same address with ``SO_REUSEPORT``, so the kernel spreads connections over them and any worker can take any
turn: conversations are kept in the shared database and serialized by the Redis locks, and live updates cross
workers on the Redis bus (so ``N > 1`` needs ``CARELINE_REDIS_URL``). The first worker starts alone and the
others after it answers ``/health`` (they reuse the models, ONNX export and index it cached). The supervisor
gives every worker the same admin, agent/ops tokens and signing secret, restarts a worker that dies (after
:data:`RESTART_DELAY` seconds), and on SIGTERM or Ctrl-C stops them all.
"""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from types import FrameType

from bot.infra import environment
from bot.infra.logs import get_logger
from bot.infra.settings import Settings

log = get_logger(__name__)

RESTART_DELAY = 1.0
"""Seconds before a worker that exited is started again."""
START_WITHIN = 300.0
"""Seconds the first worker has to answer ``/health`` (it may train and export models)."""


def shared_environment(settings: Settings, *, secret: str | None) -> dict[str, str]:
    """What every worker must agree on: the tokens (printed once, by the supervisor) and the signing secret."""
    tokens = ",".join(f"{p.name}:{p.role}:{p.token}" for p in settings.tokens)
    return environment.for_child({
        "CARELINE_ADMIN_TOKEN": settings.admin_token, "CARELINE_TOKENS": tokens,
        "CARELINE_SECRET": secret or secrets.token_urlsafe(32),
    })


class Supervisor:
    """Starts, watches and stops the worker processes."""

    def __init__(self, command: Sequence[str], count: int, env: dict[str, str], health_url: str) -> None:
        self.command = list(command)
        self.count = count
        self.env = env
        self.health_url = health_url
        self.workers: list[subprocess.Popen[bytes]] = []
        self.stopping = False

    def _spawn(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(self.command, env=self.env)  # noqa: S603 - our own interpreter and arguments
        log.info("worker_started", pid=process.pid)
        return process

    def _wait_healthy(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_WITHIN
        while time.monotonic() < deadline and not self.stopping:
            if process.poll() is not None:
                raise SystemExit(f"error: the first worker exited with {process.returncode} while starting")
            try:
                with urllib.request.urlopen(self.health_url, timeout=2) as response:  # noqa: S310 - our own address
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        if not self.stopping:
            raise SystemExit(f"error: the first worker did not answer {self.health_url} within {START_WITHIN} s")

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; returns the exit status."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        try:
            self.workers.append(self._spawn())
            self._wait_healthy(self.workers[0])
            self.workers += [self._spawn() for _ in range(self.count - 1)]
            log.info("workers_serving", workers=self.count, pids=[w.pid for w in self.workers])
            while not self.stopping:
                for index, worker in enumerate(self.workers):
                    if worker.poll() is not None and not self.stopping:
                        log.warning("worker_exited", pid=worker.pid, code=worker.returncode,
                                    restart_in=RESTART_DELAY)
                        time.sleep(RESTART_DELAY)
                        self.workers[index] = self._spawn()
                time.sleep(0.2)
        finally:
            self._shutdown()
        return 0

    def _shutdown(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in self.workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=5)
        log.info("workers_stopped", workers=len(self.workers))


def worker_command(argv: Sequence[str]) -> list[str]:
    """``careline serve`` as one worker of a group: the same arguments with ``--workers 1 --reuse-port``."""
    return [sys.executable, "-m", "careline", "serve", *argv, "--workers", "1", "--reuse-port"]
