"""Member roster import from Excel (.xlsx): every row good, or nothing imported."""
from __future__ import annotations

import datetime
import io
import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.auth.models import User, hash_password
from app.auth.scope import is_fellow_secretary, require_role
from app.errors import Invalid
from app.extensions import db
from app.orgs.models import Org
from app.orgs.services import PHONE_RE, managed_orgs, name_problems, password_problem
from app.text import phone_number
from app.xlsx import SheetUnreadable, cell_text, listed_problems, read_rows

MAX_ROWS = 5000
HEADER_SCAN_ROWS = 5
NAME_MAX = 50

# Header cell (normalized) -> column key. The first four are the template's own headers.
HEADERS = {
    "姓名": "name", "手机号": "phone", "所属组织": "org", "角色": "role",
    "手机号码": "phone", "手机": "phone", "所属党组织": "org", "所属支部": "org", "组织": "org",
}
REQUIRED = {"name": "姓名", "phone": "手机号", "org": "所属组织"}
TEMPLATE_HEADERS = ("姓名", "手机号", "所属组织", "角色")

ROLE_WORDS = {
    "": "member", "党员": "member", "member": "member", "正式党员": "member", "预备党员": "member",
    "书记": "secretary", "支部书记": "secretary", "社区书记": "secretary", "secretary": "secretary",
    "管理员": "admin", "admin": "admin",
}
PATH_SPLIT = re.compile(r"\s*[/／>＞]\s*")
# what _phone gives for a phone cell Excel stored as a date or time (never a valid phone)
DATE_CELL = "\x00date"


class RosterError(Invalid):
    """The roster cannot be imported; ``problems`` lists (Excel row number or None, reason)."""

    code = "roster_invalid"

    def __init__(self, problems: list[tuple[int | None, str]]):
        self.problems, self.total = listed_problems(problems)
        super().__init__(f"名单中有{self.total}处问题，未导入任何党员。")


@dataclass
class Row:
    number: int
    name: str
    phone: str
    org_text: str
    role_text: str


_text = cell_text


def _phone(value) -> str:
    if isinstance(value, (datetime.date, datetime.time)):
        # Excel turned the typed number into a date: its digits are not the phone number typed
        return DATE_CELL
    return phone_number(_text(value))


def _header_key(value) -> str | None:
    text = re.sub(r"\s", "", _text(value))
    text = re.sub(r"[（(]必填[)）]$", "", text).strip("*＊")
    return HEADERS.get(text)


def _load_rows(fileobj, formula_cells: dict[int, str] | None = None) -> list[tuple[int, tuple]]:
    """(Excel row number, cell values) of the first sheet's non-empty rows."""
    try:
        return read_rows(fileobj, MAX_ROWS + HEADER_SCAN_ROWS, f"一次最多导入{MAX_ROWS}行，请分批导入。", formula_cells)
    except SheetUnreadable as exc:
        raise RosterError([(None, exc.message)]) from exc


def _find_header(rows) -> tuple[int, dict[str, int]]:
    """Index (into ``rows``) of the header row and column key -> column index."""
    if not rows:
        raise RosterError([(None, "表格是空的：第一行须为表头（姓名、手机号、所属组织、角色），其下每行一名党员。")])
    for i, (number, values) in enumerate(rows[:HEADER_SCAN_ROWS]):
        columns: dict[str, int] = {}
        for col, value in enumerate(values):
            key = _header_key(value)
            if key and key not in columns:
                columns[key] = col
        if "name" in columns or "phone" in columns:
            missing = [label for key, label in REQUIRED.items() if key not in columns]
            if missing:
                raise RosterError([(number, "表头缺少" + "、".join(f"“{m}”" for m in missing) + "列。")])
            return i, columns
    raise RosterError([(None, "找不到表头：须有一行写明“姓名”“手机号”“所属组织”（“角色”可选）。")])


class OrgMatcher:
    """Finds an org in the actor's scope by name, or by a path of names when names repeat."""

    def __init__(self, actor):
        self.orgs = managed_orgs(actor)
        names = {o.id: o.name for o in self.orgs}
        missing = {i for o in self.orgs for i in o.ancestor_ids} - set(names)
        if missing:
            names.update(db.session.execute(sa.select(Org.id, Org.name).where(Org.id.in_(missing))).all())
        self.paths = {o.id: tuple(names.get(i, "") for i in o.ancestor_ids) for o in self.orgs}
        # each path as the words a cell splits into (a name may itself hold a "/": 物业/两新党支部),
        # with the positions where a name starts: a cell must end on whole names
        self.words: dict[int, tuple[tuple[str, ...], frozenset[int]]] = {}
        for org_id, path in self.paths.items():
            words: list[str] = []
            starts = set()
            for name in path:
                starts.add(len(words))
                words.extend(w for w in PATH_SPLIT.split(name) if w)
            self.words[org_id] = (tuple(words), frozenset(starts))
        self.cache: dict[str, tuple[Org | None, str | None]] = {}

    def full_path(self, org: Org) -> str:
        return "/".join(self.paths[org.id])

    def find(self, text: str) -> tuple[Org | None, str | None]:
        """The org, or None and a reason in Chinese."""
        if text not in self.cache:
            self.cache[text] = self._find(text)
        return self.cache[text]

    def _ends_with(self, org_id: int, parts: tuple[str, ...]) -> bool:
        words, starts = self.words[org_id]
        return len(parts) <= len(words) and words[-len(parts):] == parts and len(words) - len(parts) in starts

    def _find(self, text: str) -> tuple[Org | None, str | None]:
        parts = tuple(p for p in PATH_SPLIT.split(text) if p)
        if not parts:
            return None, "缺少所属组织。"
        found = [o for o in self.orgs if self._ends_with(o.id, parts)]
        if len(found) == 1:
            return found[0], None
        if found:
            examples = "、".join(f"“{self.full_path(o)}”" for o in found[:3])
            return None, f"组织“{text}”有重名，请填写完整路径，如 {examples}。"
        exists = db.session.scalar(sa.select(Org.id).where(Org.name.in_({parts[-1], text.strip()})).limit(1))
        if exists is not None:
            return None, f"组织“{text}”不在您的管理范围内。"
        return None, f"找不到组织“{text}”。"


def _cell(values: tuple, columns: dict[str, int], key: str):
    col = columns.get(key)
    return values[col] if col is not None and col < len(values) else None


def import_roster(actor, fileobj, initial_password: str) -> list[User]:
    """Create one account per row of an .xlsx roster; any bad row means nothing is imported.

    Raises RosterError listing every problem with the row number Excel shows.
    """
    require_role(actor, "admin", "secretary")
    problems: list[tuple[int | None, str]] = []
    if problem := password_problem(initial_password, "初始密码"):
        problems.append((None, problem))

    formula_cells: dict[int, str] = {}  # rows with a formula saved without its value: listed, not checked
    rows = _load_rows(fileobj, formula_cells)
    try:
        header_index, columns = _find_header(rows)
    except RosterError as exc:
        raise RosterError(sorted(formula_cells.items()) + exc.problems) if formula_cells else exc
    problems.extend(formula_cells.items())
    data_rows = [
        Row(number, _text(_cell(v, columns, "name")), _phone(_cell(v, columns, "phone")),
            _text(_cell(v, columns, "org")), _text(_cell(v, columns, "role")))
        for number, v in rows[header_index + 1:] if number not in formula_cells
    ]
    data_rows = [r for r in data_rows if r.name or r.phone or r.org_text or r.role_text]
    if not data_rows and not formula_cells:
        raise RosterError(problems + [(None, "表格中没有党员数据：请在表头下方每行填写一名党员。")])
    if len(data_rows) > MAX_ROWS:
        raise RosterError([(None, f"一次最多导入{MAX_ROWS}行，请分批导入。")])

    matcher = OrgMatcher(actor)
    seen_phones: dict[str, int] = {}
    candidates = {r.phone for r in data_rows if PHONE_RE.match(r.phone)}
    registered = set()
    phones = sorted(candidates)
    for start in range(0, len(phones), 500):
        chunk = phones[start:start + 500]
        registered.update(db.session.scalars(sa.select(User.phone).where(User.phone.in_(chunk))))

    planned: list[tuple[Row, Org, str]] = []
    for row in data_rows:
        bad = False

        def report(reason: str) -> None:
            nonlocal bad
            bad = True
            problems.append((row.number, reason))

        if not row.name:
            report("缺少姓名。")
        elif len(row.name) > NAME_MAX:
            report(f"姓名不超过{NAME_MAX}个字。")
        elif problem := name_problems(row.name, limit=NAME_MAX, what="姓名"):
            report(problem[0])

        if not row.phone:
            report("缺少手机号。")
        elif row.phone == DATE_CELL:
            report("手机号被 Excel 存成了日期：请把“手机号”列设为文本格式，重新填写号码后再导入。")
        elif not PHONE_RE.match(row.phone):
            report(f"手机号“{row.phone}”不是有效的11位手机号码。")
        elif row.phone in seen_phones:
            report(f"手机号 {row.phone} 在表中重复：第{seen_phones[row.phone]}行和第{row.number}行。")
        elif row.phone in registered:
            report(f"手机号 {row.phone} 已注册，不能重复导入。")
        if row.phone and row.phone != DATE_CELL and row.phone not in seen_phones:
            seen_phones[row.phone] = row.number

        role = ROLE_WORDS.get(row.role_text.lower())
        if role is None:
            report(f"角色“{row.role_text}”无法识别，请填写 党员、书记 或 管理员。")
        elif role == "admin" and actor.role != "admin":
            report("只有管理员可以导入管理员账号。")

        org, reason = matcher.find(row.org_text)
        if org is None:
            report(reason)
        elif is_fellow_secretary(actor, org.id, role):
            report("同一组织书记的账号由上级组织设立，不能导入为本组织的书记。")

        if not bad:
            planned.append((row, org, role))

    if problems:
        raise RosterError(problems)

    hashed = hash_password(initial_password)
    users = [User(name=row.name, phone=row.phone, role=role, org_id=org.id, password_hash=hashed)
             for row, org, role in planned]
    db.session.add_all(users)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise RosterError([(None, "导入时发现有手机号刚被他人注册，未导入任何党员，请重新导入。")])
    return users


def template_workbook(actor) -> bytes:
    """A blank roster with the Chinese headers, one example row and a sheet of instructions."""
    import openpyxl
    from openpyxl.styles import Font, PatternFill

    example_org = "桂花第一支部"
    orgs = managed_orgs(actor)
    if orgs:
        matcher = OrgMatcher(actor)
        branch = next((o for o in orgs if o.kind == "branch"), orgs[-1])
        example_org = branch.name if len([o for o in orgs if o.name == branch.name]) == 1 else matcher.full_path(branch)

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "党员名单"
    ws.append(list(TEMPLATE_HEADERS))
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="C8102E")
    ws.append(["张三", "13800000000", example_org, "党员"])
    for row in range(2, 502):
        ws.cell(row=row, column=2).number_format = "@"
    for col, width in zip("ABCD", (12, 16, 36, 10)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A2"

    notes = wb.create_sheet("填写说明")
    for line in (
        "每行填写一名党员，第一行表头不要修改；示例行（张三）请删除或改为真实信息。",
        "姓名：必填，不超过50个字。",
        "手机号：必填，11位大陆手机号码，将作为登录账号，不能与已有账号重复。",
        "所属组织：必填，填写组织名称；如有重名，填写完整路径，即从上级到本组织的名称，用“/”隔开，如“桂花社区党委/第一党支部”。",
        "角色：可填 党员、书记 或 管理员（管理员只能由管理员导入）；不填即为党员。",
        "所有行都正确时才会导入；有任何一行出错，都不会导入，请按提示修改后重新上传。",
    ):
        notes.append([line])
    notes.column_dimensions["A"].width = 100

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
