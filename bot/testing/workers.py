"""Run several real ``careline serve`` processes for multi-worker tests (shared database and Redis).

```python
with serve_workers(2, database_url=pg_url, redis_url=redis_url, log_dir=tmp_path) as urls:
    ...  # urls[0], urls[1] answer /health
    urls[0].kill()  # SIGKILL, as a crashed or OOM-killed worker
```
Workers start one after the other, so later ones reuse the models and index the first one built. Each URL
is a :class:`Worker`: a ``str`` that also holds its process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO


class Worker(str):
    """A worker's base URL (``http://127.0.0.1:PORT``) with its process."""

    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        """``kill -9`` the worker (no clean-up of any kind runs) and wait until it is gone."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], *, within: float) -> None:
    """Poll ``url``/health until it answers 200; raise if the process exits or ``within`` seconds pass."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as resp:  # noqa: S310 - loopback only
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"worker {url} not healthy after {within} s")


@contextmanager
def serve_workers(
    count: int, *, database_url: str, redis_url: str, log_dir: Path, env: Mapping[str, str] | None = None,
    within: float = 300, project: Path | None = None,
) -> Iterator[list[Worker]]:
    """Start ``count`` workers on loopback sharing ``database_url`` and ``redis_url`` (and ``project``, default
    the bundled demo); yields their base URLs."""
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[IO[str]] = []
    urls: list[Worker] = []
    where = ["--project", str(project)] if project is not None else []
    try:
        for index in range(count):
            port = free_port()
            log = (log_dir / f"worker{index}.log").open("w")
            logs.append(log)
            procs.append(subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [sys.executable, "-m", "careline", "serve", "--port", str(port), "--database", database_url, *where],
                env={**os.environ, "CARELINE_REDIS_URL": redis_url, "CARELINE_LOG_LEVEL": "warning", **(env or {})},
                stdout=log, stderr=subprocess.STDOUT,
            ))
            worker = Worker(f"http://127.0.0.1:{port}")
            worker.process = procs[-1]
            urls.append(worker)
            wait_healthy(worker, procs[-1], within=within)
        yield urls
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for handle in logs:
            handle.close()
