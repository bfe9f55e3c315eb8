"""Wire a project's flow runner: its backend and where its business actions run."""

from __future__ import annotations

from bot.flows.actions import shipped_actions
from bot.flows.actions.executor import Executor, HttpExecutor, InProcessExecutor
from bot.flows.backend.base import Backend
from bot.flows.backend.demo import DEMO_SEED, DemoBackend
from bot.flows.runner import FlowRunner
from bot.logs import get_logger
from bot.project import Project

log = get_logger(__name__)


def default_backend(project: Project) -> Backend:
    """The demo backend, seeded from the project's ``seed.json`` (or the bundled demo data), in memory."""
    seed = project.path / "seed.json"
    if not seed.exists():
        seed = DEMO_SEED
    log.info("demo_backend_in_use", seed=str(seed))
    return DemoBackend.from_seed_file(seed)


def make_executor(project: Project, backend: Backend) -> Executor:
    """A Rasa action server when ``action_endpoint`` is configured, else the shipped actions in-process."""
    if project.config.action_endpoint:
        return HttpExecutor(project.config.action_endpoint)
    return InProcessExecutor(shipped_actions(backend))


def flow_runner(project: Project, backend: Backend | None = None) -> FlowRunner:
    """The runner for ``project`` (``backend`` defaults to :func:`default_backend`)."""
    backend = backend or default_backend(project)
    runner = FlowRunner(make_executor(project, backend))
    runner.backend = backend
    return runner
