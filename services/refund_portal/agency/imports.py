"""Importing a year's eligibility list (免申即享名单) from CSV or XLSX.

Reading and checking are apart from writing: :func:`read_table` turns the
file into rows, :func:`check_rows` validates each row (and duplicates inside
the file), :func:`plan_import` compares the good rows with what earlier
imports stored, and :func:`apply_plan` writes, in one transaction, either
everything or — only when the operator chose so explicitly — the good rows.
A row identical to one imported before is left alone, so importing the same
file twice changes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.refund_portal.audit import Actor, AuditChain, AuditKeys
from services.refund_portal.messages import IMPORT, MONEY
from services.refund_portal.models import ImportBatch, ImportUpload, RecordStatus, RefundRecord
from services.refund_portal.policy import PolicyBook, UnitFigures, assess
from services.refund_portal.records import list_import_batches, present
from services.refund_portal.settings import PolicyRule
from shared.clock import Clock
from shared.db import Database
from shared.identifiers import IdentifierError, validate_uscc
from shared.money import MoneyError, parse_yuan
from shared.randomness import TokenSource

__all__ = [
    "COLUMNS",
    "TEMPLATE_HEADER",
    "RowError",
    "ValidRow",
    "Table",
    "ImportPlan",
    "ImportOutcome",
    "ImportRefused",
    "read_table",
    "check_rows",
    "check_file",
    "CheckedFile",
    "Progress",
    "plan_import",
    "apply_plan",
    "prepare",
    "ImportResult",
    "ListImporter",
    "plan_view",
    "import_batch_rows",
]

# key → the header written in the template; aliases are accepted on import.
COLUMNS: dict[str, str] = {
    "uscc": "统一社会信用代码",
    "org_name": "单位名称",
    "unit_code": "单位管理码",
    "size": "企业规模",
    "insured_count": "参保人数",
    "unit_premium": "单位缴纳失业保险费（元）",
    "staff_premium": "职工缴纳失业保险费（元）",
    "layoff_count": "裁员人数",
    "arrears": "欠费金额（元）",
    "bank_name": "开户银行",
    "bank_account": "银行账号",
}
TEMPLATE_HEADER = list(COLUMNS.values())
_ALIASES = {
    "统一社会信用代码": "uscc",
    "社会信用代码": "uscc",
    "单位名称": "org_name",
    "单位管理码": "unit_code",
    "单位编号": "unit_code",
    "企业规模": "size",
    "企业类型": "size",
    "参保人数": "insured_count",
    "上年度参保人数": "insured_count",
    "上年度月均参保人数": "insured_count",
    "单位缴纳失业保险费": "unit_premium",
    "单位实缴失业保险费": "unit_premium",
    "单位缴费": "unit_premium",
    "职工缴纳失业保险费": "staff_premium",
    "职工实缴失业保险费": "staff_premium",
    "个人缴费": "staff_premium",
    "裁员人数": "layoff_count",
    "上年度裁员人数": "layoff_count",
    "欠费金额": "arrears",
    "欠费": "arrears",
    "欠缴金额": "arrears",
    "开户银行": "bank_name",
    "开户行": "bank_name",
    "银行账号": "bank_account",
    "银行帐号": "bank_account",
    "账号": "bank_account",
}
_OPTIONAL = {"arrears"}
_SIZES = {
    "大型": "large",
    "大型企业": "large",
    "中小微": "sme",
    "中小微企业": "sme",
    "中型": "sme",
    "小型": "sme",
    "微型": "sme",
    "中型企业": "sme",
    "小型企业": "sme",
    "微型企业": "sme",
    "小微企业": "sme",
}
_UNIT_CODE = re.compile(r"^\d{8,20}$")
_BANK_ACCOUNT = re.compile(r"^\d{8,30}$")


class ImportRefused(Exception):
    """The file as a whole cannot be read (``message`` is for the operator)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None  # the header as the operator knows it
    message: str


@dataclass(frozen=True)
class ValidRow:
    line: int
    uscc: str
    org_name: str
    unit_code: str
    size: str
    insured_count: int
    unit_premium_fen: int
    staff_premium_fen: int
    layoff_count: int
    arrears_fen: int
    bank_name: str
    bank_account: str

    @property
    def figures(self) -> UnitFigures:
        return UnitFigures(
            size=self.size,  # type: ignore[arg-type]
            insured_count=self.insured_count,
            unit_premium_fen=self.unit_premium_fen,
            staff_premium_fen=self.staff_premium_fen,
            layoff_count=self.layoff_count,
            arrears_fen=self.arrears_fen,
        )

    @property
    def digest(self) -> str:
        content = {k: v for k, v in self.__dict__.items() if k != "line"}
        return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass
class Table:
    """The file's data rows: ``(line, {column key: cell})``."""

    rows: list[tuple[int, dict[str, Any]]]
    headers: dict[str, str]  # key → header as written in the file


def _header_key(cell: Any) -> str | None:
    if cell is None:
        return None
    text = unicodedata.normalize("NFKC", str(cell))
    text = "".join(ch for ch in text if not ch.isspace()).strip("*")
    text = re.sub(r"\((元|人民币元|人)\)$", "", text)
    return _ALIASES.get(text)


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _decode_csv(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # Excel in a Chinese locale saves CSV in GBK; GB 18030 is its superset.
        return content.decode("gb18030")
    except UnicodeDecodeError:
        raise ImportRefused(IMPORT["file_unreadable"]) from None


def _csv_rows(content: bytes) -> Iterable[tuple[int, list[Any]]]:
    text = _decode_csv(content)
    if "\x00" in text:
        raise ImportRefused(IMPORT["file_type"])
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error:
        raise ImportRefused(IMPORT["file_unreadable"]) from None


# An XLSX is a zip of XML: a 100 KB file can hold a million blank rows or two
# million shared strings (tens of seconds of CPU, hundreds of MB of memory in
# openpyxl, which loads every shared string on opening). The members' sizes
# are read from the zip's directory before anything is decompressed; Python's
# zipfile stops a member at its declared size, so a lie cannot get past them.
# A row of the list is well under 2 KB of XML (cells and shared strings).
_XML_PER_ROW = 2 * 1024
_XML_SLACK = 4 * 1024 * 1024  # styles, theme and the other parts Excel writes
_MAX_RATIO = 100  # Excel's XML packs about 5-20 to 1; blank filler thousands to 1
_RATIO_FROM = 1024 * 1024  # small members may pack better, and cannot hurt


def _content_limit(max_rows: int) -> ImportRefused:
    limit = max_rows + 1
    return ImportRefused(IMPORT["content_too_large"].format(limit=limit, mb=(limit * _XML_PER_ROW + _XML_SLACK) // (1024 * 1024)))


def _check_unpacked_size(content: bytes, *, max_rows: int) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile:
        raise ImportRefused(IMPORT["file_unreadable"]) from None
    total = sum(m.file_size for m in members)
    packed_too_well = any(m.file_size > _RATIO_FROM and m.file_size > _MAX_RATIO * max(m.compress_size, 1) for m in members)
    if total > (max_rows + 1) * _XML_PER_ROW + _XML_SLACK or packed_too_well:
        raise _content_limit(max_rows)


def _xlsx_rows(content: bytes, *, max_rows: int) -> Iterable[tuple[int, list[Any]]]:
    import openpyxl  # defusedxml is installed, so openpyxl parses the XML safely

    _check_unpacked_size(content, max_rows=max_rows)
    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ImportRefused(IMPORT["file_unreadable"]) from None
    try:
        sheet = book.worksheets[0]
        # Read-only mode streams the sheet; the caller stops at its row limit.
        for number, row in enumerate(sheet.iter_rows(values_only=True, max_col=40), start=1):
            yield number, list(row)
    except Exception:  # a damaged sheet: openpyxl raises many kinds
        raise ImportRefused(IMPORT["file_unreadable"]) from None
    finally:
        book.close()


def read_table(filename: str, content: bytes, *, max_rows: int) -> Table:
    """The file's header and data rows; blank rows are skipped, but counted:
    a sheet can claim a million of them (openpyxl yields every empty row up to
    the last one), so more lines than ``max_rows`` and the header stop the reading."""
    if not content:
        raise ImportRefused(IMPORT["file_empty"])
    name = filename.lower()
    if content.startswith(b"PK\x03\x04"):
        lines = _xlsx_rows(content, max_rows=max_rows)
    elif content.startswith(b"\xd0\xcf\x11\xe0") or name.endswith((".xls", ".et")):
        raise ImportRefused(IMPORT["file_type"])
    else:
        lines = _csv_rows(content)
    headers: dict[str, str] | None = None
    positions: dict[str, int] = {}
    rows: list[tuple[int, dict[str, Any]]] = []
    for read, (line, cells) in enumerate(lines, start=1):
        if all(_blank(c) for c in cells):
            if read > max_rows + 1:
                raise _content_limit(max_rows)
            continue
        if headers is None:
            keys = [_header_key(c) for c in cells]
            if not any(keys):
                raise ImportRefused(IMPORT["no_header"])
            seen: dict[str, int] = {}
            dupes = []
            for index, key in enumerate(keys):
                if key is None:
                    continue
                if key in seen:
                    dupes.append(str(cells[index]).strip())
                seen[key] = index
            if dupes:
                raise ImportRefused(IMPORT["duplicate_columns"].format(columns="、".join(dupes)))
            missing = [COLUMNS[k] for k in COLUMNS if k not in seen and k not in _OPTIONAL]
            if missing:
                raise ImportRefused(IMPORT["missing_columns"].format(columns="、".join(missing)))
            positions = seen
            headers = {k: str(cells[i]).strip() for k, i in seen.items()}
            continue
        if len(rows) >= max_rows:
            raise ImportRefused(IMPORT["too_many_rows"].format(limit=max_rows))
        rows.append((line, {k: (cells[i] if i < len(cells) else None) for k, i in positions.items()}))
    if headers is None:
        raise ImportRefused(IMPORT["no_header"] if not rows else IMPORT["no_rows"])
    if not rows:
        raise ImportRefused(IMPORT["no_rows"])
    return Table(rows=rows, headers=headers)


def _text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    return unicodedata.normalize("NFKC", str(cell)).strip()


def _count(cell: Any) -> int | None:
    if isinstance(cell, bool):
        return None
    if isinstance(cell, int):
        return cell
    if isinstance(cell, float):
        return int(cell) if cell.is_integer() else None
    text = _text(cell).replace(",", "")
    return int(text) if text.isascii() and text.isdigit() else None


def _check_row(line: int, cells: dict[str, Any], headers: dict[str, str]) -> tuple[ValidRow | None, list[RowError]]:
    errors: list[RowError] = []

    def fail(key: str, message: str) -> None:
        errors.append(RowError(line=line, column=headers.get(key, COLUMNS[key]), message=message))

    uscc = ""
    try:
        uscc = validate_uscc(_text(cells.get("uscc")))
    except IdentifierError as exc:
        fail("uscc", IMPORT["uscc"].format(message=exc.message))
    org_name = _text(cells.get("org_name"))
    if not org_name:
        fail("org_name", IMPORT["org_name"])
    elif len(org_name) > 100:
        fail("org_name", IMPORT["org_name_long"])
    unit_code = _text(cells.get("unit_code"))
    if not _UNIT_CODE.match(unit_code):
        fail("unit_code", IMPORT["unit_code"])
    size = _SIZES.get(_text(cells.get("size")).replace(" ", ""))
    if size is None:
        fail("size", IMPORT["size"])
    insured = _count(cells.get("insured_count"))
    if insured is None or insured <= 0:
        fail("insured_count", IMPORT["insured_count"])
    layoff = _count(cells.get("layoff_count"))
    if layoff is None or layoff < 0:
        fail("layoff_count", IMPORT["layoff_count"])
    elif insured is not None and insured > 0 and layoff > insured:
        fail("layoff_count", IMPORT["layoff_exceeds"].format(layoff=layoff, insured=insured))
    amounts: dict[str, int] = {}
    for key in ("unit_premium", "staff_premium", "arrears"):
        cell = cells.get(key)
        if key == "arrears" and _blank(cell):
            amounts[key] = 0
            continue
        try:
            amounts[key] = parse_yuan(cell.strip() if isinstance(cell, str) else cell)
        except MoneyError as exc:
            fail(key, IMPORT["money"].format(column=headers.get(key, COLUMNS[key]), message=MONEY[exc.code]))
    bank_name = _text(cells.get("bank_name"))
    if not bank_name or len(bank_name) > 100:
        fail("bank_name", IMPORT["bank_name"])
    raw_account = cells.get("bank_account")
    bank_account = re.sub(r"[\s\-]", "", _text(raw_account))
    if isinstance(raw_account, int | float) and not isinstance(raw_account, bool):
        fail("bank_account", IMPORT["bank_account_numeric"])
    elif not (bank_account.isascii() and _BANK_ACCOUNT.match(bank_account)):
        fail("bank_account", IMPORT["bank_account"])
    if errors:
        return None, errors
    return (
        ValidRow(
            line=line,
            uscc=uscc,
            org_name=org_name,
            unit_code=unit_code,
            size=size or "",
            insured_count=insured or 0,
            unit_premium_fen=amounts["unit_premium"],
            staff_premium_fen=amounts["staff_premium"],
            layoff_count=layoff or 0,
            arrears_fen=amounts["arrears"],
            bank_name=bank_name,
            bank_account=bank_account,
        ),
        [],
    )


# progress(rows checked, rows in the file, lines with errors so far), every PROGRESS_EVERY rows and at the end.
Progress = Callable[[int, int, int], None]
PROGRESS_EVERY = 500


def check_rows(table: Table, progress: Progress | None = None) -> tuple[list[ValidRow], list[RowError]]:
    """Every row on its own, then duplicates inside the file (the later
    occurrence is the one in error)."""
    good: list[ValidRow] = []
    errors: list[RowError] = []
    first_uscc: dict[str, int] = {}
    first_code: dict[str, int] = {}
    bad_lines = 0
    for checked, (line, cells) in enumerate(table.rows, start=1):
        row, row_errors = _check_row(line, cells, table.headers)
        if row is not None:
            if row.uscc in first_uscc:
                row_errors.append(RowError(line, table.headers["uscc"], IMPORT["dup_uscc_in_file"].format(line=first_uscc[row.uscc])))
            elif row.unit_code in first_code:
                row_errors.append(
                    RowError(line, table.headers["unit_code"], IMPORT["dup_code_in_file"].format(line=first_code[row.unit_code]))
                )
            else:
                first_uscc[row.uscc] = line
                first_code[row.unit_code] = line
        if row_errors:
            errors.extend(row_errors)
            bad_lines += 1
        elif row is not None:
            good.append(row)
        if progress is not None and checked % PROGRESS_EVERY == 0 and checked < len(table.rows):
            progress(checked, len(table.rows), bad_lines)
    if progress is not None:
        progress(len(table.rows), len(table.rows), bad_lines)
    return good, errors


@dataclass(frozen=True)
class CheckedFile:
    """A file read and its rows checked, before any comparison with the database."""

    table: Table
    good: list[ValidRow]
    errors: list[RowError]


def check_file(filename: str, content: bytes, *, max_rows: int, progress: Progress | None = None) -> CheckedFile:
    """Read and check the file (raises :class:`ImportRefused` for a file that cannot be read)."""
    table = read_table(filename, content, max_rows=max_rows)
    good, errors = check_rows(table, progress)
    return CheckedFile(table=table, good=good, errors=errors)


@dataclass
class ImportPlan:
    year: int
    filename: str
    file_sha256: str
    rule: PolicyRule
    total_rows: int
    new: list[ValidRow] = field(default_factory=list)
    unchanged: list[ValidRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def error_lines(self) -> int:
        return len({e.line for e in self.errors})

    @property
    def good_rows(self) -> int:
        return len(self.new) + len(self.unchanged)


def plan_import(
    session: Session, *, year: int, rule: PolicyRule, filename: str, content: bytes, max_rows: int, checked: CheckedFile | None = None
) -> ImportPlan:
    """Read and check the file (unless ``checked`` already) and compare it with earlier imports of the year."""
    checked = checked or check_file(filename, content, max_rows=max_rows)
    table, good, errors = checked.table, checked.good, list(checked.errors)
    plan = ImportPlan(
        year=year,
        filename=filename,
        file_sha256=hashlib.sha256(content).hexdigest(),
        rule=rule,
        total_rows=len(table.rows),
        errors=errors,
    )
    usccs = [r.uscc for r in good]
    codes = [r.unit_code for r in good]
    existing = {
        r.uscc: r
        for r in session.execute(select(RefundRecord).where(RefundRecord.year == year, RefundRecord.uscc.in_(usccs or [""]))).scalars()
    }
    code_owner = dict(
        session.execute(
            select(RefundRecord.unit_code, RefundRecord.uscc).where(RefundRecord.year == year, RefundRecord.unit_code.in_(codes or [""]))
        ).all()
    )
    for row in good:
        earlier = existing.get(row.uscc)
        if earlier is not None:
            if earlier.row_digest == row.digest:
                plan.unchanged.append(row)
            else:
                plan.errors.append(
                    RowError(row.line, table.headers["uscc"], IMPORT["conflict_uscc"].format(year=year, batch=earlier.import_batch_id))
                )
            continue
        owner = code_owner.get(row.unit_code)
        if owner is not None and owner != row.uscc:
            plan.errors.append(RowError(row.line, table.headers["unit_code"], IMPORT["conflict_code"].format(year=year, uscc=owner)))
            continue
        plan.new.append(row)
    plan.errors.sort(key=lambda e: e.line)
    return plan


@dataclass
class ImportOutcome:
    batch: ImportBatch | None  # None: nothing new, nothing written
    imported: int
    unchanged: int
    rejected: int


def apply_plan(
    session: Session, plan: ImportPlan, *, mode: str, actor: Actor, staff_id: int | None, clock: Clock, audit_keys: AuditKeys
) -> ImportOutcome:
    """Write the plan's new rows. ``mode="all"`` refuses a plan with errors;
    ``"good_only"`` (the operator's explicit choice) skips the bad rows.
    Raises :class:`IntegrityError` when a concurrent import got there first."""
    if plan.errors and mode == "all":
        raise ValueError("a plan with errors is imported only with mode='good_only'")
    rejected = plan.error_lines
    if not plan.new:
        return ImportOutcome(batch=None, imported=0, unchanged=len(plan.unchanged), rejected=rejected)
    now = clock.now()
    batch = ImportBatch(
        year=plan.year,
        filename=plan.filename[:200],
        file_sha256=plan.file_sha256,
        mode=mode,
        rows_total=plan.total_rows,
        rows_imported=len(plan.new),
        rows_unchanged=len(plan.unchanged),
        rows_rejected=rejected,
        staff_id=staff_id,
        staff_name=actor.name[:50],
        imported_at=now,
    )
    session.add(batch)
    session.flush()
    chain = AuditChain(session, clock=clock, keys=audit_keys)
    for row in plan.new:
        result = assess(plan.rule, row.figures)
        record = RefundRecord(
            year=plan.year,
            uscc=row.uscc,
            unit_code=row.unit_code,
            org_name=row.org_name,
            size=row.size,
            insured_count=row.insured_count,
            unit_premium_fen=row.unit_premium_fen,
            staff_premium_fen=row.staff_premium_fen,
            layoff_count=row.layoff_count,
            arrears_fen=row.arrears_fen,
            bank_name=row.bank_name,
            bank_account=row.bank_account,
            amount_fen=result.amount_fen,
            basis=json.dumps(result.basis, ensure_ascii=False, sort_keys=True),
            status=RecordStatus.PENDING if result.eligible else RecordStatus.INELIGIBLE,
            row_digest=row.digest,
            import_batch_id=batch.id,
            line_no=row.line,
            created_at=now,
            updated_at=now,
            version=1,
        )
        session.add(record)
        chain.append(actor, "record.imported", record=record, subject=f"import:{batch.id}", detail={"line": row.line, "uscc": row.uscc})
    chain.append(
        actor,
        "import.accepted",
        subject=f"import:{batch.id}",
        detail={
            "year": plan.year,
            "filename": plan.filename,
            "sha256": plan.file_sha256,
            "mode": mode,
            "imported": len(plan.new),
            "unchanged": len(plan.unchanged),
            "rejected": rejected,
        },
    )
    return ImportOutcome(batch=batch, imported=len(plan.new), unchanged=len(plan.unchanged), rejected=rejected)


def prepare(
    session: Session, *, policies: PolicyBook, year: int, filename: str, content: bytes, max_rows: int, checked: CheckedFile | None = None
) -> ImportPlan:
    """``plan_import`` for a configured year (refused otherwise)."""
    rule = policies.rule_for(year)
    if rule is None:
        raise ImportRefused(IMPORT["no_policy"].format(year=year))
    return plan_import(session, year=year, rule=rule, filename=filename, content=content, max_rows=max_rows, checked=checked)


# ---- the import as the agency's staff run it -----------------------------------


@dataclass(frozen=True)
class ImportResult:
    """What an import came to, one of:

    - ``refused``: the text saying why the file cannot be imported (nothing written);
    - ``plan`` with errors: nothing written; the file is kept as ``upload_id``
      for the operator to import its good rows only, ``notice`` says why not yet;
    - done: ``batch_id`` of the new import batch, or None when every row was
      imported before (``unchanged`` of them; ``rejected`` lines had errors).
    """

    refused: str | None = None
    plan: ImportPlan | None = None
    upload_id: str | None = None
    notice: str | None = None
    batch_id: int | None = None
    filename: str = ""
    unchanged: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class KeptFile:
    """A kept upload as pages and jobs name it: no bytes."""

    id: str
    year: int
    filename: str
    size: int


@dataclass(eq=False)
class ListImporter:
    """Imports a year's list for a staff member, in the steps the pages
    offer: upload and check the file; if it has bad rows, keep it for a while
    so that the operator may import its good rows only, explicitly."""

    db: Database
    _: KW_ONLY
    policies: PolicyBook
    clock: Clock
    tokens: TokenSource
    audit_keys: AuditKeys
    max_bytes: int
    max_rows: int
    upload_seconds: int

    @property
    def max_size_text(self) -> str:
        return f"{self.max_bytes // (1024 * 1024)} MB"

    def _refusal(self, *, year: int, content: bytes) -> str | None:
        if not content:
            return IMPORT["file_empty"]
        if len(content) > self.max_bytes:
            return IMPORT["file_too_large"].format(limit=self.max_size_text)
        if year not in self.policies.years:
            return IMPORT["no_policy"].format(year=year) if year else IMPORT["year"]
        return None

    @staticmethod
    def _base_name(filename: str) -> str:
        return filename.replace("\\", "/").rsplit("/", 1)[-1][:200]

    def upload(self, *, staff_id: int, actor: Actor, year: int, filename: str, content: bytes) -> ImportResult:
        """A file just uploaded: imported when every row is good."""
        if (refused := self._refusal(year=year, content=content)) is not None:
            return ImportResult(refused=refused)
        return self._run(staff_id=staff_id, actor=actor, year=year, filename=self._base_name(filename), content=content, mode="all")

    def keep_upload(self, *, staff_id: int, year: int, filename: str, content: bytes) -> ImportResult | str:
        """A file to import in the background: kept in the database (any
        replica's job runner reads it there); the id it is kept under, or the
        refusal when it cannot be imported at all."""
        if (refused := self._refusal(year=year, content=content)) is not None:
            return ImportResult(refused=refused)
        with self.db.transaction() as s:
            return self._keep(s, staff_id=staff_id, year=year, filename=self._base_name(filename), content=content)

    def kept_upload(self, *, staff_id: int, upload_id: str) -> KeptFile | None:
        """What is known of a file this staff member uploaded and that is still
        kept, without its bytes (they are read once, by the import itself)."""
        t = ImportUpload
        with self.db.transaction() as s:
            row = s.execute(select(t.id, t.year, t.filename, func.length(t.content)).where(*self._still_kept(staff_id, upload_id))).first()
        return None if row is None else KeptFile(id=row.id, year=row.year, filename=row.filename, size=row[3])

    def run_kept(self, *, staff_id: int, actor: Actor, upload_id: str, mode: str, progress: Progress | None = None) -> ImportResult:
        """A kept file imported: its rows read and checked first, outside any
        transaction (``progress`` is told as they are), then compared and
        written in one transaction — all of it or, with errors, nothing
        (``mode="good_only"``: the good rows)."""
        upload = self._kept(staff_id=staff_id, upload_id=upload_id)
        if upload is None:
            return ImportResult(refused="该文件的校验结果已过期，请重新选择文件导入。")
        try:
            checked = check_file(upload.filename, upload.content, max_rows=self.max_rows, progress=progress)
        except ImportRefused as exc:
            with self.db.transaction() as s:
                s.execute(delete(ImportUpload).where(ImportUpload.id == upload.id))
            return ImportResult(refused=exc.message)
        kept = {"year": upload.year, "filename": upload.filename, "content": upload.content, "upload_id": upload.id}
        return self._run(staff_id=staff_id, actor=actor, mode=mode, checked=checked, **kept)

    def import_kept(self, *, staff_id: int, actor: Actor, upload_id: str, acknowledged: bool) -> ImportResult:
        """The good rows of a file this staff member uploaded before, once
        they ``acknowledged`` that the bad rows are left out."""
        upload = self._kept(staff_id=staff_id, upload_id=upload_id)
        if upload is None:
            return ImportResult(refused="该文件的校验结果已过期，请重新选择文件导入。")
        kept = {"year": upload.year, "filename": upload.filename, "content": upload.content, "upload_id": upload.id}
        if not acknowledged:
            notice = "请勾选“我已核对错误行，确认仅导入无误的行”后再导入。"
            return self._run(staff_id=staff_id, actor=actor, mode="all", notice=notice, **kept)
        return self._run(staff_id=staff_id, actor=actor, mode="good_only", **kept)

    def _still_kept(self, staff_id: int, upload_id: str) -> tuple[Any, ...]:
        """The one rule for reaching a kept file: this staff member's, not expired."""
        t = ImportUpload
        return t.id == upload_id, t.staff_id == staff_id, t.expires_at > self.clock.now()

    def _kept(self, *, staff_id: int, upload_id: str) -> ImportUpload | None:
        with self.db.transaction() as s:
            found = s.scalars(select(ImportUpload).where(*self._still_kept(staff_id, upload_id))).first()
            if found is not None:
                s.expunge(found)
            return found

    def _run(
        self,
        *,
        staff_id: int,
        actor: Actor,
        year: int,
        filename: str,
        content: bytes,
        mode: str,
        upload_id: str | None = None,
        notice: str | None = None,
        checked: CheckedFile | None = None,
    ) -> ImportResult:
        try:
            with self.db.transaction() as s:
                try:
                    plan = prepare(
                        s, policies=self.policies, year=year, filename=filename, content=content, max_rows=self.max_rows, checked=checked
                    )
                except ImportRefused as exc:
                    return ImportResult(refused=exc.message)
                if plan.errors and mode == "all":
                    kept = upload_id or self._keep(s, staff_id=staff_id, year=plan.year, filename=plan.filename, content=content)
                    return ImportResult(plan=plan, upload_id=kept, notice=notice)
                outcome = apply_plan(s, plan, mode=mode, actor=actor, staff_id=staff_id, clock=self.clock, audit_keys=self.audit_keys)
                if upload_id:
                    s.execute(delete(ImportUpload).where(ImportUpload.id == upload_id))
                batch_id = outcome.batch.id if outcome.batch else None
                return ImportResult(batch_id=batch_id, filename=filename, unchanged=outcome.unchanged, rejected=outcome.rejected)
        except IntegrityError:
            return ImportResult(refused="另一项导入正在写入相同单位的记录，请稍后重新导入。")

    def _keep(self, s: Session, *, staff_id: int, year: int, filename: str, content: bytes) -> str:
        now = self.clock.now()
        s.execute(delete(ImportUpload).where(ImportUpload.expires_at <= now))
        upload_id = self.tokens.token(24)
        s.add(
            ImportUpload(
                id=upload_id,
                staff_id=staff_id,
                year=year,
                filename=filename,
                content=content,
                file_sha256=hashlib.sha256(content).hexdigest(),
                expires_at=now + dt.timedelta(seconds=self.upload_seconds),
            )
        )
        return upload_id

    def page(self, **extra: Any) -> dict[str, Any]:
        """What the import page shows: the years with a rule, the latest batches."""
        with self.db.transaction() as s:
            batches = list_import_batches(s)
            for b in batches:
                s.expunge(b)
        return {
            "years": self.policies.years,
            "batches": batches,
            "max_mb": self.max_bytes // (1024 * 1024),
            "columns": TEMPLATE_HEADER,
            **extra,
        }


def plan_view(plan: ImportPlan) -> dict[str, Any]:
    """A plan with errors as the result page shows it (the first 1000 errors)."""
    return {
        "year": plan.year,
        "filename": plan.filename,
        "total": plan.total_rows,
        "new": len(plan.new),
        "unchanged": len(plan.unchanged),
        "error_lines": plan.error_lines,
        "errors": plan.errors[:1000],
        "more_errors": max(len(plan.errors) - 1000, 0),
    }


def import_batch_rows(db: Database, *, batch_id: int) -> tuple[ImportBatch, list[dict[str, Any]]] | None:
    """An import batch and the records it created, in the file's order."""
    with db.transaction() as s:
        batch = s.get(ImportBatch, batch_id)
        if batch is None:
            return None
        s.expunge(batch)
        rows = s.execute(select(RefundRecord).where(RefundRecord.import_batch_id == batch_id).order_by(RefundRecord.line_no)).scalars()
        return batch, [present(r) | {"line_no": r.line_no} for r in rows]
