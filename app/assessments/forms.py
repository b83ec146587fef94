"""Forms and text parsing of the assessment pages and the import. Rules live in the services."""
from __future__ import annotations

import re
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.assessments.services import parse_decimal_text

HUNDRED = Decimal(100)

# "区级表彰 2", "区级表彰：2", "区级表彰2分", "2 区级表彰", "2分 区级表彰"
_NUM = r"(?P<pts>[0-9０-９]+(?:[.．][0-9０-９]+)?)"
ITEM_PATTERNS = (
    re.compile(rf"^(?P<reason>.+?)(?:\s+|\s*[:：]\s*){_NUM}\s*分?$"),
    re.compile(rf"^(?P<reason>.+?){_NUM}\s*分$"),
    re.compile(rf"^{_NUM}\s*分?(?:\s+|\s*[:：]\s*)(?P<reason>.+)$"),
)
ITEM_SPLIT = re.compile(r"[；;\n\r]+")
LIST_SPLIT = re.compile(r"[、,，;；\s]+")
VETO_LINE = re.compile(r"^([^:：]{1,20})[:：]\s*(.+)$")


def parse_item_line(line: str) -> tuple[Decimal | None, str] | None:
    """(points, reason) of one "事由 分值" line; None when the line has no points."""
    line = line.strip().replace("\u3000", " ")
    for pattern in ITEM_PATTERNS:
        m = pattern.match(line)
        if m and m.group("reason").strip():
            return parse_decimal_text(m.group("pts")), m.group("reason").strip(" ：:")
    return None


def parse_items_text(text: str, label: str) -> tuple[object, str | None]:
    """Lines of "事由 分值" -> [{"points", "reason"}]; a lone number -> that number; "" -> None.

    Returns (value for the service, Chinese error or None).
    """
    lines = [line.strip() for line in ITEM_SPLIT.split(text or "") if line.strip()]
    if not lines:
        return None, None
    if len(lines) == 1 and parse_decimal_text(lines[0]) is not None:
        return parse_decimal_text(lines[0]), None
    items = []
    for i, line in enumerate(lines, start=1):
        parsed = parse_item_line(line)
        if parsed is None or parsed[0] is None:
            return None, f"{label}第{i}行“{line}”看不懂：请按“事由 分值”填写，如“区级表彰 2”。"
        items.append({"points": parsed[0], "reason": parsed[1]})
    return items, None


def items_text(items: list[dict], total=None) -> str:
    """Stored items back to the lines of the form ("区级表彰 2")."""
    if items:
        return "\n".join(f"{i['reason']} {_plain(i['points'])}" for i in items)
    return _plain(total) if total not in (None, "") and Decimal(total) != 0 else ""


def parse_veto_text(text: str) -> list[dict]:
    """One veto per line: "安全生产：事由" or just the reason."""
    out = []
    for line in ITEM_SPLIT.split(text or ""):
        line = line.strip()
        if not line:
            continue
        m = VETO_LINE.match(line)
        if m:
            out.append({"item": m.group(1).strip(), "reason": m.group(2).strip()})
        else:
            out.append({"item": "", "reason": line})
    return out


def veto_text(items: list[dict]) -> str:
    return "\n".join(f"{i['item']}：{i['reason']}" if i.get("item") else i.get("reason", "") for i in items or [])


def _plain(value) -> str:
    d = Decimal(str(value))
    return format(d.normalize(), "f") if d else "0"


def percent(value) -> str:
    """A stored fraction as the percentage typed on the pages: 0.005 -> '0.5'."""
    return _plain(Decimal(str(value)) * HUNDRED)


def split_list(text: str) -> list[str]:
    return [p for p in LIST_SPLIT.split(text or "") if p]


def parse_classes_text(text: str) -> tuple[list, list[str]]:
    """One class a line: "街道" or "机关 0.2" (its own step in %)."""
    out, errors = [], []
    for line in (text or "").splitlines():
        line = line.strip().replace("\u3000", " ")
        if not line:
            continue
        parts = line.rsplit(None, 1)
        if len(parts) == 2 and parse_decimal_text(parts[1].rstrip("%％")) is not None:
            step = parse_decimal_text(parts[1].rstrip("%％"))
            if not Decimal(0) < step <= Decimal(10):
                errors.append(f"类别“{parts[0]}”的系数步长须大于0且不超过10（%）。")
                continue
            out.append({"name": parts[0], "coefficient_step": step / HUNDRED})
        elif len(parts) == 2:
            # a class name holds no space: what follows it is a step that did not parse
            errors.append(f"“{line}”：类别名称后只能写本类的系数步长（%），如“{parts[0]} 0.2”。")
        else:
            out.append(line)
    return out, errors


def classes_text(classes: list[dict]) -> str:
    return "\n".join(
        f"{c['name']} {percent(c['coefficient_step'])}" if c.get("coefficient_step") else c["name"]
        for c in classes or [])


class AssessmentForm(FlaskForm):
    """Settings; numbers are typed as text (percentages) and parsed with Chinese messages."""

    year = StringField(_l("年度"), validators=[DataRequired(_l("请填写年度。"))])
    title = StringField(_l("考核名称"), validators=[
        DataRequired(_l("请填写考核名称。")), Length(max=100, message=_l("考核名称不超过100个字。"))])
    step = StringField(_l("系数步长（%）：每相差一个名次，系数相差多少"), default="0.5")
    ratio = StringField(_l("不合格线（占本类第一名得分的 %）"), default="60")
    quota_a = StringField(_l("优秀（A）名额（占本类单位数的 %）"), default="20")
    quota_b = StringField(_l("良好（B）名额（%）"), default="30")
    departments = StringField(_l("评价部门（用顿号分隔）"), default="纪委、组织部、宣传部、统战部")
    unit_classes = TextAreaField(_l("单位类别（每行一个；可在名称后写本类的系数步长 %，如“二类机关 0.2”）"))
    share_a = StringField(_l("A 等次单位可评优秀人员比例（%）"), default="30")
    share_b = StringField(_l("B 等次（%）"), default="20")
    share_c = StringField(_l("C 等次（%）"), default="15")
    share_d = StringField(_l("D 等次（%）"), default="0")

    PERCENT_FIELDS = {  # form field -> (label, upper bound in %, may be blank)
        "step": ("系数步长", Decimal(10), False),
        "ratio": ("不合格线", HUNDRED, False),
        "quota_a": ("优秀名额", HUNDRED, False),
        "quota_b": ("良好名额", HUNDRED, False),
        "share_a": ("A 等次优秀比例", HUNDRED, False),
        "share_b": ("B 等次优秀比例", HUNDRED, False),
        "share_c": ("C 等次优秀比例", HUNDRED, False),
        "share_d": ("D 等次优秀比例", HUNDRED, False),
    }
    # service field -> form field, to show service errors in place
    SERVICE_FIELDS = {"year": "year", "title": "title", "coefficient_step": "step", "unqualified_ratio": "ratio",
                      "grade_quotas": "quota_a", "departments": "departments", "unit_classes": "unit_classes",
                      "excellent_shares": "share_a"}

    def settings(self) -> dict | None:
        """The service's keyword arguments, or None after putting errors on the fields."""
        ok = True
        values: dict[str, Decimal | None] = {}
        for name, (label, upper, blank_ok) in self.PERCENT_FIELDS.items():
            field = self[name]
            text = (field.data or "").strip().rstrip("%％")
            if not text and blank_ok:
                values[name] = None
                continue
            d = parse_decimal_text(text)
            if d is None:
                field.errors = [*field.errors, f"{label}须为数字（百分数，不带 % 也可）。"]
                ok = False
            elif d < 0 or d > upper or (name in ("step", "ratio") and d == 0):
                low = "大于0" if name in ("step", "ratio") else "不小于0"
                field.errors = [*field.errors, f"{label}须{low}且不超过{_plain(upper)}（%）。"]
                ok = False
            else:
                values[name] = d / HUNDRED
        year_text = (self.year.data or "").strip()
        year = int(year_text) if year_text.isdigit() and len(year_text) == 4 else None
        if year is None:
            self.year.errors = [*self.year.errors, "年度须为四位数字，如 2026。"]
            ok = False
        if not split_list(self.departments.data):
            self.departments.errors = [*self.departments.errors, "请填写评价部门，用顿号分隔，如“纪委、组织部”。"]
            ok = False
        classes, class_errors = parse_classes_text(self.unit_classes.data)
        if class_errors:
            self.unit_classes.errors = [*self.unit_classes.errors, *class_errors]
            ok = False
        if not ok:
            return None
        quotas = {"A": values["quota_a"], "B": values["quota_b"]}
        return {
            "year": year, "title": self.title.data, "coefficient_step": values["step"],
            "unqualified_ratio": values["ratio"], "grade_quotas": quotas,
            "departments": split_list(self.departments.data), "unit_classes": classes,
            "excellent_shares": {g: values[f"share_{g.lower()}"] for g in "ABCD"},
        }

    def fill(self, a) -> None:
        """Show an existing assessment's settings."""
        self.year.data = str(a.year)
        self.title.data = a.title
        self.step.data = percent(a.coefficient_step)
        self.ratio.data = percent(a.unqualified_ratio)
        quotas = a.grade_quotas or {}
        self.quota_a.data = percent(quotas.get("A", 0))
        self.quota_b.data = percent(quotas.get("B", 0))
        self.departments.data = "、".join(a.departments or [])
        self.unit_classes.data = classes_text(a.unit_classes)
        shares = a.excellent_shares or {}
        for g in "ABCD":
            if g in shares:
                self[f"share_{g.lower()}"].data = percent(shares[g])


class ImportForm(FlaskForm):
    file = FileField(_l("得分表（.xlsx）"), validators=[FileRequired(_l("请选择要导入的 Excel 文件。"))])


def unit_from_form(form, departments: list[str]) -> tuple[dict, dict[str, list[str]]]:
    """A unit page's posted fields as the service's data dict, plus parse errors per field."""
    errors: dict[str, list[str]] = {}
    data: dict = {"unit_class": (form.get("unit_class") or "").strip() or None}

    base_text = (form.get("base") or "").strip()
    if base_text:
        data["base"] = parse_decimal_text(base_text)
        if data["base"] is None:
            errors.setdefault("base", []).append("基础分须为数字。")

    parts_text = {d: (form.get(f"dept_{i}") or "").strip() for i, d in enumerate(departments)}
    total_text = (form.get("party_building_total") or "").strip()
    if any(parts_text.values()):
        missing = [d for d, t in parts_text.items() if not t]
        if missing:
            errors.setdefault("party_building", []).append(
                "请填写每个评价部门的得分（缺：" + "、".join(missing) + "），或清空各部门、只填党建总分。")
        parts = {}
        for d, t in parts_text.items():
            if t:
                parts[d] = parse_decimal_text(t)
                if parts[d] is None:
                    errors.setdefault("party_building", []).append(f"{d}评分须为数字。")
        data["party_building"] = parts
    elif total_text:
        data["party_building"] = parse_decimal_text(total_text)
        if data["party_building"] is None:
            errors.setdefault("party_building", []).append("党建总分须为数字。")

    for key, label in (("bonus", "加分"), ("deductions", "扣分")):
        value, error = parse_items_text(form.get(key, ""), label)
        if error:
            errors.setdefault(key, []).append(error)
        data[key] = value

    data["veto"] = parse_veto_text(form.get("veto", ""))
    data["criticized"] = form.get("criticized") in ("y", "on", "1", "true")
    data["criticized_reason"] = (form.get("criticized_reason") or "").strip()
    if not data["criticized"] and data["criticized_reason"]:
        errors.setdefault("criticized_reason", []).append("填写了通报批评事由，请同时勾选“被通报批评”，或清空事由。")
    return data, errors
