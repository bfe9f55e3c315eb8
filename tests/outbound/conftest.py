"""An app with outbound campaigns wired to a local Twilio stand-in, and a frozen clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app.runtime import Runtime, build_runtime
from bot.infra.embeddings import Embedder
from bot.infra.settings import Settings
from bot.outbound import FrozenClock, OutboundService
from bot.project import Project
from bot.testing.server import serve_app
from connectors.outbound.routes import register_senders
from connectors.outbound.standin import TwilioStandIn
from tests.conftest import TEST_TOKENS

AUTH_TOKEN = "secret-token"
FROM_NUMBER = "+15005550006"
#: Thursday 26 November 2026, 10:00 in London: the day before Ada's physiotherapy appointment (P2001).
THURSDAY_10AM = datetime(2026, 11, 26, 10, 0, tzinfo=ZoneInfo("Europe/London")).timestamp()
APPOINTMENT_DAY = "2026-11-27"


@dataclass
class Line:
    """The app, the runtime behind it, the Twilio stand-in and the clock the scheduler reads."""

    url: str
    runtime: Runtime
    twilio: TwilioStandIn
    clock: FrozenClock

    @property
    def service(self) -> OutboundService:
        assert self.runtime.outbound is not None
        return self.runtime.outbound


@pytest.fixture
async def line(demo_project: Project, embedder: Embedder, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Line]:
    """The demo app (signed Twilio webhooks) with voice and SMS campaigns going to the stand-in."""
    from connectors.web import create_app

    twilio = TwilioStandIn(AUTH_TOKEN)
    async with twilio.serve() as twilio_url:
        env = {"TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
               "TWILIO_API_BASE": twilio_url, "TWILIO_FROM_NUMBER": FROM_NUMBER}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        runtime = await build_runtime(Settings(database_url=f"sqlite:///{tmp_path / 'outbound.db'}",
                                               admin_token="test-admin-token", admin_token_generated=False,
                                               tokens=TEST_TOKENS), demo_project, embedder=embedder)
        clock = FrozenClock(THURSDAY_10AM)
        assert runtime.outbound is not None
        runtime.outbound.clock = clock
        async with serve_app(create_app(runtime)) as url:
            register_senders(runtime.outbound, {**env, "CARELINE_PUBLIC_URL": url})
            yield Line(url, runtime, twilio, clock)
