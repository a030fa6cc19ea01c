"""Typed job and batch rows: returned by :mod:`db.jobs` and :mod:`db.batches`, read by the API, the
worker and the serialisers (which is why they live below all three, here).

Callers read attributes, never string keys; a query that selects fewer columns returns a smaller row
type of its own, and nothing is added to a row after it was read.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Self

from core.actors import Actor, ActorMethod
from core.api_keys import ApiKeyScope
from core.statuses import UNFINISHED, BatchStatus, JobStatus


def _json_object(value: Any) -> dict[str, Any]:
    """Piccolo's raw queries return JSONB as text."""
    if isinstance(value, str):
        decoded = json.loads(value or "{}")
        return decoded if isinstance(decoded, dict) else {}
    return dict(value or {})


class _Row:
    __slots__ = ()

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        values = {f.name: record[f.name] for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**values)


@dataclass(frozen=True, slots=True)
class JobRow(_Row):
    id: uuid.UUID
    user_id: str
    batch_id: uuid.UUID | None
    position: int | None
    tier: str
    status: JobStatus
    pricing_type: str
    original_filename: str
    input_key: str | None
    output_key: str | None
    input_width: int | None
    input_height: int | None
    input_bytes: int | None
    input_format: str | None
    output_options: dict[str, Any]
    credits_charged: int
    covered_by_subscription: bool
    usage_date: dt.date | None
    webhook_url: str | None
    webhook_status: str | None
    error_code: str | None
    error_message: str | None
    attempts: int
    processing_ms: int | None
    foreground_left: int | None
    foreground_top: int | None
    foreground_width: int | None
    foreground_height: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", JobStatus(self.status))
        object.__setattr__(self, "output_options", _json_object(self.output_options))

    @property
    def unfinished(self) -> bool:
        return self.status in UNFINISHED


@dataclass(frozen=True, slots=True)
class BatchRow(_Row):
    id: uuid.UUID
    user_id: str
    public_id: str
    name: str | None
    tier: str
    status: BatchStatus
    total_images: int
    processed_images: int
    failed_images: int
    credits_before_discount: int
    credits_charged: int
    discount_percent: int
    output_options: dict[str, Any]
    zip_key: str | None
    webhook_url: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", BatchStatus(self.status))
        object.__setattr__(self, "output_options", _json_object(self.output_options))

    @property
    def unfinished(self) -> bool:
        return self.status in UNFINISHED


@dataclass(frozen=True, slots=True)
class BatchImageRow(_Row):
    """One image of a batch, as the batch body and its ZIP need it."""

    id: uuid.UUID
    position: int
    original_filename: str
    status: JobStatus
    error_code: str | None
    error_message: str | None
    output_key: str | None
    credits_charged: int
    processing_ms: int | None
    finished_at: dt.datetime | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", JobStatus(self.status))


@dataclass(frozen=True, slots=True)
class ExpiredFiles(_Row):
    id: uuid.UUID
    input_key: str | None
    output_key: str | None


@dataclass(frozen=True)
class FinishedJob:
    """A job moved to its final state, and whether that made its batch complete (the ZIP is due)."""

    job: JobRow
    batch_done: bool = False


@dataclass(frozen=True, slots=True)
class ApiKeyRow(_Row):
    """An API key as its owner may see it: never the key itself, nor its hash."""

    id: uuid.UUID
    user_id: str
    name: str
    prefix: str
    scope: ApiKeyScope
    created_at: dt.datetime
    last_used_at: dt.datetime | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", ApiKeyScope(self.scope))


@dataclass(frozen=True, slots=True)
class GrantRow(_Row):
    """A credit grant as the admin listing shows it: to whom, how much, why, and who made it."""

    id: uuid.UUID
    user_id: str
    amount: int
    entry_key: str
    reason: str
    actor_user_id: str | None
    actor_method: ActorMethod | None
    """None for grants recorded before actors were (and for test and load-script seeding)."""
    created_at: dt.datetime

    def __post_init__(self) -> None:
        if self.actor_method is not None:
            object.__setattr__(self, "actor_method", ActorMethod(self.actor_method))

    @property
    def actor(self) -> Actor | None:
        if self.actor_user_id is None or self.actor_method is None:
            return None
        return Actor(user_id=self.actor_user_id, method=self.actor_method)
