"""Single background-removal jobs."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import Parameter

from api.auth import Principal
from api.schemas import JobList, job_out
from db import jobs


class JobController(Controller):
    path = "/jobs"
    tags = ["jobs"]

    @get("/", operation_id="listJobs", summary="The caller's single jobs, newest first")
    async def list_jobs(
        self,
        request: Request[Principal, Any, Any],
        limit: Annotated[int, Parameter(ge=1, le=100, description="page size (1–100)")] = 20,
        cursor: Annotated[
            str | None, Parameter(max_length=200, description="`nextCursor` of the previous page")
        ] = None,
    ) -> JobList:
        """Keyset pagination: pass `nextCursor` back as `cursor` until it is null."""
        rows, next_cursor = await jobs.list_single_jobs(request.user.user_id, limit=limit, cursor=cursor)
        return JobList(jobs=[job_out(r) for r in rows], next_cursor=next_cursor, limit=limit)
