"""``widget:`` in ``config.yml``: how the embeddable web chat looks and whom it serves.

Only pydantic is imported here: :mod:`bot.project.schema` embeds this model in ``ProjectConfig``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator


class WidgetConfig(BaseModel):
    """Settings of the web chat widget served at ``/widget.js``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allowed_origins: list[str] = Field(default_factory=list)
    """Pages (``scheme://host[:port]``) allowed to open the chat; the server's own origin always is,
    ``"*"`` allows any. Requests without an ``Origin`` header (non-browser clients) are accepted."""
    title: str = Field(default="Chat with us", min_length=1, max_length=60)
    """Heading of the chat panel and label of the launcher button."""
    brand_color: str = Field(default="#1f5fbf", pattern=r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
    """Colour of the launcher, header and customer bubbles, as ``#rgb`` or ``#rrggbb``."""
    greeting: str | None = Field(default=None, max_length=500)
    """Shown as the panel's first message (not stored); ``None`` shows nothing of its own."""
    start_payload: str | None = Field(default="/greet", max_length=200)
    """Sent, hidden, when a new conversation opens so the bot greets with its quick replies;
    ``None`` waits for the customer to write first."""
    messages_per_minute: int = Field(default=20, ge=1, le=600)
    """Messages one client (address) may send per minute to one conversation, over all its connections and
    workers (a token bucket refilled at this rate; reconnecting does not refill it)."""
    burst: int = Field(default=5, ge=1, le=100)
    """Messages one client may send to one conversation at once before the per-minute rate applies."""
    heartbeat_seconds: float = Field(default=25.0, ge=1, le=300)
    """Ping interval of the websocket; a peer silent for two intervals is disconnected."""
    history_limit: int = Field(default=200, ge=1, le=5000)
    """Most recent conversation items sent to a page that resumes a session."""

    @field_validator("allowed_origins")
    @classmethod
    def check_origins(cls, origins: list[str]) -> list[str]:
        """Each entry is ``*`` or a bare origin: scheme and host, no path."""
        for origin in origins:
            if origin == "*":
                continue
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
                raise ValueError(f"allowed origin {origin!r} must look like https://shop.example.com")
        return [o.rstrip("/") for o in origins]
