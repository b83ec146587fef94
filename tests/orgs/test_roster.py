"""Roster import from Excel: on the page, on the command line, and every bad row reported."""
from __future__ import annotations

import io

import openpyxl
import pytest
import sqlalchemy as sa

from tests.sheets import formulas_as_formulas

HEADER = ("姓名", "手机号", "所属组织", "角色")
PW = "initpass123"


def xlsx(rows, header=HEADER, title: str | None = None) -> io.BytesIO:
    """An .xlsx in memory: an optional title row, the header, then ``rows``."""
    wb = openpyxl.Workbook()
    ws = wb.active
    if title:
        ws.append([title])
    if header:
        ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    formulas_as_formulas(ws)
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


def users_by_phone(db, phones):
    from app.auth.models import User

    return {u.phone: u for u in db.session.scalars(sa.select(User).where(User.phone.in_(list(phones))))}


def user_count(db) -> int:
    from app.auth.models import User

    return db.session.scalar(sa.select(sa.func.count(User.id)))


def problems_of(actor, data, password=PW):
    from app.orgs.roster import RosterError, import_roster

    with pytest.raises(RosterError) as info:
        import_roster(actor, data, password)
    return info.value.problems


def upload(client, data, password=PW, filename="名单.xlsx"):
    return client.post("/orgs/members/import", data={"file": (data, filename), "password": password},
                       content_type="multipart/form-data")


# --- good files ------------------------------------------------------------------------------

def test_page_imports_every_row(tree, login_as, db, monkeypatch):
    import app.orgs.roster as roster

    calls = []
    real_hash = roster.hash_password
    monkeypatch.setattr(roster, "hash_password", lambda pw: calls.append(pw) or real_hash(pw))

    # columns in another order, an extra column, a title row, a number-typed phone
    header = ("备注", "手机号", "姓名", "角色", "所属组织")
    data = xlsx([
        ("", "13600000001", "孙一", "党员", "桂花第一支部"),
        ("退休", 13600000002, "孙二", "", "桂花第二支部"),
        ("", "136 0000 0003", "孙三", "书记", "东湖街道/荷花社区/荷花第一支部"),
        ("", "13600000004", "孙四", "secretary", "荷花社区"),
    ], header=header, title="东湖街道党员名单")
    client = login_as(tree.admin)
    r = upload(client, data)
    assert r.status_code == 302
    assert "已导入 4 名党员" in client.get(r.headers["Location"]).get_data(as_text=True)
    found = users_by_phone(db, ["13600000001", "13600000002", "13600000003", "13600000004"])
    assert {p: (u.name, u.org_id, u.role) for p, u in found.items()} == {
        "13600000001": ("孙一", tree.b11.id, "member"),
        "13600000002": ("孙二", tree.b12.id, "member"),
        "13600000003": ("孙三", tree.b21.id, "secretary"),
        "13600000004": ("孙四", tree.c2.id, "secretary"),
    }
    assert all(u.check_password(PW) for u in found.values())
    assert calls == [PW]  # hashed once for the whole file
    login = client.application.test_client().post("/login", data={"phone": "13600000003", "password": PW})
    assert login.status_code == 302


def test_cli_imports_every_row(tree, runner, db, tmp_path):
    path = tmp_path / "roster.xlsx"
    path.write_bytes(xlsx([
        ("吴一", "13500000001", "桂花第一支部", "党员"),
        ("吴二", "13500000002", "荷花第二支部", "管理员"),
    ]).getvalue())
    result = runner.invoke(args=["members", "import", str(path), "--password", PW])
    assert result.exit_code == 0, result.output
    assert "已导入 2 名党员" in result.output
    found = users_by_phone(db, ["13500000001", "13500000002"])
    assert found["13500000001"].org_id == tree.b11.id
    assert found["13500000002"].role == "admin" and found["13500000002"].org_id == tree.b22.id


def test_cli_reports_bad_rows_and_imports_nothing(tree, runner, db, tmp_path):
    path = tmp_path / "roster.xlsx"
    path.write_bytes(xlsx([("吴一", "13500000001", "桂花第一支部"), ("", "123", "不存在的支部")]).getvalue())
    before = user_count(db)
    result = runner.invoke(args=["members", "import", str(path), "--password", PW])
    assert result.exit_code == 1
    assert "第3行：缺少姓名" in result.stderr
    assert "第3行：手机号“123”不是有效的11位手机号码" in result.stderr
    assert "第3行：找不到组织“不存在的支部”" in result.stderr
    assert user_count(db) == before


def test_secretary_imports_within_scope(tree, db):
    from app.orgs.roster import import_roster

    users = import_roster(tree.sec_c1, xlsx([("郑一", "13300000001", "桂花第二支部", "书记")]), PW)
    assert [(u.name, u.org_id, u.role) for u in users] == [("郑一", tree.b12.id, "secretary")]


def test_same_name_needs_a_path(tree, make_org, db):
    from app.orgs.roster import import_roster

    make_org("第一党小组", "branch", tree.b11)
    make_org("第一党小组", "branch", tree.b21)
    problems = problems_of(tree.admin, xlsx([("钱一", "13300000002", "第一党小组")]))
    assert len(problems) == 1 and problems[0][0] == 2
    assert "有重名" in problems[0][1] and "东湖街道/桂花社区/桂花第一支部/第一党小组" in problems[0][1]
    users = import_roster(tree.admin, xlsx([("钱一", "13300000002", "东湖街道/荷花社区/荷花第一支部/第一党小组"),
                                            ("钱二", "13300000003", "桂花第一支部/第一党小组")]), PW)
    assert [u.org.parent_id for u in users] == [tree.b21.id, tree.b11.id]


# --- bad files -------------------------------------------------------------------------------

def test_every_bad_row_is_reported_and_none_imported(tree, login_as, db):
    before = user_count(db)
    data = xlsx([
        ("好人", "13200000001", "桂花第一支部", "党员"),          # row 2: fine
        ("", "13200000002", "桂花第一支部", ""),                  # row 3: no name
        ("错号", "1320000", "桂花第一支部", ""),                  # row 4: bad phone
        ("重复甲", "13200000005", "桂花第二支部", ""),            # row 5
        ("重复乙", "13200000005", "桂花第二支部", ""),            # row 6: same phone as row 5
        ("老党员", tree.m21.phone, "桂花第二支部", ""),           # row 7: already registered
        ("迷路", "13200000008", "月亮支部", ""),                  # row 8: unknown org
        ("怪角色", "13200000009", "桂花第一支部", "队长"),        # row 9: unknown role
        ("越权", "13200000010", "桂花第一支部", "管理员"),        # row 10: not for a secretary
        ("跨区", "13200000011", "荷花第一支部", ""),              # row 11: out of scope
    ])
    r = upload(login_as(tree.sec_c1), data)
    body = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "名单有 8 处问题，未导入任何党员" in body
    for row, reason in [
        (3, "缺少姓名"),
        (4, "手机号“1320000”不是有效的11位手机号码"),
        (6, "手机号 13200000005 在表中重复：第5行和第6行"),
        (7, f"手机号 {tree.m21.phone} 已注册"),
        (8, "找不到组织“月亮支部”"),
        (9, "角色“队长”无法识别"),
        (10, "只有管理员可以导入管理员账号"),
        (11, "组织“荷花第一支部”不在您的管理范围内"),
    ]:
        assert f"第{row}行</td><td>{reason}" in body, (row, reason)
    assert "第2行" not in body
    assert user_count(db) == before
    assert "13200000001" not in users_by_phone(db, ["13200000001"])


def test_name_with_a_line_break_is_a_bad_row(tree, db):
    """Alt+Enter in an Excel cell puts a line break into the name: reported, nothing imported."""
    before = user_count(db)
    problems = problems_of(tree.admin, xlsx([("好人", "13200000021", "桂花第一支部"),
                                             ("张\n三", "13200000022", "桂花第一支部")]))
    assert problems == [(3, "姓名不能包含换行、制表符等控制字符。")]
    assert user_count(db) == before
    problems = problems_of(tree.admin, xlsx([("好人", "13200000021", "桂花第一支部"),
                                             ("张\u200b三", "13200000022", "桂花第一支部")]))
    assert problems == [(3, "姓名不能包含零宽空格、文字方向控制符等不可见字符。")]


def test_not_an_xlsx_is_rejected_readably(tree, login_as, db):
    before = user_count(db)
    client = login_as(tree.admin)
    r = upload(client, io.BytesIO("姓名,手机号\n张三,13800000000\n".encode()), filename="名单.csv")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "文件无法读取：请上传 Excel 的 .xlsx 文件" in body
    r = upload(client, io.BytesIO(b"PK\x03\x04 not really a zip"), filename="名单.xlsx")
    assert "文件无法读取" in r.get_data(as_text=True)
    assert user_count(db) == before


def test_missing_file_or_short_password_on_page(tree, login_as, db):
    client = login_as(tree.admin)
    before = user_count(db)
    r = client.post("/orgs/members/import", data={"password": PW}, content_type="multipart/form-data")
    assert "请选择要导入的 Excel 文件" in r.get_data(as_text=True)
    r = upload(client, xlsx([("吴一", "13500000001", "桂花第一支部")]), password="short")
    assert "初始密码至少8位" in r.get_data(as_text=True)
    r = upload(client, xlsx([("吴一", "13500000001", "桂花第一支部")]), password="x" * 201)
    assert "初始密码不超过200位" in r.get_data(as_text=True)
    # eight spaces: the login form reads them as no password, so nobody could ever log in
    r = upload(client, xlsx([("吴一", "13500000001", "桂花第一支部")]), password=" " * 8)
    assert "请设置初始密码" in r.get_data(as_text=True) and user_count(db) == before


def test_a_password_of_spaces_only_is_refused_everywhere(tree, runner, tmp_path, api_as):
    problems = problems_of(tree.admin, xlsx([("吴一", "13500000001", "桂花第一支部")]), password=" " * 9)
    assert (None, "初始密码不能全是空格。") in problems
    path = tmp_path / "名单.xlsx"
    path.write_bytes(xlsx([("吴一", "13500000001", "桂花第一支部")]).getvalue())
    result = runner.invoke(args=["members", "import", str(path), "--password", " " * 8])
    assert result.exit_code != 0 and "初始密码不能全是空格" in result.output
    r = api_as(tree.admin).post("/api/v1/members", json={"name": "吴一", "phone": "13500000001", "role": "member",
                                                          "org_id": tree.b11.id, "password": " " * 10})
    assert r.status_code == 422 and r.get_json()["error"]["fields"]["password"] == ["密码不能全是空格。"]


def test_no_header_no_rows_missing_column(tree):
    assert problems_of(tree.admin, xlsx([("张三", "13100000001", "桂花第一支部")], header=None)) == [
        (None, "找不到表头：须有一行写明“姓名”“手机号”“所属组织”（“角色”可选）。")]
    assert "没有党员数据" in problems_of(tree.admin, xlsx([]))[0][1]
    assert "表格是空的" in problems_of(tree.admin, xlsx([], header=None))[0][1]
    problems = problems_of(tree.admin, xlsx([("张三", "13100000001")], header=("姓名", "手机号")))
    assert problems == [(1, "表头缺少“所属组织”列。")]


def test_member_cannot_import(tree):
    from app.errors import Forbidden
    from app.orgs.roster import import_roster

    with pytest.raises(Forbidden):
        import_roster(tree.m11, xlsx([("吴一", "13500000001", "桂花第一支部")]), PW)


# --- the template ----------------------------------------------------------------------------

def test_template_downloads_and_imports(tree, login_as, db):
    client = login_as(tree.sec_c1)
    r = client.get("/orgs/members/import/template.xlsx")
    assert r.status_code == 200
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in r.headers["Content-Disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(r.data)).worksheets[0]
    rows = [tuple(c.value for c in row) for row in ws.iter_rows(max_row=2)]
    assert rows[0] == HEADER
    assert rows[1][0] == "张三" and rows[1][2] == "桂花第一支部"
    # the example row, imported as it is, is a valid roster
    r = upload(client, io.BytesIO(r.data))
    assert r.status_code == 302
    assert users_by_phone(db, ["13800000000"])["13800000000"].org_id == tree.b11.id


def test_import_page_renders(tree, login_as):
    body = login_as(tree.sec_c1).get("/orgs/members/import").get_data(as_text=True)
    assert "/orgs/members/import/template.xlsx" in body
    assert 'enctype="multipart/form-data"' in body


def test_a_roster_cannot_make_a_fellow_secretary(tree, db):
    """A secretary's own org gets its secretaries from the level above, in an import too."""
    from app.auth.models import User
    from app.orgs.roster import RosterError, import_roster

    before = db.session.scalar(sa.select(sa.func.count(User.id)))
    with pytest.raises(RosterError) as exc:
        import_roster(tree.sec_c1, xlsx([("郑二", "13300000002", "桂花社区", "书记")]), PW)
    assert "由上级组织设立" in str(exc.value.problems)
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == before


def test_a_zip_bomb_is_refused_before_it_is_parsed(tree, login_as, db):
    """A valid roster whose sheet XML was padded to unpack to more than 64 MB (a few hundred KB
    packed): refused at once, readably, before openpyxl spends seconds on it."""
    import zipfile

    before = user_count(db)
    src = zipfile.ZipFile(xlsx([("郑一", "13300000001", "桂花第二支部", "党员")]))
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<sheetData>", b"<sheetData>" + b" " * (65 * 1024**2))
            out.writestr(info.filename, data)
    assert len(packed.getvalue()) < 1024**2
    packed.seek(0)
    r = upload(login_as(tree.admin), packed, filename="名单.xlsx")
    assert r.status_code == 200 and "文件解压后过大" in r.get_data(as_text=True)
    assert user_count(db) == before


def test_a_phone_excel_stored_as_a_date_says_so(tree, db):
    """A number typed into a date-formatted column comes back as a date, not as its digits."""
    import datetime

    before = user_count(db)
    problems = problems_of(tree.admin, xlsx([("好人", "13200000031", "桂花第一支部"),
                                             ("日期", datetime.datetime(2026, 1, 1), "桂花第一支部")]))
    assert problems == [(3, "手机号被 Excel 存成了日期：请把“手机号”列设为文本格式，重新填写号码后再导入。")]
    assert user_count(db) == before


def test_a_formula_without_a_saved_value_is_named_not_read_as_empty(tree, login_as, db):
    """Sheets written by programs keep formulas without their values: an empty name or phone is
    not what the sheet shows, so the cell is named; a formula Excel saved a value for imports."""
    before = user_count(db)
    r = upload(login_as(tree.admin), xlsx([("好人", "13200000041", "桂花第一支部"),
                                           ('=CONCAT("张","三")', "13200000042", "桂花第一支部")]))
    body = r.get_data(as_text=True)
    assert "单元格 A3 是公式，但文件里没有保存它的计算结果" in body
    assert user_count(db) == before

    # the same sheet as Excel saves it: the formula with its value
    data = xlsx([("好人", "13200000041", "桂花第一支部"), ("张三", "13200000042", "桂花第一支部")])
    data = _with_cached_formula(data, "A3", 'CONCAT("张","三")')
    from app.orgs.roster import import_roster

    assert {u.name for u in import_roster(tree.admin, data, PW)} == {"好人", "张三"}


def test_a_formula_without_its_value_is_listed_with_every_other_problem(tree, db):
    """One pass: the formula cell is named on its row, and the other rows' problems come with it
    (it used to be the only problem shown until it was fixed)."""
    before = user_count(db)
    problems = problems_of(tree.admin, xlsx([("好人", "13200000051", "桂花第一支部"),
                                             ('=CONCAT("张","三")', "13200000052", "桂花第一支部"),
                                             ("", "13200000053", "桂花第一支部"),
                                             ("李四", "123", "桂花第一支部")]))
    assert [row for row, _reason in problems] == [3, 4, 5]
    assert problems[0][1].startswith("单元格 A3 是公式") and problems[1] == (4, "缺少姓名。")
    assert user_count(db) == before


def _with_cached_formula(data: io.BytesIO, ref: str, formula: str) -> io.BytesIO:
    """Rewrite a text cell of an openpyxl-written sheet as a formula whose value is that text,
    the way Excel stores it (<f> and a cached <v>)."""
    import re
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(data) as src, zipfile.ZipFile(out, "w") as dst:
        strings = src.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in src.namelist() else ""
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = body.decode()
                cell = re.search(rf'<c r="{ref}"[^>]*t="(s|inlineStr)"[^>]*>(.*?)</c>', text)
                if cell.group(1) == "s":
                    index = int(re.search(r"<v>(\d+)</v>", cell.group(2)).group(1))
                    value = re.findall(r"<t[^>]*>(.*?)</t>", strings)[index]
                else:
                    value = re.search(r"<t[^>]*>(.*?)</t>", cell.group(2)).group(1)
                text = text.replace(cell.group(0), f'<c r="{ref}" t="str"><f>{formula}</f><v>{value}</v></c>')
                body = text.encode()
            dst.writestr(info, body)
    out.seek(0)
    return out


def test_the_sheet_read_is_the_one_excel_opens_on_not_a_hidden_one(tree, db):
    from app.orgs.roster import import_roster

    wb = openpyxl.Workbook()
    hidden = wb.active
    hidden.title = "旧名单"
    hidden.append(list(HEADER))
    hidden.append(("隐甲", "13700000111", "桂花第一支部"))
    hidden.sheet_state = "hidden"
    shown = wb.create_sheet("名单")
    shown.append(list(HEADER))
    shown.append(("显甲", "13700000112", "桂花第一支部"))
    wb.active = 1
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    created = import_roster(tree.admin, out, PW)
    assert [u.name for u in created] == ["显甲"]


def test_a_sheet_declaring_a_wrong_size_is_read_whole(tree, db):
    """Some generators write <dimension ref="A1"/>; a read-only sheet trusted it and saw one cell."""
    import re
    import zipfile

    from app.orgs.roster import import_roster

    source = xlsx([("吴一", "13500000001", "桂花第一支部"), ("吴二", "13500000002", "桂花第一支部")])
    out = io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*" ?/>', b'<dimension ref="A1"/>', data)
                assert b'<dimension ref="A1"/>' in data
            zout.writestr(item, data)
    out.seek(0)
    assert sorted(u.name for u in import_roster(tree.admin, out, PW)) == ["吴一", "吴二"]


def test_an_org_whose_name_holds_a_slash_is_found_by_name_and_by_path(tree, make_org, db):
    from app.orgs.roster import import_roster

    make_org("物业/两新党支部", "branch", tree.c1)
    make_org("网格＞一组党支部", "branch", tree.c1)
    rows = [("甲一", "13500000011", "物业/两新党支部"), ("甲二", "13500000012", "桂花社区/物业/两新党支部"),
            ("甲三", "13500000013", "网格＞一组党支部"), ("甲四", "13500000014", "桂花社区 > 网格＞一组党支部")]
    created = {u.name: u.org.name for u in import_roster(tree.admin, xlsx(rows), PW)}
    assert created == {"甲一": "物业/两新党支部", "甲二": "物业/两新党支部", "甲三": "网格＞一组党支部",
                       "甲四": "网格＞一组党支部"}
    # half a name is not a name
    problems = problems_of(tree.admin, xlsx([("甲五", "13500000015", "两新党支部")]))
    assert problems == [(2, "找不到组织“两新党支部”。")]


def test_a_file_of_many_long_errors_lists_a_readable_page(tree, login_as, db):
    """Rows with a 1,200-character role each: the page lists 200, each cut short, and says how
    many more; the count in the heading is all of them."""
    rows = [(f"甲{i}", f"135{i:08d}", "桂花第一支部", "长" * 1200) for i in range(300)]
    html = upload(login_as(tree.admin), xlsx(rows)).get_data(as_text=True)
    assert "名单有 300 处问题" in html and "另有 100 处问题未列出" in html
    assert "长" * 201 not in html and len(html) < 200_000


def test_usual_roster_words_for_members_are_understood(tree, db):
    from app.orgs.roster import import_roster

    rows = [("乙一", "13500000001", "桂花第一支部", "预备党员"), ("乙二", "13500000002", "桂花第一支部", "正式党员")]
    assert [u.role for u in import_roster(tree.admin, xlsx(rows), PW)] == ["member", "member"]


def test_an_org_merged_down_the_rows_of_its_members_is_each_rows_org(tree, db):
    """Rosters typed in Excel often merge one branch name down the rows of its members: the
    file keeps the name in the first cell only, and each row means that branch."""
    from app.orgs.roster import import_roster

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["桂花社区党员花名册"])
    ws.merge_cells("A1:D2")  # a title over two rows: not a header, not a member
    ws.append([])
    ws.append(list(HEADER))
    ws.append(("并甲", "13500000301", "桂花第一支部"))
    ws.append(("并乙", "13500000302"))
    ws.append(("并丙", "13500000303", None, "党员"))
    ws.merge_cells("C4:C6")
    ws.append(("并丁", "13500000304", "桂花第二支部"))
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    created = {u.name: u.org.name for u in import_roster(tree.admin, out, PW)}
    assert created == {"并甲": "桂花第一支部", "并乙": "桂花第一支部", "并丙": "桂花第一支部",
                       "并丁": "桂花第二支部"}


def test_a_blank_row_under_a_merged_org_stays_out(tree, db):
    from app.orgs.roster import import_roster

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(HEADER))
    ws.append(("空甲", "13500000311", "桂花第一支部"))
    ws.append([])
    ws.append(("空乙", "13500000312"))
    ws.merge_cells("C2:C4")
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    assert sorted(u.name for u in import_roster(tree.admin, out, PW)) == ["空乙", "空甲"]
