"""The bulk generator: ``flask demo load --members N --entries-per-member K``."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from app.auth.models import User
from app.marks import LEDGER_HEAD, ChangeMark, ledger_key
from app.orgs.models import Org
from app.points.ledger import append_entry, verify_chain
from app.points.models import LedgerEntry
from app.points.services import local_today
from app.points.totals import MemberYearPoints, checkpoint


def scalar(db, stmt):
    return db.session.scalar(stmt)


def test_loads_a_district_with_a_valid_chain_on_top_of_existing_data(app, db, tree, runner):
    before = append_entry(category="study", points=Decimal("2"), occurred_on=local_today(), source="award",
                          source_key="award:before", rule_code="T", member_id=tree.m11.id)
    db.session.commit()

    result = runner.invoke(args=["demo", "load", "--members", "250", "--entries-per-member", "4", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "250 名党员" in result.output and "1,000 条积分记录" in result.output
    assert "13700000002 / demo12345" in result.output

    district = scalar(db, sa.select(Org).where(Org.name == "江城区委"))
    inside = [o for o in db.session.scalars(sa.select(Org)) if o.path.startswith(district.path)]
    branches = [o for o in inside if o.kind == "branch"]
    assert len(branches) >= 2 and any(o.kind == "community" for o in inside)
    led = set(db.session.scalars(sa.select(User.org_id).where(User.role == "secretary")))
    assert {o.id for o in inside} <= led | {district.id}  # a secretary everywhere (the admin at the top)

    members = db.session.scalars(sa.select(User).where(User.role == "member", User.org_id.in_([b.id for b in branches]))).all()
    assert len(members) == 250
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,3}", m.name) for m in members)
    phones = db.session.scalars(sa.select(User.phone)).all()
    assert len(phones) == len(set(phones)) and all(re.fullmatch(r"1[3-9]\d{9}", p) for p in phones)

    per_member = db.session.execute(
        sa.select(LedgerEntry.member_id, sa.func.count(), sa.func.min(LedgerEntry.occurred_on),
                  sa.func.max(LedgerEntry.occurred_on))
        .where(LedgerEntry.id > before.id).group_by(LedgerEntry.member_id)).all()
    assert len(per_member) == 250 and {n for _, n, _, _ in per_member} == {4}
    today = local_today()
    assert all(date(today.year, 1, 1) <= lo <= hi <= today for _, _, lo, hi in per_member)

    check = verify_chain()
    assert check.ok and check.checked == 1001

    # Every org got the ledger mark the entries' own event would have left (bulk rows bypass it).
    marks = dict(db.session.execute(sa.select(ChangeMark.key, ChangeMark.value)).all())
    assert marks[LEDGER_HEAD] == before.id + 1000
    assert all(marks.get(ledger_key(o.id)) == before.id + 1000 for o in inside)

    # Ids and sequences continue after the load: the app appends and adds people as usual.
    after = append_entry(category="service", points=Decimal("1"), occurred_on=today, source="award",
                         source_key="award:after", rule_code="T", member_id=members[0].id)
    db.session.add(User(name="新党员", phone="13999999999", role="member", org_id=branches[0].id,
                        password_hash="x"))
    db.session.commit()
    assert after.id == before.id + 1001 and verify_chain().ok

    # The member year totals were folded at the end of the load.
    assert checkpoint() == before.id + 1000
    total = scalar(db, sa.select(sa.func.sum(LedgerEntry.points)).where(
        LedgerEntry.member_id == members[0].id, LedgerEntry.id < after.id))
    row = db.session.get(MemberYearPoints, (today.year, members[0].id))
    assert sum((row.study, row.service, row.innovation, row.rating, row.penalty)) == total


def test_refuses_to_load_twice_and_bad_options(app, runner):
    assert runner.invoke(args=["demo", "load", "--members", "30", "--entries-per-member", "1"]).exit_code == 0
    again = runner.invoke(args=["demo", "load", "--members", "30", "--entries-per-member", "1"])
    assert again.exit_code != 0 and "规模演示数据已存在" in again.output
    assert runner.invoke(args=["demo", "load", "--entries-per-member", "3"]).exit_code != 0
    assert runner.invoke(args=["demo", "load", "--members", "0"]).exit_code != 0
