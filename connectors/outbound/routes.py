"""Outbound routes on the shared app (mounted by :func:`connectors.web.app.create_app`, after the voice routes).

    POST /api/outbound/campaigns                     create a campaign (ops role)
    GET  /api/outbound/campaigns                     every campaign with its outcome counts (ops role)
    GET  /api/outbound/campaigns/{id}                targets (phones masked), attempts, outcomes (ops role)
    POST /api/outbound/campaigns/{id}/pause|resume|cancel                                 (ops role)
    ... and Twilio's webhooks (see :mod:`.webhooks`).

Channels are registered on the runtime's :class:`~bot.outbound.OutboundService` from the environment, once:
voice and SMS with ``TWILIO_ACCOUNT_SID`` + ``TWILIO_AUTH_TOKEN`` (+ ``TWILIO_API_BASE``), ``TWILIO_FROM_NUMBER``
and ``CARELINE_PUBLIC_URL``; the webhook channel always. The web app runs the scheduler itself with
``CARELINE_OUTBOUND_SCHEDULER=1`` (any number of workers: the store's lease lets one tick at a time);
otherwise ``careline outbound run`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re

from aiohttp import web

from bot.infra.environment import variables
from bot.infra.logs import get_logger
from bot.kernel.errors import RequestError
from bot.outbound import OutboundService
from connectors.outbound import webhooks
from connectors.outbound.bridge import PREFIX, OutboundBridge
from connectors.outbound.senders import OutboundLinks, TwilioCalls, TwilioMessages, WebhookSender
from connectors.voice.config import TwilioCredentials, webhook_auth_token
from connectors.voice.routes import VOICE
from connectors.web.app import RUNTIME, read_json
from connectors.web.auth import require_role

log = get_logger(__name__)

CAMPAIGN_ID = re.compile(r"^[0-9a-f]{12}$")
SPEC_KEYS = {"name", "kind", "channel", "day", "rules", "webhook_url"}
SCHEDULER_TASK: web.AppKey[asyncio.Task[None]] = web.AppKey("outbound_scheduler", asyncio.Task)
SCHEDULER_STOP: web.AppKey[asyncio.Event] = web.AppKey("outbound_scheduler_stop", asyncio.Event)


def register_senders(service: OutboundService, env: dict[str, str] | None = None) -> list[str]:
    """Give ``service`` the channels the environment configures; the channel names registered."""
    environ = dict(variables() if env is None else env)
    service.senders["webhook"] = WebhookSender()
    credentials, links = TwilioCredentials.from_env(environ), OutboundLinks.from_env(environ)
    if credentials is not None and links is not None:
        service.senders["voice"] = TwilioCalls(credentials, links)
        service.senders["sms"] = TwilioMessages(credentials, links)
    else:
        log.info("outbound_twilio_off", hint="set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER and "
                                             "CARELINE_PUBLIC_URL to place calls and send messages")
    return sorted(service.senders)


def _service(request: web.Request) -> OutboundService:
    require_role(request, request.app[RUNTIME].settings, "ops")
    return request.app[webhooks.OUTBOUND]


def _campaign_id(request: web.Request) -> str:
    campaign_id = request.match_info["campaign_id"]
    if not CAMPAIGN_ID.match(campaign_id):
        raise RequestError("a campaign id is 12 hex digits")
    return campaign_id


async def create_campaign(request: web.Request) -> web.Response:
    service = _service(request)
    body = await read_json(request)
    unknown = sorted(set(body) - SPEC_KEYS)
    if unknown:
        raise RequestError(f"unknown key(s) {', '.join(map(repr, unknown))}; expected {sorted(SPEC_KEYS)}")
    if body.get("rules") is not None and not isinstance(body["rules"], dict):
        raise RequestError("'rules' must be an object")
    campaign = await service.create(body)
    return web.json_response(await service.view(campaign.id), status=201)


async def list_campaigns(request: web.Request) -> web.Response:
    return web.json_response(await _service(request).summary())


async def get_campaign(request: web.Request) -> web.Response:
    service = _service(request)
    return web.json_response(await service.view(_campaign_id(request)))


async def change_campaign(request: web.Request) -> web.Response:
    service = _service(request)
    campaign = await service.set_status(_campaign_id(request), request.match_info["action"])
    return web.json_response(campaign.to_dict())


async def _start_scheduler(app: web.Application) -> None:
    stop = asyncio.Event()
    app[SCHEDULER_STOP] = stop
    app[SCHEDULER_TASK] = asyncio.create_task(app[webhooks.OUTBOUND].run(stop=stop))


async def _stop_scheduler(app: web.Application) -> None:
    app[SCHEDULER_STOP].set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(app[SCHEDULER_TASK], timeout=10)


def setup_routes(app: web.Application) -> None:
    """Mount the outbound API and webhooks and register the channels (when the runtime has outbound)."""
    service = app[RUNTIME].outbound
    if service is None:
        return
    app[webhooks.OUTBOUND] = service
    app[webhooks.WEBHOOK_TOKEN] = webhook_auth_token() or ""
    register_senders(service)
    app.router.add_post("/api/outbound/campaigns", create_campaign)
    app.router.add_get("/api/outbound/campaigns", list_campaigns)
    app.router.add_get("/api/outbound/campaigns/{campaign_id}", get_campaign)
    app.router.add_post("/api/outbound/campaigns/{campaign_id}/{action:pause|resume|cancel}", change_campaign)
    app.router.add_post("/sms/inbound", webhooks.sms_inbound)
    if VOICE in app:
        app[VOICE].bridges[PREFIX] = functools.partial(OutboundBridge, service=service)
        app.router.add_post("/voice/outbound/answer", webhooks.answer)
        app.router.add_post("/voice/outbound/status", webhooks.status)
    if variables().get("CARELINE_OUTBOUND_SCHEDULER", "").lower() in ("1", "on", "true", "yes"):
        app.on_startup.append(_start_scheduler)
        app.on_cleanup.insert(0, _stop_scheduler)
