"""Bodies of the remove.bg-compatible routes, in remove.bg's own (snake_case) shape."""

from __future__ import annotations

import msgspec


class ResultData(msgspec.Struct):
    result_b64: str
    foreground_top: int
    foreground_left: int
    foreground_width: int
    foreground_height: int


class ResultEnvelope(msgspec.Struct):
    """``POST /v1.0/removebg`` with ``Accept: application/json``."""

    data: ResultData


class Credits(msgspec.Struct):
    total: int
    """The credit balance; every image costs the price of ``REMOVEBG_TIER`` (see ``GET /pricing``)."""
    subscription: int
    payg: int
    enterprise: int


class ApiInfo(msgspec.Struct):
    free_calls: int
    """Images the active subscription still covers today in ``REMOVEBG_TIER`` (0 without one)."""
    sizes: str


class AccountAttributes(msgspec.Struct):
    credits: Credits
    api: ApiInfo


class AccountData(msgspec.Struct):
    attributes: AccountAttributes


class Account(msgspec.Struct):
    """``GET /v1.0/account``."""

    data: AccountData


class ErrorItem(msgspec.Struct):
    title: str
    code: str
    """Stable, for programs: remove.bg's codes where it has one (``auth_failed``, ``insufficient_credits``,
    ``rate_limit_exceeded``, ``unknown_foreground``, ``file_too_large``, …), ours otherwise."""
    detail: str


class Errors(msgspec.Struct):
    """Every error of the remove.bg routes."""

    errors: list[ErrorItem]
