"""Why an agent action was refused (each maps to an HTTP status; nothing is stored when one is raised).

    RequestError (bot.kernel.errors)
    └── HandoffRefused                 409: the conversation is not in a state that allows the action
        ├── UnknownConversation        404: no such conversation, or it was never handed to humans
        ├── NotYourConversation        403: another agent owns it
        └── UnknownTeam                400: transfer to a team routing does not know
"""

from __future__ import annotations

from bot.kernel.errors import RequestError


class HandoffRefused(RequestError):
    """The action does not fit the conversation's status (e.g. replying before claiming)."""

    status = 409


class UnknownConversation(HandoffRefused):
    """No conversation with that id was ever handed to humans."""

    status = 404


class NotYourConversation(HandoffRefused):
    """Another agent owns the conversation."""

    status = 403


class UnknownTeam(HandoffRefused):
    """The team is not one routing knows."""

    status = 400
