"""Who may open a call: Twilio's webhook signatures, and the token that ties a media stream to its TwiML.

One check per hop of an incoming call:

* ``POST /voice/twiml`` (and any other Twilio webhook) comes from Twilio when
  :func:`twilio_signature` of the URL Twilio called and the form it posted, keyed by the account's
  auth token, equals the ``X-Twilio-Signature`` header (Twilio's documented HMAC-SHA1 scheme).
* ``GET /voice/stream`` is the call that TwiML connected when its ``start`` message carries the token
  :class:`StreamTokens` minted in that TwiML: HMAC-SHA256 under ``Settings.secret`` (shared by every
  worker) over the conversation id, the CallSid, the caller id hint, an expiry a minute away and a
  nonce. The conversation id comes from the token only: a caller never picks the conversation its call
  joins. Each token opens one stream per process (a replay to the same worker is refused).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from connectors.voice.errors import StreamRefused

TOKEN_VERSION = "v1"  # noqa: S105 - a format tag, not a credential
#: Longest token accepted before any decoding (a real one is ~250 characters).
MAX_TOKEN_CHARS = 1024
#: Keeps these MACs apart from anything else keyed by ``Settings.secret`` (client pseudonyms).
_DOMAIN = b"careline/voice-stream/v1\x00"
_DEFAULT_PORTS = {"https": 443, "http": 80, "wss": 443, "ws": 80}


@dataclass(frozen=True, slots=True)
class StreamGrant:
    """What a valid stream token says: which conversation the call is, for which Twilio call, until when."""

    conversation_id: str
    call_sid: str
    """Twilio's CallSid from the TwiML request (``""`` when it had none); the stream's must be the same."""
    caller: str | None
    """The ``From`` of the TwiML request: a hint for rate limits and lockouts, never proof of identity."""
    expires_at: float
    nonce: str

    @property
    def source(self) -> str:
        """The message source the engine keys limits on: ``caller:<From>``, else ``call:<CallSid>``."""
        if self.caller:
            return f"caller:{self.caller}"
        return f"call:{self.call_sid or self.conversation_id}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "replace")


def _mac(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, _DOMAIN + payload.encode("ascii"), hashlib.sha256).digest())


def mint_stream_token(secret: bytes, grant: StreamGrant) -> str:
    """``v1.<payload>.<mac>``: the grant as base64url JSON, signed with HMAC-SHA256 under ``secret``."""
    claims = {"c": grant.conversation_id, "s": grant.call_sid, "f": grant.caller,
              "e": int(grant.expires_at), "n": grant.nonce}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{TOKEN_VERSION}.{payload}.{_mac(secret, payload)}"


def read_stream_token(secret: bytes, token: str | None, *, call_sid: str | None,
                      now: float | None = None) -> StreamGrant:
    """The grant in ``token`` if it is ours, unexpired and for ``call_sid``; :class:`StreamRefused` otherwise."""
    if not token:
        raise StreamRefused("the stream carries no token")
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise StreamRefused("malformed stream token")
    version, payload, mac = token.split(".")
    if version != TOKEN_VERSION:
        raise StreamRefused(f"unknown stream token version {version[:8]!r}")
    if not payload.isascii() or not hmac.compare_digest(_mac(secret, payload).encode(), _utf8(mac)):
        raise StreamRefused("stream token signature is invalid")
    grant = _claims(payload)
    if (time.time() if now is None else now) >= grant.expires_at:
        raise StreamRefused("stream token expired")
    if not hmac.compare_digest(_utf8(grant.call_sid), _utf8(call_sid or "")):
        raise StreamRefused("stream token was minted for another call")
    return grant


def _claims(payload: str) -> StreamGrant:
    """The payload's claims as a grant; any other shape is refused, never a crash."""
    try:
        claims = json.loads(_unb64(payload))
    except (binascii.Error, ValueError) as exc:
        raise StreamRefused("malformed stream token") from exc
    if not isinstance(claims, dict):
        raise StreamRefused("malformed stream token")
    conversation_id, call_sid, expires_at, nonce, caller = (claims.get(k) for k in "csenf")
    if not (isinstance(conversation_id, str) and isinstance(call_sid, str) and isinstance(expires_at, int)
            and 0 < expires_at < 2**40 and isinstance(nonce, str) and (caller is None or isinstance(caller, str))):
        raise StreamRefused("malformed stream token")
    return StreamGrant(conversation_id, call_sid, caller, float(expires_at), nonce)


def unverified_conversation_id(token: str) -> str | None:
    """The conversation id a token names, without checking it (for the simulated caller's own records)."""
    try:
        return _claims(token.split(".")[1]).conversation_id
    except (IndexError, StreamRefused):
        return None


@dataclass(slots=True)
class StreamTokens:
    """Mints the token ``/voice/twiml`` passes to its ``<Stream>`` and redeems it once when the stream starts."""

    secret: bytes
    ttl_secs: float = 60.0
    _used: dict[str, float] = field(default_factory=dict)

    def mint(self, conversation_id: str, call_sid: str, caller: str | None, *, now: float | None = None) -> str:
        """A token for ``conversation_id``, valid for ``ttl_secs`` on the stream of ``call_sid``."""
        expires_at = (time.time() if now is None else now) + self.ttl_secs
        grant = StreamGrant(conversation_id, call_sid, caller, expires_at, secrets.token_urlsafe(9))
        return mint_stream_token(self.secret, grant)

    def redeem(self, token: str | None, *, call_sid: str | None, now: float | None = None) -> StreamGrant:
        """The token's grant, or :class:`StreamRefused` (also when this process already let it in)."""
        now = time.time() if now is None else now
        grant = read_stream_token(self.secret, token, call_sid=call_sid, now=now)
        self._used = {n: until for n, until in self._used.items() if until > now}
        if grant.nonce in self._used:
            raise StreamRefused("stream token was already used")
        self._used[grant.nonce] = grant.expires_at
        return grant


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """Twilio's ``X-Twilio-Signature``: base64 HMAC-SHA1 of the URL followed by each POST parameter's
    name and value, sorted by name (then value, for repeated names), keyed by the auth token."""
    data = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(_utf8(auth_token), _utf8(data), hashlib.sha1).digest()).decode()


def twilio_signature_valid(auth_token: str, url: str, params: Iterable[tuple[str, str]],
                           signature: str | None) -> bool:
    """True when ``signature`` is Twilio's for ``url`` and ``params``, with or without the default port
    in the URL (Twilio signs the URL as configured, which a proxy may rewrite either way)."""
    if not signature:
        return False
    items = list(params)
    return any(hmac.compare_digest(twilio_signature(auth_token, candidate, items).encode(),
                                   _utf8(signature))
               for candidate in _port_variants(url))


def _port_variants(url: str) -> list[str]:
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    if default is None or not host or (parts.port not in (None, default)):
        return [url]
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    bare = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    ported = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}"))
    return [url, ported if parts.port is None else bare]
