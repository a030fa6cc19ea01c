"""``python -m api.tokens --user alice``: print a development bearer token (``make token USER=alice``)."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from api.auth import make_token
from core.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--user", required=True, help="user id, put in the token's JWT_USER_CLAIM (`sub` by default)")
    parser.add_argument(
        "--hours", type=float, default=12.0, help="lifetime in hours (default 12; at most JWT_MAX_LIFETIME_S)"
    )
    parser.add_argument("--scope", default="", help="space-separated scopes (informational: rights come from settings)")
    args = parser.parse_args(argv)
    try:
        token = make_token(get_settings(), args.user, ttl=timedelta(hours=args.hours), scope=args.scope)
    except ValueError as exc:
        parser.error(str(exc))
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
