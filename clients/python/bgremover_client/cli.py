"""``bgremover`` / ``python -m bgremover_client``: remove backgrounds from the command line.

Every failure prints one line to stderr (named after the API's problem code) and exits with a code a
script can rely on; see :data:`EXIT_CODES` and ``bgremover --help``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

from bgremover_client._errors import (
    APIError,
    AuthenticationError,
    BgRemoverClientError,
    Conflict,
    InsufficientCredits,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
)
from bgremover_client._files import collect_images, extract_zip
from bgremover_client._models import ApiKey, Batch, Job, Pricing, Subscription
from bgremover_client._options import OutputOptions
from bgremover_client._progress import ProgressBar
from bgremover_client._sync import Client

__all__ = [
    "EXIT_AUTH",
    "EXIT_CODES",
    "EXIT_CREDITS",
    "EXIT_FAILED_IMAGES",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "build_parser",
    "exit_code_for",
    "main",
    "message_for",
    "renumber",
    "split_evenly",
]

EXIT_OK = 0
EXIT_FAILED_IMAGES = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_CREDITS = 4
EXIT_UNAVAILABLE = 5
EXIT_INVALID = 6

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success: every image was processed",
    EXIT_FAILED_IMAGES: "the request was accepted but some (or all) images failed",
    EXIT_USAGE: "usage error (unknown command, bad flag)",
    EXIT_AUTH: "authentication or permission problem (401/403: set BGREMOVER_TOKEN / --token or BGREMOVER_API_KEY)",
    EXIT_CREDITS: "insufficient credits (402) or subscription quota used up (429 quota_exceeded)",
    EXIT_UNAVAILABLE: "service unavailable, rate limited, server error, network error or wait timeout",
    EXIT_INVALID: "invalid input: missing file, unusable image, bad option, unknown tier, not found, conflict",
}

_MESSAGES: dict[str, str] = {
    "unauthorized": (
        "Authentication failed: {detail}. Set BGREMOVER_TOKEN (make token USER=you) or pass --token, "
        "or use an API key (BGREMOVER_API_KEY or --api-key)."
    ),
    "api_key_limit_reached": "Too many API keys: {detail}",
    "forbidden": "Not allowed: {detail}",
    "token_required": "Needs a bearer token (BGREMOVER_TOKEN or --token), not an API key: {detail}",
    "insufficient_scope": "The API key's scope does not allow this: {detail}",
    "quota_exceeded": "Subscription quota used up for today: {detail}",
    "rate_limited": "Too many requests: {detail}{retry}",
    "not_found": "Not found: {detail}",
    "result_not_ready": "Result not ready: {detail}",
    "conflict": "Conflict: {detail}",
    "job_not_cancellable": "Cannot cancel: {detail}",
    "batch_not_finished": "Batch not finished yet: {detail}",
    "already_subscribed": "Already subscribed: {detail}",
    "idempotency_in_progress": "The same request is still being processed: {detail}",
    "unsupported_media_type": "Unsupported image (JPEG, PNG or WebP only): {detail}",
    "file_too_large": "Image too large: {detail}",
    "payload_too_large": "Upload too large: {detail}",
    "resolution_too_high": "Resolution too high: {detail}",
    "resolution_too_low": "Resolution too low: {detail}",
    "corrupt_image": "Corrupt image: {detail}",
    "no_subject_detected": "No subject detected: {detail}",
    "invalid_image": "Invalid image: {detail}",
    "invalid_options": "Invalid option: {detail}",
    "unknown_tier": "Unknown tier: {detail}",
    "invalid_webhook_url": "Invalid webhook URL: {detail}",
    "batch_too_small": "Batch too small: {detail}",
    "batch_too_large": "Batch too large: {detail}",
    "idempotency_key_reused": "Idempotency key reused for a different request: {detail}",
    "validation_error": "Invalid request: {detail}",
    "bad_request": "Invalid request: {detail}",
    "tier_unavailable": "Tier unavailable: {detail} (`bgremover pricing` lists the available tiers).",
    "database_unavailable": "Service unavailable (database): {detail}{retry}",
    "schema_not_ready": "Service unavailable: {detail} (an operator must run `make migrate`).",
    "model_missing": "Service unavailable: {detail} (an operator must run `make models`).",
    "model_checksum_mismatch": "Service unavailable: {detail} (an operator must run `make models`).",
    "model_error": "Service unavailable: {detail}",
    "redis_unavailable": "Service unavailable (Redis): {detail}",
    "no_worker": "Service unavailable (no worker running): {detail}",
    "service_unavailable": "Service unavailable: {detail}{retry}",
    "internal_error": "Server error: {detail}",
    "transport_error": "Cannot reach the bgremover API: {detail} (check BGREMOVER_URL or --url).",
    "timeout": "The bgremover API did not answer in time: {detail}",
    "wait_timeout": "Gave up waiting: {detail} (raise --timeout, or check that a worker runs).",
}


def message_for(error: BaseException) -> str:
    """One line describing ``error`` for a person, by problem code."""
    if isinstance(error, InsufficientCredits):
        required, balance = error.required, error.balance
        if required is not None and balance is not None:
            line = (
                f"Insufficient credits: this needs {required} credits but the balance is {balance} "
                f"(short by {required - balance}). Ask for a grant, e.g. `make grant USER=<you> CREDITS={required}`."
            )
        else:
            line = f"Insufficient credits: {error.detail}"
    elif isinstance(error, BgRemoverClientError):
        template = _MESSAGES.get(error.code, "{detail}")
        retry_after = getattr(error, "retry_after", None)
        retry = f" Retry in {retry_after:g}s." if isinstance(retry_after, int | float) else ""
        line = template.format(detail=error.detail.rstrip("."), retry=retry)
        if isinstance(error, APIError) and error.status is not None and error.status >= 500 and error.request_id:
            line += f" [request id {error.request_id}]"
    elif isinstance(error, FileNotFoundError):
        line = f"No such file or folder: {error.args[0] if error.args else error}"
    else:
        line = f"{type(error).__name__}: {error}"
    return " ".join(line.split())


def exit_code_for(error: BaseException) -> int:
    """The documented exit code for ``error`` (see :data:`EXIT_CODES`)."""
    if isinstance(error, AuthenticationError | PermissionDenied):
        return EXIT_AUTH
    if isinstance(error, InsufficientCredits | QuotaExceeded):
        return EXIT_CREDITS
    if isinstance(error, InvalidRequest | NotFound | Conflict | FileNotFoundError | IsADirectoryError):
        return EXIT_INVALID
    return EXIT_UNAVAILABLE


T = TypeVar("T")


def split_evenly(items: Sequence[T], max_size: int) -> list[list[T]]:
    """Split into the fewest chunks of at most ``max_size``, as even as possible (so none is too small)."""
    if not items:
        return []
    count = math.ceil(len(items) / max(1, max_size))
    base, extra = divmod(len(items), count)
    chunks: list[list[T]] = []
    start = 0
    for index in range(count):
        size = base + (1 if index < extra else 0)
        chunks.append(list(items[start : start + size]))
        start += size
    return chunks


_POSITION = re.compile(r"^(\d+)_(.*)$")


def renumber(entry: str, offset: int, width: int = 3) -> str:
    """``003_cat.png`` of a batch that starts at image ``offset`` → ``{offset + 3:0width}_cat.png``."""
    match = _POSITION.match(entry)
    if match is None:
        return entry
    return f"{int(match.group(1)) + offset:0{width}d}_{match.group(2)}"


def _epilog() -> str:
    lines = ["exit codes:"]
    lines += [f"  {code}  {text}" for code, text in EXIT_CODES.items()]
    lines += [
        "",
        "environment:",
        "  BGREMOVER_URL      API base URL (default http://127.0.0.1:8000)",
        "  BGREMOVER_TOKEN    bearer token (`make token USER=you` prints a development one)",
        "  BGREMOVER_API_KEY  API key, used instead of the token (`bgremover keys create`)",
        "",
        "examples:",
        "  bgremover remove photo.jpg --out cutouts",
        "  bgremover remove ./photos --tier standard --format webp --size 1200 --out ./cutouts",
        "  bgremover balance && bgremover pricing",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``bgremover`` command."""
    parser = argparse.ArgumentParser(
        prog="bgremover",
        description="Remove image backgrounds with a bgremover service.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", help="API base URL (default: $BGREMOVER_URL or http://127.0.0.1:8000)")
    credential = parser.add_mutually_exclusive_group()
    credential.add_argument("--token", help="bearer token (default: $BGREMOVER_TOKEN)")
    credential.add_argument("--api-key", help="API key instead of a token (default: $BGREMOVER_API_KEY)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    remove = commands.add_parser(
        "remove",
        help="remove the background of images (one file: a job; several or a folder: batches)",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    remove.add_argument(
        "paths", nargs="+", metavar="PATH", help="image files and/or folders of images, or one http(s) image URL"
    )
    remove.add_argument("--tier", default="basic", help="basic, standard, professional or industry (default basic)")
    remove.add_argument("--out", default="cutouts", type=Path, help="folder for the results (default ./cutouts)")
    remove.add_argument("--format", choices=["png", "webp", "jpg", "zip"], help="png (default), webp, jpg or zip")
    remove.add_argument("--channels", choices=["rgba", "alpha"], help="rgba cut-out (default) or the alpha mask")
    remove.add_argument("--bg-color", help="composite onto a colour: #rgb, #rrggbb or #rrggbbaa")
    remove.add_argument("--crop", action="store_true", default=None, help="crop to the subject")
    remove.add_argument("--crop-margin", help="margin around the cropped subject: pixels (12) or percent (5%%)")
    remove.add_argument("--size", type=int, help="maximum long side of the output in pixels")
    background = remove.add_mutually_exclusive_group()
    background.add_argument("--bg-image", type=Path, metavar="PATH", help="put the cut-out on this image (covered)")
    background.add_argument("--bg-image-url", metavar="URL", help="put the cut-out on the image at this URL")
    remove.add_argument("--roi", help="only this region can be foreground: 'x1 y1 x2 y2' in px or %%")
    remove.add_argument("--scale", help="the subject's share of the canvas, 10%%-100%% (centred unless --position)")
    remove.add_argument("--position", help="where the subject sits: center, or 'x%% y%%' (50%% 100%%: bottom)")
    remove.add_argument("--shadow", action="store_true", default=None, help="a soft shadow under the subject")
    remove.add_argument(
        "--hard-edges", action="store_true", help="no semi-transparency: each pixel is subject or background"
    )
    remove.add_argument("--type", dest="subject_type", help="person, product, car, animal, … (remove.bg's type)")
    remove.add_argument("--webhook-url", help="URL notified when each job or batch finishes")
    remove.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for results (default 3600)")
    remove.add_argument("--quiet", "-q", action="store_true", help="no progress output")

    jobs = commands.add_parser("jobs", help="list your single jobs, newest first")
    jobs.add_argument("--limit", type=int, default=20, help="how many (default 20; 0 for all)")
    commands.add_parser("balance", help="show your credit balance")
    commands.add_parser("pricing", help="show tiers, prices, discounts, plans and limits")
    commands.add_parser("stats", help="show your usage statistics")
    sub = commands.add_parser("subscription", help="show, start, renew or cancel your subscription")
    action = sub.add_mutually_exclusive_group()
    action.add_argument(
        "--subscribe", metavar="PLAN", help="subscribe to PLAN, paid in credits (see `bgremover pricing`)"
    )
    action.add_argument("--renew", action="store_true", help="pay one more period of your plan in credits")
    action.add_argument("--cancel", action="store_true", help="cancel now (the rest of the period is not refunded)")
    sub.add_argument("--idempotency-key", help="with --subscribe or --renew: a retry with the same key charges once")

    keys = commands.add_parser("keys", help="create, list or revoke your API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = key_commands.add_parser("create", help="create a key and print it (shown once; needs a bearer token)")
    create.add_argument("--name", default="", help="a label to tell keys apart")
    create.add_argument(
        "--scope",
        choices=["basic", "manage"],
        default=None,
        help="basic (the default): jobs, batches, account; manage: also rotate the webhook secret, revoke other keys",
    )
    key_commands.add_parser("list", help="list your active keys (never the keys themselves)")
    revoke = key_commands.add_parser("revoke", help="revoke a key: it is refused from then on")
    revoke.add_argument("key_id", metavar="ID", help="the key's id, as `bgremover keys list` shows it")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see :data:`EXIT_CODES`)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        with Client(args.url, args.token, api_key=args.api_key) as bg:
            command = args.command
            if command == "remove":
                return _remove(bg, args)
            if command == "jobs":
                return _jobs(bg, args)
            if command == "balance":
                balance = bg.balance()
                _out(args, {"balance": balance.balance, "userId": balance.user_id}, f"{balance.balance} credits")
                return EXIT_OK
            if command == "pricing":
                return _pricing(bg.pricing(), args)
            if command == "stats":
                stats = bg.stats()
                _out(args, dict(vars(stats)), _format_stats(vars(stats)))
                return EXIT_OK
            if command == "keys":
                return _keys(bg, args)
            return _subscription(bg, args)
    except (BgRemoverClientError, FileNotFoundError, IsADirectoryError) as exc:
        _err(message_for(exc))
        for item in exc.errors if isinstance(exc, APIError) else []:
            _err(f"  #{item.get('index', '?')} {item.get('filename') or ''}: {item.get('code')}: {item.get('detail')}")
        return exit_code_for(exc)
    except KeyboardInterrupt:
        _err("Interrupted; jobs already submitted keep running on the server.")
        return 130


def _err(line: str, stream: TextIO | None = None) -> None:
    print(line, file=stream or sys.stderr)


def _out(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, default=str, indent=2) if args.json else text)


def _remove(bg: Client, args: argparse.Namespace) -> int:
    urls = [p for p in args.paths if p.lower().startswith(("http://", "https://"))]
    if urls and len(args.paths) > 1:
        _err("Give one image URL on its own, or files and folders.")
        return EXIT_INVALID
    paths = [] if urls else collect_images(args.paths)
    if not paths and not urls:
        _err(f"No images (.jpg, .jpeg, .png, .webp) in {' '.join(args.paths)}.")
        return EXIT_INVALID
    options = OutputOptions(
        format=args.format,
        channels=args.channels,
        bg_color=args.bg_color,
        crop=args.crop,
        crop_margin=args.crop_margin,
        size=args.size,
        bg_image_url=args.bg_image_url,
        roi=args.roi,
        scale=args.scale,
        position=args.position,
        shadow=args.shadow,
        semitransparency=False if args.hard_edges else None,
        subject_type=args.subject_type,
    )
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if urls or len(paths) == 1:
        return _remove_one(bg, urls[0] if urls else paths[0], options, args)
    return _remove_many(bg, paths, options, args)


def _remove_one(bg: Client, source: Path | str, options: OutputOptions, args: argparse.Namespace) -> int:
    if isinstance(source, Path):
        path = source
        job = bg.submit(path, tier=args.tier, webhook_url=args.webhook_url, options=options, background=args.bg_image)
    else:
        path = Path(source.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "image")
        job = bg.submit(
            image_url=source, tier=args.tier, webhook_url=args.webhook_url, options=options, background=args.bg_image
        )
    if not args.quiet:
        _err(f"Submitted {path.name} as job {job.id} ({job.credits_charged} credits); waiting…")
    job = bg.wait(job, timeout=args.timeout)
    if job.status != "completed":
        _err(f"{path.name}: {job.status}: {job.error_code or job.status}: {job.error_message or ''}".rstrip(": "))
        if args.json:
            print(json.dumps({"jobs": [job.raw], "written": []}, default=str, indent=2))
        return EXIT_FAILED_IMAGES
    written = bg.download_result(job, str(args.out) + os.sep)
    if args.json:
        print(json.dumps({"jobs": [job.raw], "written": [str(written)]}, default=str, indent=2))
    else:
        print(written)
    return EXIT_OK


def _remove_many(bg: Client, paths: list[Path], options: OutputOptions, args: argparse.Namespace) -> int:
    limits = bg.pricing().limits
    chunks = split_evenly(paths, limits.batch_max_images or 500)
    width = max(3, len(str(len(paths))))
    bar = None if args.quiet else ProgressBar(len(paths), label="removing")
    done_before = failed_before = offset = 0
    written: list[Path] = []
    failures: list[tuple[str, str, str]] = []
    batches: list[Batch] = []
    try:
        for chunk in chunks:
            batch = bg.submit_batch(
                chunk, tier=args.tier, webhook_url=args.webhook_url, options=options, background=args.bg_image
            )
            if bar is not None and len(chunks) > 1:
                _err(f"Submitted batch {batch.batch_id}: {len(chunk)} images, {batch.credits_charged} credits.")

            def show(b: Batch, before: int = done_before, failed: int = failed_before) -> None:
                if bar is not None:
                    done = sum(i.is_final for i in b.images) if b.images is not None else b.processed_images
                    bar.update(before + done, failed + b.failed_images)

            batch = bg.wait(batch, timeout=args.timeout, on_progress=show)
            batches.append(batch)
            done_before += batch.total_images
            failed_before += batch.failed_images
            failures += [(i.filename, i.error_code or i.status, i.error_message or "") for i in batch.failed]
            if batch.download_url is not None:
                archive = args.out / f".{batch.batch_id}.zip.download"
                try:
                    bg.download_zip(batch, archive)
                    rename = {name: renumber(name, offset, width) for name in _zip_names(archive)}
                    written += extract_zip(archive, args.out, rename=rename)
                finally:
                    archive.unlink(missing_ok=True)
            offset += len(chunk)
    finally:
        if bar is not None:
            bar.close()
    for filename, code, message in failures:
        _err(f"{filename}: {code}: {message}".rstrip(": "))
    if args.json:
        print(json.dumps({"batches": [b.raw for b in batches], "written": [str(p) for p in written]}, indent=2))
    elif not args.quiet:
        _err(f"{len(written)} of {len(paths)} images written to {args.out}.")
    return EXIT_FAILED_IMAGES if failures or len(written) < len(paths) else EXIT_OK


def _zip_names(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as zf:
        return zf.namelist()


def _jobs(bg: Client, args: argparse.Namespace) -> int:
    rows: list[Job] = []
    for job in bg.jobs(page_size=min(100, args.limit) if args.limit > 0 else 100):
        rows.append(job)
        if 0 < args.limit <= len(rows):
            break
    if args.json:
        print(json.dumps([j.raw for j in rows], default=str, indent=2))
        return EXIT_OK
    if not rows:
        print("No jobs yet.")
    for j in rows:
        created = j.created_at.strftime("%Y-%m-%d %H:%M") if j.created_at else "?"
        error = f"  {j.error_code}" if j.error_code else ""
        print(f"{j.id}  {created}  {j.tier:<12} {j.status:<10} {j.credits_charged:>3}cr  {j.original_filename}{error}")
    return EXIT_OK


def _pricing(pricing: Pricing, args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(pricing.__dict__, default=lambda o: getattr(o, "__dict__", str(o)), indent=2))
        return EXIT_OK
    print("tiers (credits per image):")
    for t in pricing.tiers:
        state = "available" if t.available else "not installed"
        print(f"  {t.tier:<13} {t.credits:>3}  {state:<13}  {t.description}")
    print("batch volume discounts:")
    for d in pricing.volume_discounts:
        print(f"  {d.min_images}-{d.max_images} images: {d.percent}% off")
    print("subscription plans:")
    for p in pricing.plans:
        quotas = ", ".join(f"{tier} {n}/day" for tier, n in p.daily_quotas.items())
        print(f"  {p.plan:<8} {p.credits} credits ({p.price:,} {p.currency}) / {p.period_days} days: {quotas}")
    lim = pricing.limits
    print(
        f"limits: {lim.max_image_bytes // 1_000_000} MB, {lim.max_megapixels:g} MP, min side {lim.min_side}px, "
        f"batches of {lim.batch_min_images}-{lim.batch_max_images} images"
    )
    return EXIT_OK


def _format_stats(stats: dict[str, Any]) -> str:
    by_tier = ", ".join(f"{k} {v}" for k, v in stats["completed_by_tier"].items()) or "none"
    plan = stats["plan"] or "no subscription"
    return (
        f"single removals: {stats['total_single_removals']}, batches: {stats['total_batches']}, "
        f"credits used: {stats['credits_used']}, plan: {plan}, completed by tier: {by_tier}"
    )


def _describe_subscription(sub: Subscription | None) -> str:
    if sub is None:
        return "No subscription (`bgremover subscription --subscribe starter`)."
    state = "active" if sub.active else sub.status
    until = sub.expires_at.strftime("%Y-%m-%d") if sub.expires_at else "?"
    usage = ", ".join(f"{tier} {sub.usage_today.get(tier, 0)}/{n}" for tier, n in sub.daily_quotas.items())
    return f"{sub.plan} ({state}, until {until}); today: {usage or 'nothing covered'}"


def _subscription(bg: Client, args: argparse.Namespace) -> int:
    if args.subscribe:
        sub: Subscription | None = bg.subscribe(args.subscribe, idempotency_key=args.idempotency_key)
    elif args.renew:
        sub = bg.renew_subscription(idempotency_key=args.idempotency_key)
    elif args.cancel:
        sub = bg.cancel_subscription()
    else:
        sub = bg.subscription()
    _out(args, None if sub is None else dict(vars(sub)), _describe_subscription(sub))
    return EXIT_OK


def _describe_key(key: ApiKey) -> str:
    created = key.created_at.strftime("%Y-%m-%d %H:%M") if key.created_at else "?"
    used = key.last_used_at.strftime("%Y-%m-%d %H:%M") if key.last_used_at else "never used"
    return f"{key.id}  {key.prefix}…  {key.scope}  created {created}  last used {used}  {key.name}".rstrip()


def _keys(bg: Client, args: argparse.Namespace) -> int:
    if args.keys_command == "create":
        key = bg.create_api_key(args.name, scope=args.scope)
        if not args.json:
            _err(f"API key {key.id} created; it is shown this once, store it now:")
        _out(args, dict(vars(key)), key.key or "")
    elif args.keys_command == "list":
        keys = bg.api_keys()
        _out(args, [dict(vars(k)) for k in keys], "\n".join(map(_describe_key, keys)) or "No API keys.")
    else:
        key = bg.revoke_api_key(args.key_id)
        _out(args, dict(vars(key)), f"Revoked {key.id} ({key.prefix}…).")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
