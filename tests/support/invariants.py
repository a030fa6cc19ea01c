"""What must hold after any fault: every accepted job final, every image charged at most once, every
failure refunded, every balance the sum of its ledger."""

from __future__ import annotations

import asyncio
import time

import asyncpg

FINAL = ("completed", "failed", "cancelled")


async def wait_all_final(dsn: str, user_ids: list[str], timeout_s: float) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout_s
    while True:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT id, status, attempts, error_code FROM background_removal_job WHERE user_id = ANY($1)",
                user_ids,
            )
        finally:
            await conn.close()
        if rows and all(r["status"] in FINAL for r in rows):
            return [dict(r) for r in rows]
        if time.monotonic() > deadline:
            raise AssertionError(f"jobs not final after {timeout_s}s: {[dict(r) for r in rows]}")
        await asyncio.sleep(0.5)


async def assert_money_is_right(dsn: str, user_ids: list[str]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        jobs = await conn.fetch(
            "SELECT id, batch_id, status, credits_charged, covered_by_subscription FROM background_removal_job "
            "WHERE user_id = ANY($1)",
            user_ids,
        )
        for job in jobs:
            assert job["status"] in FINAL, dict(job)
            charges = await conn.fetchval(
                "SELECT count(*) FROM credit_ledger WHERE entry_key = $1", f"charge:job:{job['id']}"
            )
            refunds = await conn.fetch(
                "SELECT amount FROM credit_ledger WHERE entry_key = $1", f"refund:job:{job['id']}"
            )
            if job["batch_id"] is None and not job["covered_by_subscription"]:
                assert charges == 1, f"job {job['id']} charged {charges} times"
            assert len(refunds) <= 1
            if job["status"] in ("failed", "cancelled") and job["credits_charged"] > 0:
                assert [r["amount"] for r in refunds] == [job["credits_charged"]], f"job {job['id']} not refunded"
            if job["status"] == "completed":
                assert not refunds, f"completed job {job['id']} was refunded"
        batches = await conn.fetch("SELECT id FROM background_removal_batch WHERE user_id = ANY($1)", user_ids)
        for batch in batches:
            charges = await conn.fetchval(
                "SELECT count(*) FROM credit_ledger WHERE entry_key = $1", f"charge:batch:{batch['id']}"
            )
            assert charges == 1, f"batch {batch['id']} charged {charges} times"
        negative = await conn.fetch(
            "SELECT user_id, sum(amount) AS balance FROM credit_ledger WHERE user_id = ANY($1) "
            "GROUP BY user_id HAVING sum(amount) < 0",
            user_ids,
        )
        assert not negative, [dict(r) for r in negative]
    finally:
        await conn.close()
