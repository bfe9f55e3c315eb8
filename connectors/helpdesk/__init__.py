"""Helpdesk connectors: mirror handoffs to an external desk and take the agents' answers back.

- :mod:`~connectors.helpdesk.webhook`: a generic signed webhook (HMAC-SHA256, retries with backoff,
  idempotency keys) and its signed inbound endpoint.
- :mod:`~connectors.helpdesk.chatwoot`: Chatwoot with agent-bot semantics (``pending`` = the bot,
  ``open`` = humans, back to ``pending`` = the bot resumes), the context as a private note.
- :mod:`~connectors.helpdesk.dispatcher`: listens to the engine's bus and delivers each event once.
- :mod:`~connectors.helpdesk.routes`: the inbound HTTP endpoints and the dispatcher's lifetime.
"""

from connectors.helpdesk.dispatcher import Dispatcher, Target
from connectors.helpdesk.signing import SignatureInvalid, sign, verify

__all__ = ["Dispatcher", "SignatureInvalid", "Target", "sign", "verify"]
