"""The import as a service (agency.imports.ListImporter), without HTTP: the
decisions the import page used to make — an empty, too large or unruled
file is refused; a file with bad rows is kept for an explicit good-rows-only
import by the same staff member; the same file twice changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.refund_portal.agency.imports import ImportResult, ListImporter
from services.refund_portal.audit import Actor, AuditKeys
from services.refund_portal.demo import demo_csv
from services.refund_portal.models import ImportBatch, ImportUpload, RefundRecord
from services.refund_portal.policy import PolicyBook
from shared.randomness import SequenceTokenSource
from tests.refund_portal.conftest import ROW_L1, ROW_L2, ROW_L3, Env

CLERK = Actor(kind="staff", id="wg_clerk", name="张敏", address="10.0.0.9")


@pytest.fixture
def importer(env: Env) -> ListImporter:
    return ListImporter(
        env.db,
        policies=PolicyBook(env.settings.policy_rules),
        clock=env.clock,
        tokens=SequenceTokenSource("up"),
        audit_keys=AuditKeys.from_settings(env.settings),
        max_bytes=64 * 1024,
        max_rows=100,
        upload_seconds=600,
    )


def upload(env: Env, importer: ListImporter, content: bytes, *, year: int = 2026, filename: str = "名单.csv") -> ImportResult:
    return importer.upload(staff_id=env.staff_ids["wg_clerk"], actor=CLERK, year=year, filename=filename, content=content)


def records(env: Env) -> int:
    with env.db.transaction() as s:
        return s.execute(select(func.count()).select_from(RefundRecord)).scalar_one()


# 天河's row with a wrong check digit in its 统一社会信用代码.
BAD_ROW = ["91440106MA5DL1A171", *ROW_L1[1:]]


@pytest.mark.parametrize(
    ("content", "year", "reason"),
    [
        (b"", 2026, "请选择要导入的名单文件"),
        (b"x" * (64 * 1024 + 1), 2026, "文件过大"),
        (demo_csv([ROW_L2]), 2019, "2019"),
        (demo_csv([ROW_L2]), 0, "请选择返还年度"),
    ],
)
def test_a_file_is_refused_before_it_is_read(env: Env, importer: ListImporter, content: bytes, year: int, reason: str) -> None:
    result = upload(env, importer, content, year=year)
    assert result.refused is not None and reason in result.refused
    assert result.batch_id is None and records(env) == 0


def test_a_clean_file_is_imported_under_its_bare_name(env: Env, importer: ListImporter) -> None:
    result = upload(env, importer, demo_csv([ROW_L2, ROW_L3]), filename="C:\\名单\\2026.csv")
    assert result.refused is None and result.plan is None and result.batch_id is not None
    assert result.filename == "2026.csv" and records(env) == 2
    with env.db.transaction() as s:
        batch = s.get(ImportBatch, result.batch_id)
        assert (batch.filename, batch.staff_name, batch.rows_imported) == ("2026.csv", "张敏", 2)


def test_the_same_file_twice_changes_nothing(env: Env, importer: ListImporter) -> None:
    assert upload(env, importer, demo_csv([ROW_L2])).batch_id is not None
    again = upload(env, importer, demo_csv([ROW_L2]))
    assert (again.batch_id, again.unchanged, again.rejected, again.refused) == (None, 1, 0, None)
    assert records(env) == 1


def test_bad_rows_keep_the_file_for_an_explicit_good_rows_import(env: Env, importer: ListImporter) -> None:
    result = upload(env, importer, demo_csv([ROW_L2, BAD_ROW, ROW_L3]))
    assert result.plan is not None and result.plan.error_lines == 1 and result.upload_id and records(env) == 0
    clerk = env.staff_ids["wg_clerk"]
    # Not acknowledged: the same plan again, the same kept file, a notice.
    waiting = importer.import_kept(staff_id=clerk, actor=CLERK, upload_id=result.upload_id, acknowledged=False)
    assert waiting.plan is not None and waiting.upload_id == result.upload_id and waiting.notice and records(env) == 0
    # Another staff member cannot use it.
    other = importer.import_kept(staff_id=env.staff_ids["wg_supervisor"], actor=CLERK, upload_id=result.upload_id, acknowledged=True)
    assert other.refused is not None and "已过期" in other.refused
    done = importer.import_kept(staff_id=clerk, actor=CLERK, upload_id=result.upload_id, acknowledged=True)
    assert done.batch_id is not None and done.rejected == 1 and done.filename == "名单.csv" and records(env) == 2
    with env.db.transaction() as s:
        assert s.execute(select(func.count()).select_from(ImportUpload)).scalar_one() == 0
    # The kept file is used once.
    assert importer.import_kept(staff_id=clerk, actor=CLERK, upload_id=result.upload_id, acknowledged=True).refused is not None


def test_a_kept_file_expires(env: Env, importer: ListImporter) -> None:
    result = upload(env, importer, demo_csv([ROW_L2, BAD_ROW]))
    env.clock.advance(601)
    late = importer.import_kept(staff_id=env.staff_ids["wg_clerk"], actor=CLERK, upload_id=result.upload_id, acknowledged=True)
    assert late.refused is not None and records(env) == 0
