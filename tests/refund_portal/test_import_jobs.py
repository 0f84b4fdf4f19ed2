"""Large list imports in the background: the upload is answered at once with
the job's page, the counts live in the database (another replica reports
them while the rows are being checked), the page ends on the same results a
small import shows, and an import that fails or is cut off writes nothing."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.refund_portal.agency import import_jobs, imports
from services.refund_portal.agency.import_jobs import CUT_OFF, STALE_SECONDS
from services.refund_portal.app import create_app
from services.refund_portal.demo import demo_csv
from services.refund_portal.models import AuditEntry, ImportBatch, ImportJob, RefundRecord
from tests.refund_portal.conftest import FAST_PASSWORDS, PORTAL, ROW_L1, ROW_L2, ROW_L3, Env, csrf_of
from tests.refund_portal.test_import import row, upload


@pytest.fixture
def clerk(env_factory) -> Env:
    """Every file goes to the background (the threshold is 0 bytes)."""
    env = env_factory(import_background_bytes=0)
    assert env.login_staff("wg_clerk").status_code == 303
    return env


def counts(env: Env) -> tuple[int, int, int]:
    with env.db.transaction() as s:
        return tuple(s.execute(select(func.count()).select_from(t)).scalar_one() for t in (RefundRecord, ImportBatch, AuditEntry))


def job_url(response) -> str:
    assert response.status_code == 303, response.text[:500]
    location = response.headers["location"]
    assert re.fullmatch(r"/agency/imports/jobs/[\w-]+", location), location
    return location


def test_a_large_file_is_imported_in_the_background_and_its_page_ends_on_the_batch(clerk: Env) -> None:
    url = job_url(upload(clerk, demo_csv([ROW_L2, ROW_L3])))
    status = clerk.client.get(f"{url}/status").json()
    assert status == {"state": "finished", "rows_total": 2, "rows_read": 2, "error_rows": 0, "finished": True}
    done = clerk.client.get(url, follow_redirects=False)
    assert done.status_code == 303 and re.fullmatch(r"/agency/imports/\d+", done.headers["location"])
    assert "已导入 2 条记录" in clerk.client.get(done.headers["location"]).text


def test_a_file_with_errors_writes_nothing_and_its_good_rows_follow_in_the_background(clerk: Env) -> None:
    before = counts(clerk)
    url = job_url(upload(clerk, demo_csv([ROW_L2, row(ROW_L1, size="?"), ROW_L3])))
    assert counts(clerk) == before
    result = clerk.client.get(url)
    assert result.status_code == 400 and 'id="import-refused"' in result.text
    assert "第 3 行" in result.text and "企业规模" in result.text
    assert clerk.client.get(f"{url}/status").json()["error_rows"] == 1

    action = re.search(r'action="(/agency/imports/[\w-]+/good-rows)"', result.text).group(1)
    good = clerk.client.post(action, data={"csrf_token": csrf_of(result.text), "acknowledge": "yes"}, follow_redirects=False)
    done = clerk.client.get(job_url(good), follow_redirects=False)
    assert done.status_code == 303
    assert "1 行有错误未导入" in clerk.client.get(done.headers["location"]).text
    assert counts(clerk)[:2] == (before[0] + 2, before[1] + 1)


def test_another_replica_reports_the_counts_while_the_rows_are_checked(clerk: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    # Another process on the same database, as a second replica behind the balancer.
    other = create_app(clerk.settings, clock=clerk.clock, passwords=FAST_PASSWORDS)
    seen: list[tuple[str, int, int | None, int]] = []
    checked = imports._check_row

    def watching(line, cells, headers):
        jobs = other.state.import_jobs
        with other.state.db.transaction() as s:
            job_id = s.execute(select(ImportJob.id)).scalar_one()
            staff_id = s.execute(select(ImportJob.staff_id)).scalar_one()
        view = jobs.view(job_id=job_id, staff_id=staff_id)
        seen.append((view.state, view.rows_read, view.rows_total, view.error_rows))
        return checked(line, cells, headers)

    monkeypatch.setattr(imports, "_check_row", watching)
    monkeypatch.setattr(imports, "PROGRESS_EVERY", 1)
    monkeypatch.setattr(import_jobs, "_PROGRESS_SECONDS", 0)
    with TestClient(other, base_url=PORTAL):
        job_url(upload(clerk, demo_csv([ROW_L2, row(ROW_L1, size="?"), ROW_L3])))
    # Row by row, the other replica saw the job reading, the rows counted and the error as it was found.
    assert seen[0][0] == "reading" and seen[0][1] == 0
    assert seen[2] == ("reading", 2, 3, 1)


def test_an_import_that_fails_while_writing_leaves_nothing_behind(clerk: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    before = counts(clerk)
    assess = imports.assess

    def failing(rule, figures):
        if figures.insured_count == int(ROW_L3[4]):
            raise RuntimeError("disk full")
        return assess(rule, figures)

    monkeypatch.setattr(imports, "assess", failing)
    url = job_url(upload(clerk, demo_csv([ROW_L2, ROW_L3])))
    page = clerk.client.get(url)
    assert "导入出错，未写入任何记录" in page.text and "disk full" not in page.text
    assert counts(clerk) == before


def test_a_job_whose_process_died_is_reported_as_cut_off(clerk: Env) -> None:
    importer = clerk.app.state.list_importer
    jobs = clerk.app.state.import_jobs
    staff_id = clerk.staff_ids["wg_clerk"]
    kept = importer.keep_upload(staff_id=staff_id, year=2026, filename="名单.csv", content=demo_csv([ROW_L2]))
    job_id = jobs.start(staff_id=staff_id, upload_id=kept, mode="all")  # never run: its process was gone
    page = clerk.client.get(f"/agency/imports/jobs/{job_id}")
    assert page.status_code == 200 and 'id="job-status"' in page.text and 'aria-live="polite"' in page.text
    clerk.clock.advance(STALE_SECONDS + 1)
    assert CUT_OFF in clerk.client.get(f"/agency/imports/jobs/{job_id}").text


def test_a_job_is_shown_only_to_the_staff_member_who_started_it(clerk: Env) -> None:
    url = job_url(upload(clerk, demo_csv([ROW_L2])))
    assert clerk.login_staff("wg_supervisor").status_code == 303
    assert clerk.client.get(url).status_code == 404
    assert clerk.client.get(f"{url}/status").status_code == 404
