"""Wire a project's flow runner: its backend (``backend:`` in config.yml) and where its business actions run."""

from __future__ import annotations

from collections.abc import Mapping

from bot.flows.actions import shipped_actions
from bot.flows.actions.executor import Executor, HttpExecutor, InProcessExecutor
from bot.flows.backend.base import Backend
from bot.flows.backend.demo import DEMO_SEED, DemoBackend
from bot.flows.backend.http import HttpBackend
from bot.flows.lockout import Clock, Lockout, MemoryLockout, StoredLockout
from bot.flows.runner import FlowRunner
from bot.infra import environment
from bot.infra.logs import get_logger
from bot.kernel.errors import ConfigError, ConfigProblem
from bot.project import Project
from bot.storage import Database

log = get_logger(__name__)


def demo_backend(project: Project) -> DemoBackend:
    """The demo backend, seeded from the project's ``seed.json`` (or the bundled demo data), in memory; its
    calendar is moved to ``CARELINE_DEMO_TODAY`` when that is set (``make run`` sets ``today``)."""
    seed = project.path / "seed.json"
    if not seed.exists():
        seed = DEMO_SEED
    today = environment.demo_today()
    log.info("demo_backend_in_use", seed=str(seed), today=str(today or "the seed's"))
    return DemoBackend.from_seed_file(seed, today=today)


def make_backend(project: Project, *, environ: Mapping[str, str] | None = None) -> Backend:
    """The backend ``backend:`` in config.yml selects: the demo one (default) or :class:`HttpBackend`.

    ``backend.token_env`` is read from ``environ`` (default: the process environment) here, once, at start-up;
    a named variable that is unset is a :class:`ConfigError`.
    """
    config = project.config.backend
    if config.type == "demo":
        return demo_backend(project)
    assert config.url is not None  # the schema requires it with type: http
    token = None
    if config.token_env is not None:
        token = environment.secret(config.token_env, environ)
        if not token:
            raise ConfigError([ConfigProblem(project.path / "config.yml", None, "backend.token_env",
                                             f"environment variable {config.token_env} is not set")])
    log.info("http_backend_in_use", url=config.url, token=token is not None, timeout=config.timeout)
    return HttpBackend(config.url, token=token, timeout=config.timeout)


def make_lockout(project: Project, database: Database | None = None, *, clock: Clock | None = None) -> Lockout:
    """The verification lockout: in ``database`` (shared by every worker on it), else in this process's memory."""
    if database is None:
        return MemoryLockout(project.config.auth, clock=clock)
    return StoredLockout(database, project.config.auth, clock=clock)


def make_executor(project: Project, backend: Backend, *, lockout: Lockout | None = None) -> Executor:
    """A Rasa action server when ``action_endpoint`` is configured, else the shipped actions in-process."""
    if project.config.action_endpoint:
        return HttpExecutor(project.config.action_endpoint)
    return InProcessExecutor(shipped_actions(backend, lockout=lockout or make_lockout(project)))


def flow_runner(project: Project, backend: Backend | None = None, *, database: Database | None = None,
                lockout: Lockout | None = None, clock: Clock | None = None) -> FlowRunner:
    """The runner for ``project`` (``backend`` defaults to :func:`make_backend`).

    Failed verifications are counted in ``lockout``, by default in ``database`` (every worker on it shares the
    locks) or, without one, in this process only. ``clock`` (seconds since the epoch) drives verification expiry
    and the lockout; tests inject one.
    """
    backend = backend or make_backend(project)
    lockout = lockout or make_lockout(project, database, clock=clock)
    return FlowRunner(make_executor(project, backend, lockout=lockout), clock=clock, backend=backend,
                      lockout=lockout)
