"""Unit scores from Excel (.xlsx): one row per unit, every row good or nothing imported.

Columns (the template's headers): 单位, 类别, 基础分, one column per evaluating department
(纪委, 组织部, 宣传部, 统战部 by default) or 党建总分, 加分, 加分事由, 扣分, 扣分事由, 一票否决,
通报批评 (and optionally 通报批评事由). Bad rows are reported with the row number Excel shows.
"""
from __future__ import annotations

import io
import re
from decimal import Decimal

from app.assessments import services
from app.assessments.forms import ITEM_SPLIT, parse_item_line, parse_veto_text
from app.assessments.models import Assessment
from app.errors import Invalid
from app.orgs.roster import OrgMatcher
from app.xlsx import SheetUnreadable, cell_text, listed_problems, read_rows

MAX_ROWS = 2000
HEADER_SCAN_ROWS = 5
NO_WORDS = {"", "否", "无", "没有", "0", "n", "no", "false", "×", "-", "—"}
YES_WORDS = {"是", "有", "1", "y", "yes", "true", "√", "✓", "✔"}


class ImportProblems(Invalid):
    """The file cannot be imported; ``problems`` lists (Excel row number or None, reason)."""

    code = "import_invalid"

    def __init__(self, problems: list[tuple[int | None, str]]):
        self.problems, self.total = listed_problems(problems)
        super().__init__(f"表格中有{self.total}处问题，未导入任何单位。",
                         fields={"file": [self.describe(p) for p in self.problems]})

    @staticmethod
    def describe(problem: tuple[int | None, str]) -> str:
        row, reason = problem
        return f"第{row}行：{reason}" if row else reason


_text = cell_text


def _number(value) -> tuple[Decimal | None, bool]:
    """(the cell as a Decimal, whether it was filled)."""
    if value is None or _text(value) == "":
        return None, False
    if isinstance(value, bool):
        return None, True
    if isinstance(value, (int, float)):
        return services.to_decimal(value), True
    return services.parse_decimal_text(_text(value).rstrip("分")), True


def _headers(assessment: Assessment) -> dict[str, str]:
    """Normalized header -> column key."""
    keys = {"单位": "unit", "单位名称": "unit", "组织": "unit", "类别": "class", "单位类别": "class",
            "基础分": "base", "党建总分": "pb_total", "党建得分": "pb_total", "加分": "bonus",
            "加分事由": "bonus_reason", "扣分": "deductions", "扣分事由": "deductions_reason",
            "一票否决": "veto", "一票否决事由": "veto", "通报批评": "criticized", "通报批评事由": "criticized_reason"}
    for i, dept in enumerate(assessment.departments or []):
        keys[dept] = f"dept_{i}"
    return keys


def _load_rows(fileobj, formula_cells: dict[int, str] | None = None) -> list[tuple[int, tuple]]:
    """(Excel row number, cell values) of the first sheet's non-empty rows."""
    try:
        return read_rows(fileobj, MAX_ROWS + HEADER_SCAN_ROWS, f"一次最多导入{MAX_ROWS}个单位，请分批导入。", formula_cells)
    except SheetUnreadable as exc:
        raise ImportProblems([(None, exc.message)]) from exc


def _find_header(rows, keys: dict[str, str], assessment: Assessment) -> tuple[int, dict[str, int]]:
    if not rows:
        raise ImportProblems([(None, "表格是空的：第一行须为表头（单位、类别、基础分……），其下每行一个单位。")])
    for i, (number, values) in enumerate(rows[:HEADER_SCAN_ROWS]):
        columns: dict[str, int] = {}
        for col, value in enumerate(values):
            key = keys.get(re.sub(r"\s", "", _text(value)).strip("*＊"))
            if key and key not in columns:
                columns[key] = col
        if "unit" in columns:
            missing = []
            if "base" not in columns:
                missing.append("基础分")
            if "pb_total" not in columns and not any(k.startswith("dept_") for k in columns):
                missing.append("党建总分（或各评价部门）")
            if "class" not in columns and len(assessment.class_names) != 1:
                missing.append("类别")
            if missing:
                raise ImportProblems([(number, "表头缺少" + "、".join(f"“{m}”" for m in missing) + "列。")])
            return i, columns
    raise ImportProblems([(None, "找不到表头：须有一行写明“单位”“基础分”“党建总分”或各评价部门。")])


def _items(amount_cell, reason_cell, label: str, problems: list[str]):
    """加分 + 加分事由 -> a number, a list of items, or None."""
    amount, filled = _number(amount_cell)
    if filled and amount is None:
        problems.append(f"{label}“{_text(amount_cell)}”不是数字。")
        return None
    reason = _text(reason_cell)
    if not reason:
        return amount
    segments = [s.strip() for s in ITEM_SPLIT.split(reason) if s.strip()]
    parsed = [parse_item_line(s) for s in segments]
    if segments and all(p is not None and p[0] is not None for p in parsed):
        items = [{"points": p[0], "reason": p[1]} for p in parsed]
        total = sum((p[0] for p in parsed), Decimal(0))
        if amount is not None and amount != total:
            problems.append(f"{label}{services._fmt(amount)}与{label}事由中各项之和{services._fmt(total)}不一致。")
            return None
        return items
    if amount is None:
        problems.append(f"填写了{label}事由，但没有填{label}分值。")
        return None
    return [{"points": amount, "reason": reason}]


def _flag(cell) -> tuple[bool | None, str]:
    """A yes/no cell: (True/False, reason text); (None, text) when it is a reason."""
    text = _text(cell)
    if text.lower() in NO_WORDS:
        return False, ""
    if text.lower() in YES_WORDS:
        return True, ""
    return None, text


def import_units(actor, assessment_id: int, fileobj) -> list:
    """Enter every row's unit; any bad row means nothing is imported (ImportProblems lists them all)."""
    assessment = services.get_assessment(actor, assessment_id)
    services._require_draft(assessment)
    keys = _headers(assessment)
    formula_cells: dict[int, str] = {}  # rows with a formula saved without its value: listed, not checked
    rows = _load_rows(fileobj, formula_cells)
    try:
        header_index, columns = _find_header(rows, keys, assessment)
    except ImportProblems as exc:
        raise ImportProblems(sorted(formula_cells.items()) + exc.problems) if formula_cells else exc
    departments = assessment.departments or []
    dept_columns = [(d, columns.get(f"dept_{i}")) for i, d in enumerate(departments)]
    has_dept_columns = any(col is not None for _, col in dept_columns)

    def cell(values, key):
        col = columns.get(key)
        return values[col] if col is not None and col < len(values) else None

    data_rows = [(n, v) for n, v in rows[header_index + 1:]
                 if any(_text(x) for x in v) and n not in formula_cells]
    if not data_rows and not formula_cells:
        raise ImportProblems([(None, "表格中没有单位数据：请在表头下方每行填写一个单位。")])
    if len(data_rows) > MAX_ROWS:
        raise ImportProblems([(None, f"一次最多导入{MAX_ROWS}个单位，请分批导入。")])

    matcher = OrgMatcher(actor)
    problems: list[tuple[int | None, str]] = list(formula_cells.items())
    seen: dict[int, int] = {}
    planned = []
    for number, values in data_rows:
        row_problems: list[str] = []
        name = _text(cell(values, "unit"))
        org = None
        if not name:
            row_problems.append("缺少单位名称。")
        else:
            org, reason = matcher.find(name)
            if org is None:
                row_problems.append(reason)
            elif org.id in seen:
                row_problems.append(f"单位“{name}”在表中重复：第{seen[org.id]}行和第{number}行。")
            else:
                seen[org.id] = number

        data: dict = {}
        unit_class = _text(cell(values, "class"))
        if not unit_class and len(assessment.class_names) == 1:
            unit_class = assessment.class_names[0]
        data["unit_class"] = unit_class or None

        base, filled = _number(cell(values, "base"))
        if filled and base is None:
            row_problems.append(f"基础分“{_text(cell(values, 'base'))}”不是数字。")
        data["base"] = base

        total, total_filled = _number(cell(values, "pb_total"))
        if total_filled and total is None:
            row_problems.append(f"党建总分“{_text(cell(values, 'pb_total'))}”不是数字。")
        parts: dict = {}
        if has_dept_columns:
            for dept, col in dept_columns:
                raw = values[col] if col is not None and col < len(values) else None
                value, filled = _number(raw)
                if filled and value is None:
                    row_problems.append(f"{dept}评分“{_text(raw)}”不是数字。")
                if filled:
                    parts[dept] = value
        if parts:
            missing = [d for d, _ in dept_columns if d not in parts]
            if missing:
                row_problems.append("缺少评价部门的得分：" + "、".join(missing) + "（或只填党建总分）。")
            elif total is not None and all(v is not None for v in parts.values()) and \
                    sum(parts.values(), Decimal(0)) != total:
                row_problems.append(f"党建总分{services._fmt(total)}与各部门得分之和"
                                    f"{services._fmt(sum(parts.values(), Decimal(0)))}不一致。")
            data["party_building"] = parts
        else:
            data["party_building"] = total

        data["bonus"] = _items(cell(values, "bonus"), cell(values, "bonus_reason"), "加分", row_problems)
        data["deductions"] = _items(cell(values, "deductions"), cell(values, "deductions_reason"), "扣分",
                                    row_problems)

        veto, veto_reason = _flag(cell(values, "veto"))
        data["veto"] = veto if veto is not None else parse_veto_text(veto_reason)
        criticized, criticized_reason = _flag(cell(values, "criticized"))
        data["criticized"] = True if criticized is None else criticized
        data["criticized_reason"] = criticized_reason or _text(cell(values, "criticized_reason"))
        if data["criticized_reason"] and not data["criticized"]:
            row_problems.append("填写了通报批评事由，但“通报批评”填的是“否”。")

        if not row_problems:
            clean, errors = services.validate_unit(assessment, data)
            for messages in errors.values():
                row_problems.extend(messages)
        if row_problems:
            problems.extend((number, p) for p in row_problems)
        else:
            planned.append((org, clean))

    if problems:
        raise ImportProblems(problems)
    return services.save_units(actor, assessment, planned)


def template_workbook(actor, assessment_id: int) -> bytes:
    """The import sheet with the assessment's columns, prefilled with the units entered so far."""
    import openpyxl
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    from app.assessments.forms import items_text, veto_text

    assessment = services.get_assessment(actor, assessment_id)
    departments = assessment.departments or []
    headers = ["单位", "类别", "基础分", *departments, "党建总分", "加分", "加分事由", "扣分", "扣分事由",
               "一票否决", "通报批评"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "考核得分"
    ws.append(headers)
    for c in ws[1]:
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = PatternFill("solid", fgColor="C8102E")
        c.alignment = Alignment(horizontal="center")
    units = services.list_units(actor, assessment_id)
    matcher = OrgMatcher(actor) if units else None
    for u in units:
        same_name = sum(1 for o in matcher.orgs if o.name == u.org.name) > 1
        parts = u.party_building_parts or {}
        ws.append([
            matcher.full_path(u.org) if same_name else u.org.name, u.unit_class, Decimal(u.base),
            *[Decimal(parts[d]) if d in parts else None for d in departments],
            None if parts else Decimal(u.party_building),
            Decimal(u.bonus) if u.bonus else None, items_text(u.bonus_items).replace("\n", "；"),
            Decimal(u.deductions) if u.deductions else None, items_text(u.deduction_items).replace("\n", "；"),
            (veto_text(u.veto_items).replace("\n", "；") or "是") if u.veto else "否",
            (u.criticized_reason or "是") if u.criticized else "否",
        ])
    if assessment.class_names:
        dv = DataValidation(type="list", formula1='"' + ",".join(assessment.class_names) + '"', allow_blank=True)
        ws.add_data_validation(dv)
        dv.add("B2:B1000")
    widths = [24, 12, 10, *[10] * len(departments), 10, 8, 30, 8, 30, 20, 20]
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[openpyxl.utils.get_column_letter(i)].width = width
    ws.freeze_panes = "B2"

    notes = wb.create_sheet("填写说明")
    for line in (
        f"《{assessment.full_title}》单位得分导入表。每行一个单位，第一行表头不要修改。",
        "单位：组织名称（与“组织”页面上的名称一致）；如有重名，填写完整路径，即从上级到本单位的名称，用“/”隔开，如“东湖街道党工委/桂花社区党委”。",
        "类别：同一类别的单位之间比较名次、合格线和等次名额"
        + ("；可填：" + "、".join(assessment.class_names) if assessment.class_names else "") + "。",
        "基础分：0至100分。",
        "党建得分：填写各评价部门（" + "、".join(departments) + "）的得分（每项0至100分），或只填“党建总分”。",
        "加分、扣分：填写合计分值，并在“事由”列写明；多项用分号隔开并写明各项分值，如“区级表彰 2；红旗项目 1”。",
        "一票否决：填“否”或留空；否决的填“是”，最好直接写明事项和事由，如“安全生产：发生较大事故”。",
        "通报批评：填“否”或留空；被市级以上通报批评的填“是”或直接写明事由。被通报批评的单位评为不合格。",
        "所有行都正确才会导入；有任何一行出错都不会导入，请按提示修改后重新上传。已录入的单位再次导入会被覆盖。",
    ):
        notes.append([line])
    notes.column_dimensions["A"].width = 110

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
