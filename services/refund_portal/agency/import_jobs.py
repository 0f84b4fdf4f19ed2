"""Large list imports in the background, with progress any replica can report.

A file over ``REFUND_IMPORT_BACKGROUND_BYTES`` is kept in the database
(:class:`ImportUpload`) and an :class:`ImportJob` row is written; the replica
that took the upload then runs it after answering (a task of that request,
as the portal has no worker process), and the browser is sent to the job's
page, which any replica answers from the row: rows read, lines with errors so
far, and the result once finished — the same pages a small import shows at
once. The rows are read and checked outside any transaction (the counts are
written as they grow), then compared and written in one transaction, so an
import that fails, or whose process dies, has written nothing; a job whose row
has not moved for :data:`STALE_SECONDS` is reported as cut off.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from dataclasses import KW_ONLY, dataclass
from typing import Any

from sqlalchemy import delete, update

from services.refund_portal.agency.imports import ImportResult, ListImporter, RowError, plan_view
from services.refund_portal.audit import Actor
from services.refund_portal.models import ImportJob
from shared.clock import Clock, as_utc
from shared.db import Database
from shared.randomness import TokenSource

__all__ = ["ImportJobs", "JobView", "STALE_SECONDS", "CUT_OFF"]

log = logging.getLogger(__name__)

# A job's row moves at least every PROGRESS_EVERY rows while reading; writing
# 20,000 rows in one transaction on a loaded machine takes a few minutes at most.
STALE_SECONDS = 600
CUT_OFF = "导入已中断（服务重启或出错），未写入任何记录，请重新导入该文件。"
_FAILED = "导入出错，未写入任何记录，请稍后重新导入。如问题持续，请联系系统管理员。"
KEEP_JOBS = dt.timedelta(days=7)
# At most this often a progress count is written: each is a transaction of its own.
_PROGRESS_SECONDS = 0.5


@dataclass(frozen=True)
class JobView:
    """What the job's page shows. Once finished: ``result``, and ``plan``
    (as :func:`plan_view` gives it) when the file had errors and nothing was written."""

    id: str
    filename: str
    year: int
    state: str  # queued | reading | writing | finished
    rows_total: int | None
    rows_read: int
    error_rows: int
    result: ImportResult | None = None
    plan: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.result is not None

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "rows_total": self.rows_total,
            "rows_read": self.rows_read,
            "error_rows": self.error_rows,
            "finished": self.finished,
        }


def _result_json(result: ImportResult) -> str:
    """An import's result as the job row keeps it, its plan as the page shows it (the first 1000 errors)."""
    values = {f.name: getattr(result, f.name) for f in dataclasses.fields(result) if f.name != "plan"}
    if result.plan is not None:
        view = plan_view(result.plan)
        view["errors"] = [dataclasses.asdict(e) for e in view["errors"]]
        values["plan"] = view
    return json.dumps(values, ensure_ascii=False)


def _result_from_json(text: str) -> tuple[ImportResult, dict[str, Any] | None]:
    values = json.loads(text)
    plan = values.pop("plan", None)
    if plan is not None:
        plan["errors"] = [RowError(**e) for e in plan["errors"]]
    return ImportResult(**values), plan


@dataclass(eq=False)
class ImportJobs:
    db: Database
    _: KW_ONLY
    importer: ListImporter
    clock: Clock
    tokens: TokenSource
    background_bytes: int

    def wanted(self, size: int) -> bool:
        """Whether a file of ``size`` bytes is imported in the background."""
        return size > self.background_bytes

    def start(self, *, staff_id: int, upload_id: str, mode: str) -> str:
        """A job for a kept file; run it with :meth:`run`."""
        kept = self.importer.kept_upload(staff_id=staff_id, upload_id=upload_id)
        now = self.clock.now()
        job_id = self.tokens.token(24)
        with self.db.transaction() as s:
            # A finished job is worth showing for a while; a week-old one no longer.
            s.execute(delete(ImportJob).where(ImportJob.created_at < now - KEEP_JOBS))
            s.add(
                ImportJob(
                    id=job_id,
                    staff_id=staff_id,
                    upload_id=upload_id,
                    filename=kept.filename if kept else "",
                    year=kept.year if kept else 0,
                    mode=mode,
                    state="queued",
                    rows_read=0,
                    error_rows=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        return job_id

    def _set(self, job_id: str, **values: Any) -> None:
        with self.db.transaction() as s:
            s.execute(update(ImportJob).where(ImportJob.id == job_id).values(updated_at=self.clock.now(), **values))

    def run(self, job_id: str, *, staff_id: int, actor: Actor) -> None:
        """The job from start to finish (in a worker thread, after the upload was answered)."""
        with self.db.transaction() as s:
            job = s.get(ImportJob, job_id)
            if job is None or job.state != "queued":
                return
            upload_id, mode = job.upload_id, job.mode
        last = 0.0

        def progress(rows_read: int, rows_total: int, error_rows: int) -> None:
            nonlocal last
            counts = {"rows_read": rows_read, "rows_total": rows_total, "error_rows": error_rows}
            if rows_read >= rows_total:
                # Every row checked: what follows is the one writing transaction.
                self._set(job_id, state="writing", **counts)
            elif time.monotonic() - last >= _PROGRESS_SECONDS:
                last = time.monotonic()
                self._set(job_id, state="reading", **counts)

        self._set(job_id, state="reading")
        try:
            result = self.importer.run_kept(staff_id=staff_id, actor=actor, upload_id=upload_id, mode=mode, progress=progress)
        except Exception:
            log.exception("list import failed", extra={"fields": {"job": job_id}})
            result = ImportResult(refused=_FAILED)
        self._set(job_id, state="finished", result=_result_json(result))

    def view(self, *, job_id: str, staff_id: int) -> JobView | None:
        """The job as its page shows it; None when it is not this staff member's."""
        with self.db.transaction() as s:
            job = s.get(ImportJob, job_id)
            if job is None or job.staff_id != staff_id:
                return None
            result, plan = _result_from_json(job.result) if job.result else (None, None)
            if result is None and (self.clock.now() - as_utc(job.updated_at)).total_seconds() > STALE_SECONDS:
                result = ImportResult(refused=CUT_OFF)
            return JobView(
                id=job.id,
                filename=job.filename,
                year=job.year,
                state="finished" if result else job.state,
                rows_total=job.rows_total,
                rows_read=job.rows_read,
                error_rows=job.error_rows,
                result=result,
                plan=plan,
            )
