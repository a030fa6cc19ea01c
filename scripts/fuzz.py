"""``make chaos``: fuzz a running API with schemathesis, from the API's own OpenAPI schema.

    PYTHONPATH=. .venv/bin/python scripts/fuzz.py [--base-url http://127.0.0.1:8000] [--token JWT]
                                                  [--max-examples 50] [--max-time 300] [--seed N]

Without ``--token`` a development token for ``fuzz-user`` is signed with this machine's settings
(``JWT_SECRET`` etc. must match the server's). Every operation of ``/schema/openapi.json`` is
exercised with generated valid and invalid inputs; a response fails the run when

* it is a 5xx (``not_a_server_error``),
* its content type is not one the schema declares (``content_type_conformance``),
* it is a 4xx/5xx whose body is not ``application/problem+json`` with a ``code`` (``problem_json_errors``).

Exit status 0 when nothing failed, 1 otherwise; the failures are printed with a curl reproduction.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import schemathesis
from schemathesis import CheckContext, Response

PROBLEM_MEDIA_TYPE = "application/problem+json"
CHECKS = ("not_a_server_error", "content_type_conformance", "problem_json_errors")


@schemathesis.check
def problem_json_errors(ctx: CheckContext, response: Response, case: schemathesis.Case[Any]) -> bool | None:
    """Every error answer is RFC 9457 problem+json carrying the service's stable ``code``."""
    if response.status_code < 400:
        return None
    values = response.headers.get("content-type") or [""]
    content_type = values[0]
    if not content_type.startswith(PROBLEM_MEDIA_TYPE):
        raise AssertionError(f"HTTP {response.status_code} answered with {content_type!r}, not {PROBLEM_MEDIA_TYPE}")
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("code"), str) or not body["code"]:
        raise AssertionError(f"HTTP {response.status_code} problem body has no `code`: {str(body)[:300]}")
    return True


def _default_token() -> str:
    from api.auth import make_token
    from core.settings import get_settings

    return make_token(get_settings(), "fuzz-user")


def build_cli_args(args: argparse.Namespace, token: str) -> list[str]:
    base = args.base_url.rstrip("/")
    cli = [
        "run",
        f"{base}/schema/openapi.json",
        "--url",
        base,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(args.max_examples),
        "--max-time",
        str(args.max_time),
        "--request-timeout",
        "30",
        "--workers",
        str(args.workers),
        "--continue-on-failure",
        "--generation-database",
        "none",
    ]
    if args.seed is not None:
        cli += ["--seed", str(args.seed)]
    if args.phases:
        cli += ["--phases", args.phases]
    for pattern in args.exclude_path:
        cli += ["--exclude-path-regex", pattern]
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=os.environ.get("FUZZ_BASE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("FUZZ_TOKEN"), help="bearer token (default: dev token)")
    parser.add_argument("--max-examples", type=int, default=50, help="examples per operation and phase")
    parser.add_argument("--max-time", type=int, default=300, help="time budget of the whole run, in seconds")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--phases", default="", help="e.g. examples,coverage,fuzzing (default: all)")
    parser.add_argument(
        "--exclude-path",
        action="append",
        default=None,
        help="regex of paths to skip (repeatable; default: the readiness probe, 503 by design without a worker)",
    )
    args = parser.parse_args(argv)
    if args.exclude_path is None:
        args.exclude_path = ["/health/ready$"]
    token = args.token or _default_token()

    from schemathesis.cli import schemathesis as cli

    try:
        cli.main(args=build_cli_args(args, token), prog_name="schemathesis", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
