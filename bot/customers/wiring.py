"""Wire customer continuity into a runtime: one :class:`Continuity` per process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.customers.continuity import LinkVerified, MatterFinder, Recorder, ResumeMatter
from bot.customers.store import CustomerStore
from bot.project import Project
from bot.storage import ConversationStore, Database


@dataclass(slots=True)
class Continuity:
    """The customer records and the two stages that use them."""

    customers: CustomerStore
    link: LinkVerified
    """Closing stage: link on verification, offer the open matter."""
    resume: ResumeMatter
    """Answering stage: take up or decline the offer."""

    def attach(self, recorder: Recorder) -> None:
        """Give the resume stage the engine's write path (``engine.record_with``) once the engine exists."""
        self.resume.recorder = recorder


async def open_continuity(project: Project, database: Database, conversations: ConversationStore, *,
                          clock: Callable[[], float] | None = None) -> Continuity:
    """Customer records in ``database`` (tables created here) and the continuity stages for ``project``."""
    customers = CustomerStore(database)
    await customers.setup()
    finder = MatterFinder(customers, conversations, project.config.customers, clock=clock)
    return Continuity(customers, LinkVerified(finder), ResumeMatter(conversations))
