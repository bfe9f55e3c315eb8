"""Inbound helpdesk endpoints and the dispatcher's lifetime in the web app.

    POST /api/helpdesk/webhook             generic, HMAC-SHA256 signed (see :mod:`.webhook`)
    POST /api/helpdesk/chatwoot/{token}    Chatwoot's webhook; ``token`` is the configured secret

Secrets are read from the environment variables the config names, once, when the app starts. What the
dispatcher sends is masked for agents (:class:`bot.handoff.privacy.Redactor`).
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from bot.handoff.privacy import Redactor
from bot.infra.environment import variables
from bot.infra.logs import get_logger
from bot.kernel.errors import ConfigError, ConfigProblem
from bot.kernel.events import Event
from connectors.helpdesk.chatwoot import ChatwootTarget, apply_chatwoot_webhook
from connectors.helpdesk.dispatcher import Dispatcher, Target
from connectors.helpdesk.signing import SignatureInvalid, verify
from connectors.helpdesk.webhook import WebhookTarget, apply_inbound
from connectors.web.app import RUNTIME, error, parse_json_object

log = get_logger(__name__)



@dataclass(slots=True)
class Helpdesk:
    """The app's helpdesk state: filled in when the app starts."""

    environment: Mapping[str, str] | None = None
    """Where secrets are read from (default: the process environment, :func:`bot.infra.environment.variables`);
    tests pass a dict."""
    secrets: dict[str, str] = field(default_factory=dict)
    dispatcher: Dispatcher | None = None


HELPDESK: web.AppKey[Helpdesk] = web.AppKey("helpdesk", Helpdesk)


async def inbound_webhook(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    secret = request.app[HELPDESK].secrets.get("webhook")
    if runtime.handoff is None or not secret:
        return error(404, "the generic helpdesk webhook is not configured (handoff.webhook)")
    raw = await request.read()
    verify(secret, request.headers, raw)
    result = await apply_inbound(runtime.handoff, parse_json_object(raw))
    log.info("helpdesk_inbound_applied", action=result.get("status"))
    return web.json_response(result)


async def inbound_chatwoot(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    secret = request.app[HELPDESK].secrets.get("chatwoot")
    if runtime.handoff is None or not secret:
        return error(404, "the Chatwoot connector is not configured (handoff.chatwoot)")
    if not hmac.compare_digest(request.match_info["token"].encode(), secret.encode()):
        raise SignatureInvalid("unknown Chatwoot webhook token")
    body = parse_json_object(await request.read())
    return web.json_response(await apply_chatwoot_webhook(runtime.handoff, runtime.database, body))


async def helpdesk_context(app: web.Application) -> AsyncIterator[None]:
    """Start the dispatcher when a connector is configured; stop it when the app stops."""
    runtime = app[RUNTIME]
    state = app[HELPDESK]
    env = state.environment if state.environment is not None else variables()
    config = runtime.project.config.handoff
    targets: list[Target] = []
    secrets = state.secrets

    def secret(name: str, key: str) -> str:
        value = env.get(name, "")
        if not value:
            raise ConfigError([ConfigProblem(runtime.project.path / "config.yml", None, key,
                                             f"the environment variable {name} is not set")])
        return value

    if config.webhook is not None:
        secrets["webhook"] = secret(config.webhook.secret_env, "handoff.webhook.secret_env")
        targets.append(WebhookTarget(config.webhook, secrets["webhook"]))
    if config.chatwoot is not None:
        secrets["chatwoot"] = secret(config.chatwoot.webhook_token_env, "handoff.chatwoot.webhook_token_env")
        api_token = secret(config.chatwoot.api_token_env, "handoff.chatwoot.api_token_env")
        chatwoot = ChatwootTarget(config.chatwoot, api_token, runtime.database)
        await chatwoot.setup()
        targets.append(chatwoot)

    async def redact(conversation_id: str, event: Event) -> Event:
        """Helpdesks always get masked events (``reveal_sensitive_to`` is for the agent view only)."""
        state = await runtime.engine.state(conversation_id)
        return Redactor(state.events, runtime.project).event(event)

    dispatcher = Dispatcher(runtime.engine.bus, runtime.database, targets, redact=redact) if targets else None
    state.dispatcher = dispatcher
    if dispatcher is not None:
        await dispatcher.start()
        log.info("helpdesk_dispatcher_started", targets=[t.name for t in targets])
    yield
    if dispatcher is not None:
        await dispatcher.close()


def setup_routes(app: web.Application) -> None:
    """Mount the inbound endpoints and the dispatcher."""
    app.router.add_post("/api/helpdesk/webhook", inbound_webhook)
    app.router.add_post("/api/helpdesk/chatwoot/{token}", inbound_chatwoot)
    app[HELPDESK] = Helpdesk()
    app.cleanup_ctx.append(helpdesk_context)
