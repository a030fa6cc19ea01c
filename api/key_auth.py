"""``X-Api-Key`` authentication: which user an API key belongs to (:func:`api.auth.principal_from_api_key`
makes the same :class:`~api.auth.Principal` of it as of a bearer token, so rate limits, quotas, credits
and ownership checks apply to the user exactly as they do for tokens)."""

from __future__ import annotations

import datetime as dt

from litestar.exceptions import NotAuthorizedException

from core.api_keys import hash_key, looks_like_key
from db import api_keys

API_KEY_HEADER = "x-api-key"


async def key_owner(presented: str) -> api_keys.KeyOwner:
    """The owner of an active key we issued; :class:`NotAuthorizedException` for anything else."""
    key = presented.strip()
    # the shape check spares the database every malformed or foreign key (remove.bg's, a token pasted here)
    if not looks_like_key(key):
        raise NotAuthorizedException("X-Api-Key is not an API key issued by this service")
    owner = await api_keys.owner_of(hash_key(key))
    if owner is None:
        raise NotAuthorizedException("The API key is unknown or was revoked")
    if api_keys.touch_due(owner, dt.datetime.now(dt.UTC)):
        await api_keys.touch(owner.key_id)
    return owner
