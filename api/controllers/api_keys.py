"""The caller's API keys: create (the key is in the answer, once), list, revoke."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from api.auth import Principal
from api.permissions import require_scope, require_token
from api.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyList, ApiKeyOut
from api.web import openapi_examples as ex
from core import api_keys as keys
from core.errors import InvalidOptions, NotFound
from core.rows import ApiKeyRow
from core.settings import Settings
from db import api_keys


def _out(row: ApiKeyRow) -> ApiKeyOut:
    return ApiKeyOut(
        id=row.id,
        prefix=row.prefix,
        name=row.name,
        scope=row.scope,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


def _name(data: ApiKeyIn | None) -> str:
    name = (data.name if data is not None else "").strip()
    if len(name) > keys.MAX_NAME_LENGTH or not name.isprintable():
        raise InvalidOptions(f"name must be at most {keys.MAX_NAME_LENGTH} printable characters", parameter="name")
    return name


class ApiKeyController(Controller):
    path = "/api-keys"
    tags = ["api keys"]

    @post(
        "/",
        operation_id="createApiKey",
        summary="Create an API key (shown once)",
        status_code=201,
        responses=ex.CREATE_API_KEY_RESPONSES,
    )
    async def create(
        self,
        request: Request[Principal, Any, Any],
        settings: NamedDependency[Settings],
        data: Annotated[
            ApiKeyIn | None, Body(media_type=RequestEncodingType.JSON, examples=ex.API_KEY_EXAMPLES)
        ] = None,
    ) -> ApiKeyCreated:
        """Answers 201 with the key itself in `key`: store it now, it is never shown again (only its hash
        is kept). Send it as `X-Api-Key` instead of a bearer token. Optional JSON `{"name": "...",
        "scope": "basic"}`: the `basic` scope (the default) submits and reads jobs and batches and reads
        the account; `manage` may also rotate the webhook secret and revoke the other keys, and is given
        only when asked for. Needs a bearer token (403 `token_required` with a key): a leaked key must not
        be able to mint keys that outlive its revocation. 409 `api_key_limit_reached` past the per-user
        limit of active keys."""
        require_token(request.user, "Creating an API key")
        new = keys.generate()
        row = await api_keys.create(
            request.user.user_id,
            new,
            name=_name(data),
            limit=settings.max_api_keys_per_user,
            scope=data.scope if data is not None else keys.DEFAULT_SCOPE,
        )
        return ApiKeyCreated(**msgspec.structs.asdict(_out(row)), key=new.key)

    @get(
        "/",
        operation_id="listApiKeys",
        summary="The caller's active API keys (never the keys themselves)",
        responses=ex.LIST_API_KEYS_RESPONSES,
    )
    async def list_keys(self, request: Request[Principal, Any, Any], settings: NamedDependency[Settings]) -> ApiKeyList:
        """Oldest first: id, prefix (the key's first characters), name, scope, creation and last use."""
        rows = await api_keys.list_active(request.user.user_id)
        return ApiKeyList(api_keys=[_out(r) for r in rows], limit=settings.max_api_keys_per_user)

    @delete(
        "/{key_id:uuid}",
        operation_id="revokeApiKey",
        summary="Revoke an API key",
        status_code=200,
        responses=ex.REVOKE_API_KEY_RESPONSES,
    )
    async def revoke(self, request: Request[Principal, Any, Any], key_id: FromPath[uuid.UUID]) -> ApiKeyOut:
        """From the next request on, the key is refused with 401. Another user's key id is a 404. A key of
        the `basic` scope may revoke itself (a key found leaked can be switched off with itself) but not
        the others: 403 `insufficient_scope`, so a leaked key cannot lock its owner's other scripts out."""
        if request.user.api_key_id != key_id:
            require_scope(request.user, keys.ApiKeyScope.MANAGE, "Revoking another API key")
        row = await api_keys.revoke(key_id, request.user.user_id)
        if row is None:
            raise NotFound(f"No active API key {key_id}.", resource="api_key")
        return _out(row)
