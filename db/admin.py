"""``python -m db.admin grant --user alice --credits 500``: operator commands (``make grant``,
``make api-key``). A grant made here records its actor: ``--by`` or the machine account, via ``cli``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid

from core import api_keys as keys
from core.actors import Actor
from core.identity import is_canonical_user_id
from core.settings import get_settings
from db import api_keys, credits


async def _grant(user: str, amount: int, reason: str, grant_id: str | None, actor: Actor) -> int:
    key = f"grant:{grant_id or uuid.uuid4()}"
    granted = await credits.grant(user, amount, reason=reason, entry_key=key, actor=actor)
    balance = await credits.balance(user)
    if granted:
        print(f"granted {amount} credits to {user}; balance {balance}")
    else:
        print(f"grant {key} was already made; balance of {user} is {balance}")
    return 0


async def _api_key(user: str, name: str, scope: keys.ApiKeyScope) -> int:
    new = keys.generate()
    await api_keys.create(user, new, name=name, limit=get_settings().max_api_keys_per_user, scope=scope)
    print(new.key)  # alone on stdout, so that `KEY=$(make -s api-key USER=alice)` works
    return 0


async def _grants(user: str | None, limit: int) -> int:
    for row in await credits.recent_grants(user, limit=limit):
        actor = row.actor
        by = f"{actor.user_id} via {actor.method}" if actor is not None else "(actor not recorded)"
        print(f"{row.created_at:%Y-%m-%d %H:%M:%S%z}  {row.user_id}  +{row.amount}  by {by}  {row.reason}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m db.admin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    grant = sub.add_parser("grant", help="add credits to a user's ledger")
    grant.add_argument("--user", required=True)
    grant.add_argument("--credits", type=int, required=True)
    grant.add_argument("--reason", default="manual grant")
    grant.add_argument("--grant-id", default=None, help="makes the grant idempotent (same id = same grant)")
    grant.add_argument("--by", default=None, help="who is granting (recorded); default: the machine account")
    listing = sub.add_parser("grants", help="list recent grants and who made them, newest first")
    listing.add_argument("--user", default=None, help="only this user's grants")
    listing.add_argument("--limit", type=int, default=50)
    balance = sub.add_parser("balance", help="print a user's balance")
    balance.add_argument("--user", required=True)
    key = sub.add_parser("api-key", help="create an API key for a user and print it (shown this once)")
    key.add_argument("--user", required=True)
    key.add_argument("--name", default="created with make api-key")
    key.add_argument(
        "--scope",
        type=keys.ApiKeyScope,
        choices=list(keys.ApiKeyScope),
        default=keys.DEFAULT_SCOPE,
        help="basic (default): jobs, batches, account; manage: also rotate the webhook secret, revoke other keys",
    )
    args = parser.parse_args(argv)
    if args.command == "api-key":
        if not is_canonical_user_id(args.user):
            parser.error("--user must be a user id in canonical form (no surrounding spaces)")
        return asyncio.run(_api_key(args.user, args.name[: keys.MAX_NAME_LENGTH], args.scope))
    if args.command == "grants":
        if not 0 < args.limit <= 10_000:
            parser.error("--limit must be between 1 and 10000")
        return asyncio.run(_grants(args.user, args.limit))
    if args.command == "grant":
        if not 0 < args.credits <= 10_000_000:
            parser.error("--credits must be between 1 and 10000000")
        actor = Actor.cli(args.by)
        if not is_canonical_user_id(actor.user_id):
            parser.error("--by must be 1-255 printable characters")
        return asyncio.run(_grant(args.user.strip(), args.credits, args.reason, args.grant_id, actor))
    print(asyncio.run(credits.balance(args.user.strip())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
