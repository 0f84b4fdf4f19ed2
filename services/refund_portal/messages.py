"""Every Chinese sentence the refund business shows that is not in a
template: labels, reasons, import errors. Code speaks in codes; this module
turns them into text."""

from __future__ import annotations

from typing import Any

from shared.money import format_fen

__all__ = [
    "STATUS",
    "SIZE",
    "ROLE",
    "DECISION",
    "ACTION",
    "INELIGIBLE",
    "IMPORT",
    "MONEY",
    "DECISION_ERROR",
    "STAFF_ERROR",
    "ineligible_reasons",
    "describe_entry",
]

STATUS = {
    "pending": "待确认",
    "account_reported": "账户待核实",
    "confirmed": "已确认",
    "paid": "已发放",
    "declined": "已放弃",
    "ineligible": "不符合条件",
}

SIZE = {"large": "大型企业", "sme": "中小微企业"}

ROLE = {"clerk": "经办员", "supervisor": "审核员", "auditor": "审计员"}

# The unit's three choices on 稳岗返还信息确认.
DECISION = {
    "confirm": "确认返还信息",
    "decline": "放弃本次返还",
    "report_account": "反馈银行账户有误",
}

ACTION = {
    "import.accepted": "导入名单",
    "record.imported": "导入记录",
    "record.confirmed": "单位确认",
    "record.declined": "单位放弃",
    "record.account_reported": "单位反馈账户有误",
    "record.account_corrected": "更正银行账户",
    "record.batched": "列入拨付批次",
    "record.paid": "已发放",
    "payment.created": "生成拨付批次",
    "payment.exported": "导出拨付批次",
    "payment.paid": "批次标记已发放",
}

INELIGIBLE = {
    "no_premium": "上年度单位及职工未缴纳失业保险费，无可返还金额",
    "layoff_rate": "上年度裁员率高于政策规定的上限",
    "arrears": "存在欠缴失业保险费",
}

MONEY = {
    "empty": "不能为空",
    "format": "应为金额数字（元，最多两位小数），如 12345.67",
    "negative": "不能为负数",
    "precision": "最多保留两位小数（精确到分）",
    "too_large": "金额过大",
}

IMPORT = {
    # the file as a whole
    "file_empty": "请选择要导入的名单文件（CSV 或 XLSX）",
    "file_too_large": "文件过大（不超过 {limit}），请分批导入",
    "file_type": "无法识别文件格式，请上传 CSV（UTF-8 或 GBK 编码）或 Excel XLSX 文件",
    "file_unreadable": "无法读取文件内容，请确认文件未损坏且为 CSV 或 XLSX 格式",
    "no_header": "文件第1行应为表头（统一社会信用代码、单位名称……），未找到表头",
    "missing_columns": "缺少必填列：{columns}",
    "duplicate_columns": "表头列重复：{columns}",
    "no_rows": "文件中没有数据行",
    "too_many_rows": "数据行过多（不超过 {limit} 行），请分批导入",
    "content_too_large": (
        "文件内容超出限制（含空行不超过 {limit} 行，解压后不超过 {mb} MB），请删除多余的空行、空白单元格后重新导入或分批导入"
    ),
    "no_policy": "未配置 {year} 年度稳岗返还政策，无法导入",
    "year": "请选择返还年度",
    # one row
    "uscc": "统一社会信用代码：{message}",
    "org_name": "单位名称不能为空",
    "org_name_long": "单位名称过长（不超过100字）",
    "unit_code": "单位管理码应为8至20位数字",
    "size": "企业规模应填“大型”或“中小微”",
    "insured_count": "参保人数应为大于0的整数",
    "layoff_count": "裁员人数应为0或正整数",
    "layoff_exceeds": "裁员人数（{layoff}）不能大于参保人数（{insured}）",
    "money": "{column}{message}",
    "bank_name": "开户银行不能为空",
    "bank_account": "银行账号应为8至30位数字",
    "bank_account_numeric": "银行账号单元格应设为文本格式（数字格式会丢失位数），请修改后重新导入",
    "dup_uscc_in_file": "统一社会信用代码与第{line}行重复",
    "dup_code_in_file": "单位管理码与第{line}行重复",
    "conflict_uscc": "该单位 {year} 年度记录已于导入批次 {batch} 导入，内容不一致；如需更正银行账户，请在记录详情中办理",
    "conflict_code": "单位管理码已被 {year} 年度另一单位（{uscc}）使用",
}

DECISION_ERROR = {
    "not_found": "未找到该返还记录。",
    "not_pending": "该记录当前状态为“{status}”，不能再次办理。每条记录只能确认一次。",
    "note_required": "请填写说明（不超过200字）。",
    "note_too_long": "说明不超过200字。",
    "declaration": "请勾选确认声明后再提交。",
    "unknown_decision": "请选择要办理的事项。",
    "stale": "记录已被更新，请刷新页面核对最新信息后重新办理。",
    "not_admitted": "稳岗返还信息确认需要四级（原L2）或以上可信等级的单位账号，请重新登录。",
}

STAFF_ERROR = {
    "empty": "请输入账号、密码和动态口令",
    "wrong": "账号、密码或动态口令错误，您还可以尝试{left}次",
    "locked": "密码或动态口令错误次数过多，账号已被锁定，请{minutes}分钟后再试",
    "code_used": "该动态口令已使用，请等待口令刷新后再登录",
    "address": "登录尝试过于频繁，请{minutes}分钟后再试",
    "inactive": "该账号已停用",
    "forbidden": "您的岗位（{role}）无权办理此项业务。",
    "reason_required": "请填写更正原因。",
    "no_confirmed": "{year} 年度没有待拨付的已确认记录。",
    "batch_paid": "该批次已标记为已发放。",
    "paid_confirm": "请勾选“已核对银行回单，确认该批次已全部发放”。",
    "reference_required": "请填写银行回单号或拨付凭证号。",
    "not_correctable": "该记录当前状态为“{status}”，不能更正银行账户。",
}


def ineligible_reasons(failed: list[str]) -> list[str]:
    return [INELIGIBLE.get(code, code) for code in failed]


def describe_entry(action: str, detail: dict[str, Any]) -> str:
    """One line for the audit and history tables."""
    label = ACTION.get(action, action)
    state = detail.get("state") or {}
    parts = [label]
    if "from" in detail and "to" in detail:
        parts.append(f"{STATUS.get(detail['from'], detail['from'])} → {STATUS.get(detail['to'], detail['to'])}")
    elif action == "record.imported" and state:
        parts.append(f"{STATUS.get(state.get('status'), '')}，金额 {format_fen(int(state.get('amount_fen', 0)))} 元")
    if action == "import.accepted":
        parts.append(f"{detail.get('filename', '')}：新增 {detail.get('imported', 0)} 条，未变 {detail.get('unchanged', 0)} 条")
        if detail.get("rejected"):
            parts.append(f"跳过错误行 {detail['rejected']} 行")
    if action in ("payment.created", "payment.paid"):
        parts.append(f"{detail.get('count', 0)} 条，合计 {format_fen(int(detail.get('total_fen', 0)))} 元")
    if action == "payment.exported":
        parts.append(str(detail.get("format", "")).upper())
    if detail.get("reference"):
        parts.append(f"凭证号 {detail['reference']}")
    if detail.get("reason"):
        parts.append(f"{'说明' if action == 'record.confirmed' else '原因'}：{detail['reason']}")
    return "，".join(p for p in parts if p)
