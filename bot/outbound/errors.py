"""Errors of outbound campaigns (see :mod:`bot.kernel.errors` for the tree they hang from).

    RequestError
    ├── CampaignInvalid     a campaign request names an unknown kind, channel or rule (HTTP 400)
    ├── CampaignNotFound    no campaign with that id (HTTP 404)
    └── CampaignConflict    the campaign cannot do that now (resume a cancelled one; HTTP 409)
"""

from __future__ import annotations

from bot.kernel.errors import RequestError


class CampaignInvalid(RequestError):
    status = 400


class CampaignNotFound(RequestError):
    status = 404


class CampaignConflict(RequestError):
    status = 409
