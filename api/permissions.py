"""What a caller may do beyond their own jobs, batches and account.

An API key never expires and ends up in scripts, CI variables and plugins, so the routes that move
money, grant plans or make credentials refuse it whatever its scope (:func:`require_token`, ``403
token_required``), and a key of the default ``basic`` scope cannot take over the account's other
credentials (:func:`require_scope`, ``403 insufficient_scope``). A bearer token is short-lived
(``JWT_MAX_LIFETIME_S``) and may do both.
"""

from __future__ import annotations

from api.auth import Principal
from core.actors import Actor, ActorMethod
from core.api_keys import ApiKeyScope
from core.errors import ApiKeyScopeTooNarrow, TokenRequired


def require_token(principal: Principal, action: str) -> None:
    if not principal.by_token:
        raise TokenRequired(f"{action} needs a bearer token; API keys are refused here, whatever their scope.")


def require_scope(principal: Principal, scope: ApiKeyScope, action: str) -> None:
    """A bearer token passes; an API key needs ``scope`` (``basic`` is below ``manage``)."""
    if principal.by_token or principal.api_key_scope is scope:
        return
    raise ApiKeyScopeTooNarrow(
        f"{action} needs a bearer token or an API key with the {scope.value!r} scope; "
        f"this key's scope is '{principal.api_key_scope}'.",
        requiredScope=scope.value,
    )


def token_actor(principal: Principal) -> Actor:
    """The actor an admin route records: only ever reached with a token (:func:`require_token` first)."""
    require_token(principal, "An admin action")
    return Actor(user_id=principal.user_id, method=ActorMethod.TOKEN)
