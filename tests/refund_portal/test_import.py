"""Importing the year's eligibility list: every row validated, a file with
bad rows refused whole (each row's line and reason shown) unless the operator
explicitly imports the good rows only, and re-importing changes nothing."""

from __future__ import annotations

import io
import re
import time
import zipfile

import openpyxl
import pytest
from sqlalchemy import func, select

from services.refund_portal.agency.imports import TEMPLATE_HEADER, ImportRefused, check_rows, read_table
from services.refund_portal.audit import verify_chain
from services.refund_portal.demo import demo_csv
from services.refund_portal.models import AuditEntry, ImportBatch, ImportUpload, RefundRecord
from tests.refund_portal.conftest import ROW_L1, ROW_L2, ROW_L3, Env, csrf_of
from tests.streamed_body import post_streamed


def counts(env: Env) -> tuple[int, int, int]:
    with env.db.transaction() as s:
        return (
            s.execute(select(func.count()).select_from(RefundRecord)).scalar_one(),
            s.execute(select(func.count()).select_from(ImportBatch)).scalar_one(),
            s.execute(select(func.count()).select_from(AuditEntry)).scalar_one(),
        )


def upload(env: Env, content: bytes, *, filename: str = "名单.csv", year: str = "2026"):
    page = env.client.get("/agency/imports")
    assert page.status_code == 200
    return env.client.post(
        "/agency/imports",
        data={"csrf_token": csrf_of(page.text), "year": year},
        files={"file": (filename, content, "application/octet-stream")},
        follow_redirects=False,
    )


def row(base: list[str], **changes: str) -> list[str]:
    keys = [
        "uscc",
        "org_name",
        "unit_code",
        "size",
        "insured",
        "unit_premium",
        "staff_premium",
        "layoffs",
        "arrears",
        "bank_name",
        "bank_account",
    ]
    out = list(base)
    for key, value in changes.items():
        out[keys.index(key)] = value
    return out


def xlsx(rows: list[list[object]], header: list[str] = TEMPLATE_HEADER) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for r in rows:
        sheet.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def clerk(env: Env) -> Env:
    assert env.login_staff("wg_clerk").status_code == 303
    return env


def test_a_clean_file_is_imported_with_amounts_computed(clerk: Env) -> None:
    response = upload(clerk, demo_csv([ROW_L2, ROW_L3]))
    assert response.status_code == 303 and re.fullmatch(r"/agency/imports/\d+", response.headers["location"])
    batch = clerk.client.get(response.headers["location"])
    assert "已导入 2 条记录" in batch.text
    assert "34,574.69" in batch.text and "181,440.00" in batch.text
    with clerk.db.transaction() as s:
        records = {r.uscc: r for r in s.execute(select(RefundRecord)).scalars()}
        assert records[ROW_L2[0]].amount_fen == 3457469 and records[ROW_L2[0]].status == "pending"
        assert records[ROW_L3[0]].amount_fen == 18144000
        imported = s.execute(select(AuditEntry).where(AuditEntry.action == "import.accepted")).scalar_one()
        assert imported.actor_id == "wg_clerk" and imported.actor_name == "张敏"
        assert verify_chain(s, clerk.audit_keys).ok


BAD_ROWS = [
    (row(ROW_L2, uscc="91440104MA5DL2B24X"), "统一社会信用代码", "校验位不正确"),
    (row(ROW_L2, uscc="9144010"), "统一社会信用代码", "应为18位"),
    (row(ROW_L2, uscc=""), "统一社会信用代码", "请输入统一社会信用代码"),
    (row(ROW_L2, org_name=" "), "单位名称", "单位名称不能为空"),
    (row(ROW_L2, unit_code="4401-0400002"), "单位管理码", "8至20位数字"),
    (row(ROW_L2, size="中型偏大"), "企业规模", "“大型”或“中小微”"),
    (row(ROW_L2, insured="0"), "参保人数", "大于0的整数"),
    (row(ROW_L2, insured="4.5"), "参保人数", "大于0的整数"),
    (row(ROW_L2, insured="四十八"), "参保人数", "大于0的整数"),
    (row(ROW_L2, layoffs="-1"), "裁员人数", "0或正整数"),
    (row(ROW_L2, layoffs="49"), "裁员人数", "不能大于参保人数"),
    (row(ROW_L2, unit_premium="38416.321"), "单位缴纳失业保险费（元）", "最多保留两位小数"),
    (row(ROW_L2, unit_premium="-100"), "单位缴纳失业保险费（元）", "不能为负数"),
    (row(ROW_L2, staff_premium="一万"), "职工缴纳失业保险费（元）", "应为金额数字"),
    (row(ROW_L2, staff_premium=""), "职工缴纳失业保险费（元）", "不能为空"),
    (row(ROW_L2, arrears="abc"), "欠费金额（元）", "应为金额数字"),
    (row(ROW_L2, bank_name=""), "开户银行", "开户银行不能为空"),
    (row(ROW_L2, bank_account="6222 02x"), "银行账号", "8至30位数字"),
]


@pytest.mark.parametrize(("bad", "column", "reason"), BAD_ROWS, ids=[f"{c}-{r}" for _, c, r in BAD_ROWS])
def test_each_kind_of_bad_row_refuses_the_file_with_its_line_and_reason(clerk: Env, bad: list[str], column: str, reason: str) -> None:
    before = counts(clerk)
    response = upload(clerk, demo_csv([ROW_L3, bad, ROW_L1]))
    assert response.status_code == 400
    assert "整份文件未导入" in response.text
    table = re.search(r'<table class="data compact error-table" id="row-errors">(.*?)</table>', response.text, re.S).group(1)
    assert re.search(rf"第 3 行</td><td>{re.escape(column)}</td><td>[^<]*{re.escape(reason)}", table), table
    assert "第 2 行" not in table and "第 4 行" not in table
    assert counts(clerk) == before  # nothing imported, nothing logged


def test_duplicates_inside_the_file_are_errors_on_the_later_line(clerk: Env) -> None:
    same_code = row(ROW_L3, unit_code=ROW_L2[2])
    response = upload(clerk, demo_csv([ROW_L2, ROW_L2, same_code]))
    assert response.status_code == 400
    assert "统一社会信用代码与第2行重复" in response.text and "单位管理码与第2行重复" in response.text
    assert counts(clerk)[0] == 0


def test_a_row_conflicting_with_an_earlier_import_is_an_error(clerk: Env) -> None:
    assert upload(clerk, demo_csv([ROW_L2])).status_code == 303
    changed = row(ROW_L2, bank_account="6222020200112233445")
    code_taken = row(ROW_L3, unit_code=ROW_L2[2])
    response = upload(clerk, demo_csv([changed]))
    assert response.status_code == 400
    assert "2026 年度记录已于导入批次" in response.text and "内容不一致" in response.text
    taken = upload(clerk, demo_csv([code_taken]))
    assert taken.status_code == 400 and "单位管理码已被 2026 年度另一单位（91440104MA5DL2B24P）使用" in taken.text
    with clerk.db.transaction() as s:
        assert s.execute(select(RefundRecord.bank_account)).scalar_one() == ROW_L2[10]


def test_reimporting_the_same_file_changes_nothing(clerk: Env) -> None:
    content = demo_csv([ROW_L2, ROW_L3])
    assert upload(clerk, content).status_code == 303
    before = counts(clerk)
    again = upload(clerk, content)
    assert again.status_code == 303 and again.headers["location"] == "/agency/imports"
    assert "2 行均已在此前导入，内容一致，本次未作任何更改" in clerk.client.get("/agency/imports").text
    assert counts(clerk) == before
    # The same rows as XLSX are the same rows.
    rows = [[*r[:4], int(r[4]), float(r[5]), float(r[6]), int(r[7]), 0, r[9], r[10]] for r in (ROW_L2, ROW_L3)]
    assert upload(clerk, xlsx(rows), filename="名单.xlsx").status_code == 303
    assert counts(clerk) == before


def test_a_grown_file_imports_only_its_new_rows(clerk: Env) -> None:
    assert upload(clerk, demo_csv([ROW_L2])).status_code == 303
    response = upload(clerk, demo_csv([ROW_L2, ROW_L3]))
    assert response.status_code == 303
    assert "已导入 1 条记录，1 行此前已导入且一致" in clerk.client.get(response.headers["location"]).text
    assert counts(clerk)[0] == 2


def test_the_operator_may_explicitly_import_the_good_rows_only(clerk: Env) -> None:
    bad = row(ROW_L1, uscc="91440106MA5DL1A171")
    refused = upload(clerk, demo_csv([ROW_L2, bad, ROW_L3]))
    assert refused.status_code == 400 and "仅导入无误的 2 行" in refused.text
    action = re.search(r'action="(/agency/imports/[^"]+/good-rows)"', refused.text).group(1)
    # Without ticking the acknowledgement nothing happens.
    unticked = clerk.client.post(action, data={"csrf_token": csrf_of(refused.text)})
    assert unticked.status_code == 400 and "请勾选" in unticked.text and counts(clerk)[0] == 0
    done = clerk.client.post(action, data={"csrf_token": csrf_of(refused.text), "acknowledge": "yes"}, follow_redirects=False)
    assert done.status_code == 303
    page = clerk.client.get(done.headers["location"]).text
    assert "已导入 2 条记录" in page and "1 行有错误未导入" in page
    with clerk.db.transaction() as s:
        assert {r for (r,) in s.execute(select(RefundRecord.uscc))} == {ROW_L2[0], ROW_L3[0]}
        batch = s.execute(select(ImportBatch)).scalar_one()
        assert batch.mode == "good_only" and batch.rows_rejected == 1
        assert s.execute(select(func.count()).select_from(ImportUpload)).scalar_one() == 0
    # The kept file is used once.
    assert clerk.client.post(action, data={"csrf_token": csrf_of(refused.text), "acknowledge": "yes"}).status_code == 400


def test_a_file_kept_at_one_replica_is_imported_at_another(clerk: Env, env_factory) -> None:
    # Another replica: its own app on the same database (and Redis); no disk in common.
    replica_b = env_factory()
    refused = upload(clerk, demo_csv([ROW_L2, row(ROW_L1, size="?"), ROW_L3]))
    assert refused.status_code == 400
    action = re.search(r'action="(/agency/imports/[^"]+/good-rows)"', refused.text).group(1)
    replica_b.client.cookies = clerk.client.cookies  # the same browser, balanced to replica B
    done = replica_b.client.post(action, data={"csrf_token": csrf_of(refused.text), "acknowledge": "yes"}, follow_redirects=False)
    assert done.status_code == 303
    assert "已导入 2 条记录" in replica_b.client.get(done.headers["location"]).text


def test_a_refused_file_kept_past_its_time_is_not_imported(clerk: Env) -> None:
    refused = upload(clerk, demo_csv([ROW_L2, row(ROW_L1, size="?")]))
    action = re.search(r'action="(/agency/imports/[^"]+/good-rows)"', refused.text).group(1)
    clerk.clock.advance(clerk.settings.import_upload_seconds + 1)
    # A fresh form token (the page's own has expired with the hour) and a fresh login.
    assert clerk.login_staff("wg_clerk").status_code == 303
    late = clerk.client.post(action, data={"csrf_token": clerk.csrf("/agency/imports"), "acknowledge": "yes"})
    assert late.status_code == 400 and "该文件的校验结果已过期，请重新选择文件导入。" in late.text and counts(clerk)[0] == 0


def test_another_staff_member_cannot_use_my_refused_file(clerk: Env) -> None:
    refused = upload(clerk, demo_csv([ROW_L2, row(ROW_L1, size="?")]))
    action = re.search(r'action="(/agency/imports/[^"]+/good-rows)"', refused.text).group(1)
    clerk.client.post("/agency/logout", data={"csrf_token": csrf_of(refused.text)})
    assert clerk.login_staff("wg_supervisor").status_code == 303
    other = clerk.client.post(action, data={"csrf_token": clerk.csrf("/agency/imports"), "acknowledge": "yes"})
    assert other.status_code == 400 and "已过期" in other.text and counts(clerk)[0] == 0


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"", "a.csv", "请选择要导入的名单文件"),
        ("单位名称,银行账号\r\n某公司,123456789\r\n".encode(), "a.csv", "缺少必填列：统一社会信用代码、单位管理码"),
        ("甲,乙,丙\r\n1,2,3\r\n".encode(), "a.csv", "未找到表头"),
        (("\ufeff" + ",".join(TEMPLATE_HEADER) + "\r\n").encode(), "a.csv", "文件中没有数据行"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "a.xls", "无法识别文件格式"),
        (b"PK\x03\x04 not really a zip", "a.xlsx", "无法读取文件内容"),
        ((",".join(TEMPLATE_HEADER + ["单位名称"]) + "\r\n").encode(), "a.csv", "表头列重复：单位名称"),
    ],
    ids=["empty", "missing-columns", "no-header", "no-rows", "old-xls", "broken-xlsx", "duplicate-column"],
)
def test_unreadable_files_are_refused_with_a_reason(clerk: Env, content: bytes, filename: str, message: str) -> None:
    response = upload(clerk, content, filename=filename)
    assert response.status_code == 400 and message in response.text
    assert counts(clerk) == (0, 0, 0)


def test_a_year_without_a_configured_rule_is_refused(clerk: Env) -> None:
    response = upload(clerk, demo_csv([ROW_L2]), year="2030")
    assert response.status_code == 400 and "未配置 2030 年度稳岗返还政策" in response.text
    assert counts(clerk) == (0, 0, 0)


def test_too_many_rows_or_bytes_are_refused(env_factory) -> None:
    env = env_factory(import_max_rows=2, import_max_bytes=2000)
    env.login_staff("wg_clerk")
    assert "数据行过多（不超过 2 行）" in upload(env, demo_csv([ROW_L1, ROW_L2, ROW_L3])).text
    big = upload(env, demo_csv([ROW_L2]) + b" " * 3000)
    assert big.status_code == 400 and "文件过大" in big.text
    assert counts(env) == (0, 0, 0)


def test_gbk_csv_from_excel_is_read() -> None:
    content = demo_csv([ROW_L2]).decode().encode("gb18030")
    good, errors = check_rows(read_table("名单.csv", content, max_rows=10))
    assert not errors and good[0].org_name == ROW_L2[1]


def test_xlsx_cells_are_read_exactly_and_a_numeric_account_is_refused() -> None:
    content = xlsx(
        [
            [ROW_L2[0], ROW_L2[1], 44010400002, "中小微企业", 48, 38416.32, 19208.16, 2, None, ROW_L2[9], ROW_L2[10]],
            [ROW_L3[0], ROW_L3[1], ROW_L3[2], "大型", 420, 403200, 201600, 12, 0, ROW_L3[9], 44037001040012345],
        ]
    )
    good, errors = check_rows(read_table("名单.xlsx", content, max_rows=10))
    assert [(g.unit_code, g.unit_premium_fen, g.staff_premium_fen, g.arrears_fen) for g in good] == [("44010400002", 3841632, 1920816, 0)]
    assert [(e.line, e.column) for e in errors] == [(3, "银行账号")] and "文本格式" in errors[0].message


def test_headers_may_use_common_aliases_and_blank_lines_are_skipped() -> None:
    header = [
        "社会信用代码",
        "单位名称",
        "单位编号",
        "企业类型",
        "上年度参保人数",
        "单位缴费(元)",
        "个人缴费（元）",
        "裁员人数",
        "开户行",
        "银行帐号",
    ]
    line = [ROW_L2[i] for i in (0, 1, 2, 3, 4, 5, 6, 7, 9, 10)]
    content = (",".join(header) + "\r\n\r\n" + ",".join(line) + "\r\n,,,\r\n").encode()
    good, errors = check_rows(read_table("a.csv", content, max_rows=10))
    assert not errors and good[0].line == 3 and good[0].arrears_fen == 0


def test_read_table_refuses_without_header() -> None:
    with pytest.raises(ImportRefused):
        read_table("a.csv", b"\r\n\r\n", max_rows=10)


def test_the_import_template_has_the_columns(clerk: Env) -> None:
    response = clerk.client.get("/agency/imports/template.csv")
    assert response.status_code == 200 and response.content.decode("utf-8-sig").strip() == ",".join(TEMPLATE_HEADER)


_SHARED_STRINGS_TYPE = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


def _with_member(content: bytes, name: str, build_xml) -> bytes:
    """The workbook ``content`` with the part ``name`` (replaced or added, and
    declared in [Content_Types].xml) being what ``build_xml`` writes, streamed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "[Content_Types].xml" and f'"/{name}"'.encode() not in data:
                kind = _SHARED_STRINGS_TYPE if name.endswith("sharedStrings.xml") else b"application/xml"
                data = data.replace(b"</Types>", b'<Override PartName="/%s" ContentType="%s"/></Types>' % (name.encode(), kind))
            if item.filename != name:
                target.writestr(item, data)
        with target.open(name, "w") as part:
            build_xml(part)
    return out.getvalue()


_SHEET_HEAD = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'


def _blank_rows_sheet(part) -> None:
    part.write(_SHEET_HEAD)
    part.write(b"<row/>" * 1_000_000)
    part.write(b"</sheetData></worksheet>")


def _many_shared_strings(part) -> None:
    part.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2000000" uniqueCount="2000000">')
    part.write(b"<si><t></t></si>" * 2_000_000)
    part.write(b"</sst>")


@pytest.mark.parametrize(
    ("part", "build_xml"),
    [("xl/worksheets/sheet1.xml", _blank_rows_sheet), ("xl/sharedStrings.xml", _many_shared_strings)],
    ids=["a-million-blank-rows", "two-million-shared-strings"],
)
def test_a_decompression_bomb_is_refused_at_once(clerk: Env, part: str, build_xml) -> None:
    book = openpyxl.Workbook()
    book.active.append(TEMPLATE_HEADER)
    book.active.append([str(c) for c in ROW_L2])  # strings, so the workbook has a shared-strings part
    plain = io.BytesIO()
    book.save(plain)
    bomb = _with_member(plain.getvalue(), part, build_xml)
    assert len(bomb) < 200_000
    started = time.perf_counter()
    response = upload(clerk, bomb, filename="名单.xlsx")
    assert time.perf_counter() - started < 3
    assert response.status_code == 400 and "文件内容超出限制" in response.text
    assert counts(clerk) == (0, 0, 0)


def test_blank_rows_count_toward_the_row_limit() -> None:
    """A sheet whose only data row is row 1048576: openpyxl yields every empty
    row before it, so blank rows count, and reading stops at the limit."""

    def far_row(part) -> None:
        part.write(_SHEET_HEAD)
        header = "".join(f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{h}</t></is></c>' for i, h in enumerate(TEMPLATE_HEADER))
        part.write(f'<row r="1">{header}</row><row r="1048576"><c r="A1048576"><v>1</v></c></row>'.encode())
        part.write(b"</sheetData></worksheet>")

    book = openpyxl.Workbook()
    plain = io.BytesIO()
    book.save(plain)
    content = _with_member(plain.getvalue(), "xl/worksheets/sheet1.xml", far_row)
    started = time.perf_counter()
    with pytest.raises(ImportRefused) as refused:
        read_table("名单.xlsx", content, max_rows=100)
    assert time.perf_counter() - started < 3
    assert "文件内容超出限制" in refused.value.message


def test_an_anonymous_upload_is_refused_before_its_body_is_read(env: Env) -> None:
    answer = post_streamed(env.client, "/agency/imports", chunks=200)
    assert answer.status == 303 and answer.location and "/agency/login" in answer.location
    assert answer.chunks_read == 0


def test_a_streamed_upload_over_the_limit_gets_413_unread_past_it(clerk: Env) -> None:
    # No Content-Length (a chunked upload): the cap counts what arrives.
    answer = post_streamed(clerk.client, "/agency/imports", chunks=200)
    assert answer.status == 413 and "文件过大" in answer.body.decode()
    assert answer.chunks_read < 100  # 5 MB + 64 KB of 64 KB chunks is 82
    assert counts(clerk) == (0, 0, 0)
