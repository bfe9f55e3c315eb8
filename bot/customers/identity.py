"""The widget's signed-in user: an HS256 JWT from the embedding site proves who the customer is.

The site that embeds the widget already knows its signed-in user. It mints a short-lived token with the
secret it shares with Careline (``customers.identity_token.secret_env``) and passes it to the widget
(``CarelineWidget.identify(token)``), which posts it to ``/widget/conversations/{id}/identity``. A valid token
verifies the widget conversation for that customer exactly as a verification the customer gave would (the
``authenticated``, ``customer_id`` and ``verified_at`` slots; the conversation is linked to the customer record),
so the authentication flow does not ask again. The format (RFC 7519, compact JWS, RFC 7515):

* header ``{"alg": "HS256", "typ": "JWT"}`` — any other ``alg`` (``none`` included) is refused;
* claims ``sub`` (the backend's customer id, required), ``iat`` and ``exp`` (seconds since the epoch,
  required; ``exp`` at most ``max_age`` after ``iat``), ``iss`` (must equal ``issuer``), ``aud`` (must equal, or
  as a list contain, ``audience``); ``jti`` and other claims are ignored.

Nothing but this signed token verifies a channel: a caller id on the phone line is a hint for agents, never
proof (:meth:`bot.customers.store.CustomerStore.hinted`), and client metadata is never read for identity.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.customers.config import IdentityTokenConfig
from bot.customers.continuity import TOKEN, VERIFIED_BY
from bot.flows.sessions import VERIFIED_AT
from bot.infra import environment
from bot.kernel.conversation import ConversationState
from bot.kernel.errors import ConfigError, ConfigProblem, RequestError, Unauthorized
from bot.kernel.events import Event, SlotSet

MIN_SECRET_BYTES = 32
MAX_TOKEN_CHARS = 4096
CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_.@:+-]{1,128}$")


class TokenMalformed(RequestError):
    """The token is not a compact HS256 JWT with the required claims (HTTP 400)."""


class TokenRefused(Unauthorized):
    """The token is well formed but does not prove the customer: bad signature, expired, wrong issuer or
    audience (HTTP 401)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a valid token says the customer is."""

    customer_id: str
    issued_at: float
    expires_at: float
    issuer: str


def _b64decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenMalformed("the token is not base64url") from exc


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign_token(claims: dict[str, Any], secret: str) -> str:
    """An HS256 JWT for ``claims`` (what the embedding site does; tests and docs use it)."""
    header = _b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64encode(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64encode(signature)}"


class IdentityVerifier:
    """Checks tokens against one configuration and secret (read once, at start-up)."""

    def __init__(self, config: IdentityTokenConfig, secret: str) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the identity token secret in {config.secret_env} is shorter than {MIN_SECRET_BYTES} "
                             "bytes; use a long random value")
        self.config = config
        self._secret = secret.encode()

    def verify(self, token: str, *, now: float) -> Identity:
        """The identity ``token`` proves at ``now``, or :class:`TokenMalformed` / :class:`TokenRefused` with the
        reason."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise TokenMalformed(f"'token' must be a JWT string of at most {MAX_TOKEN_CHARS} characters")
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenMalformed("the token must have three dot-separated parts (header.claims.signature)")
        header, claims = self._json(parts[0], "header"), self._json(parts[1], "claims")
        if header.get("alg") != "HS256":
            raise TokenRefused(f"the token's algorithm must be HS256, got {str(header.get('alg'))[:20]!r}")
        expected = hmac.new(self._secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64decode(parts[2])):
            raise TokenRefused("the token's signature does not match")
        return self._claims(claims, now)

    @staticmethod
    def _json(part: str, what: str) -> dict[str, Any]:
        try:
            value = json.loads(_b64decode(part))
        except (ValueError, UnicodeDecodeError) as exc:
            raise TokenMalformed(f"the token's {what} is not JSON") from exc
        if not isinstance(value, dict):
            raise TokenMalformed(f"the token's {what} must be a JSON object")
        return value

    def _claims(self, claims: dict[str, Any], now: float) -> Identity:
        config = self.config
        sub, iat, exp = claims.get("sub"), claims.get("iat"), claims.get("exp")
        if not isinstance(sub, str) or not CUSTOMER_ID.match(sub):
            raise TokenMalformed("the token's 'sub' must be the customer id (1 to 128 letters, digits or . _ @ : + -)")
        for name, value in (("iat", iat), ("exp", exp)):
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TokenMalformed(f"the token's {name!r} must be seconds since the epoch")
        assert isinstance(iat, int | float) and isinstance(exp, int | float)
        if claims.get("iss") != config.issuer:
            raise TokenRefused(f"the token's issuer is not {config.issuer!r}")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if config.audience not in audiences:
            raise TokenRefused(f"the token's audience does not include {config.audience!r}")
        if exp + config.leeway < now:
            raise TokenRefused("the token has expired")
        if iat - config.leeway > now:
            raise TokenRefused("the token was issued in the future (check the site's clock)")
        if exp - iat > config.max_age:
            raise TokenRefused(f"the token lives longer than {int(config.max_age)} s (exp - iat)")
        return Identity(sub, float(iat), float(exp), str(claims["iss"]))


class OtherCustomer(RequestError):
    """The conversation is already verified for a different customer (HTTP 409): start a new conversation."""

    status = 409


def signed_in(state: ConversationState, identity: Identity, *, now: float) -> list[Event]:
    """The events that verify ``state``'s conversation for ``identity`` (none when it already is), or
    :class:`OtherCustomer` when it is verified for someone else."""
    current = state.slots.get("customer_id")
    if state.slots.get("authenticated") and current not in (None, identity.customer_id):
        raise OtherCustomer("this conversation is verified for another customer; start a new conversation")
    return [SlotSet(name="authenticated", value=True, timestamp=now),
            SlotSet(name="customer_id", value=identity.customer_id, timestamp=now),
            SlotSet(name=VERIFIED_AT, value=now, timestamp=now),
            SlotSet(name="auth_attempts", value=0, timestamp=now),
            SlotSet(name=VERIFIED_BY, value=TOKEN, timestamp=now)]


def verifier_for(config: IdentityTokenConfig | None,
                 environ: Mapping[str, str] | None = None, *,
                 path: Path = Path("config.yml")) -> IdentityVerifier | None:
    """The verifier ``customers.identity_token`` configures (``None`` when unset); the secret is read from the
    environment here, once; an unset or short secret is a :class:`~bot.kernel.errors.ConfigError`."""
    if config is None:
        return None
    secret = environment.secret(config.secret_env, environ)
    problem = None if secret else f"environment variable {config.secret_env} is not set"
    if secret and len(secret.encode()) < MIN_SECRET_BYTES:
        problem = f"the secret in {config.secret_env} is shorter than {MIN_SECRET_BYTES} bytes"
    if problem is not None or secret is None:
        raise ConfigError([ConfigProblem(path, None, "customers.identity_token.secret_env",
                                         problem or "no secret")])
    return IdentityVerifier(config, secret)
