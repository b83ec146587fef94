"""Command-line commands: create-admin, members import, demo load."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db


def init_app(app) -> None:
    app.cli.add_command(create_admin)
    app.cli.add_command(members_cli)
    app.cli.add_command(demo_cli)
    from app.points.cli import ledger_cli; app.cli.add_command(ledger_cli)  # noqa: E702
    from app.qr.cli import qr_cli; app.cli.add_command(qr_cli)  # noqa: E702
    from app.scheduler import scheduler_cli; app.cli.add_command(scheduler_cli)  # noqa: E702


@click.command("create-admin")
@click.argument("phone")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", required=True)
@click.option("--org", "org_name", default=None, help="Root org name (created when there is no org yet).")
def create_admin(phone: str, password: str, name: str, org_name: str | None) -> None:
    """Create an admin account (and a root street when the tree is empty)."""
    from app.auth.models import User, hash_password
    from app.orgs.models import Org
    from app.orgs.services import PHONE_RE, name_problems, password_problem

    name = name.strip()
    org_name = org_name.strip() if org_name is not None else None
    if not PHONE_RE.match(phone):
        raise click.BadParameter("须为11位大陆手机号码", param_hint="PHONE")
    if problem := password_problem(password):
        raise click.BadParameter(problem.rstrip("。"), param_hint="--password")
    if problems := name_problems(name, limit=50, what="姓名"):
        raise click.BadParameter(problems[0], param_hint="--name")
    if org_name is not None and (problems := name_problems(org_name, limit=100, what="组织名称")):
        raise click.BadParameter(problems[0], param_hint="--org")
    if db.session.scalar(sa.select(User.id).where(User.phone == phone)):
        raise click.ClickException(f"手机号 {phone} 已被使用")
    root = None
    if org_name:
        root = db.session.scalar(sa.select(Org).where(Org.name == org_name))
    if root is None:
        root = db.session.scalar(sa.select(Org).where(Org.parent_id.is_(None)).order_by(Org.id))
    if root is None:
        root = Org(name=org_name or "街道党工委", kind="street", depth=0)
        db.session.add(root)
        db.session.flush()
        root.path = f"/{root.id}/"
    user = User(name=name, phone=phone, role="admin", org_id=root.id, password_hash=hash_password(password))
    db.session.add(user)
    db.session.commit()
    click.echo(f"管理员已创建：{name} {phone}（{root.name}）")


members_cli = AppGroup("members", help="Member roster commands.")


@members_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--password", "initial_password", required=True, help="Initial password for every imported member.")
def members_import(file: str, initial_password: str) -> None:
    """Import a roster (.xlsx: 姓名, 手机号, 所属组织, 角色); all rows or none."""
    from app.auth.scope import SYSTEM
    from app.orgs.roster import RosterError, import_roster

    with open(file, "rb") as fh:
        try:
            users = import_roster(SYSTEM, fh, initial_password)
        except RosterError as exc:
            for row, reason in exc.problems:
                click.echo(f"第{row}行：{reason}" if row else reason, err=True)
            raise SystemExit(1)
    click.echo(f"已导入 {len(users)} 名党员。")


demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has accounts.")
@click.option("--seed", default=2026, show_default=True)
@click.option("--members", type=click.IntRange(min=1), default=None,
              help="Load a district of this many members in bulk instead of the demo street.")
@click.option("--entries-per-member", type=click.IntRange(min=0), default=None,
              help="Ledger entries per member over this year (with --members; default 20).")
def demo_load(if_empty: bool, seed: int, members: int | None, entries_per_member: int | None) -> None:
    """Build a believable street: communities, branches, members, secretaries and an admin.

    With --members N: a district of N members (about 100 per branch) with K ledger entries each
    (--entries-per-member K), written in bulk, for benchmarks.
    """
    from app.auth.models import User
    from app.demo import load_demo

    if if_empty and db.session.scalar(sa.select(sa.func.count(User.id))):
        from app.demo import existing_demo_logins

        click.echo("数据库中已有数据，跳过演示数据。")
        logins = existing_demo_logins()
        if logins:
            click.echo("演示账号（手机号 / 密码）：")
            for label, phone, password in logins:
                click.echo(f"  {label}: {phone} / {password}")
        return
    from app.errors import DomainError

    if members is None and entries_per_member is not None:
        raise click.UsageError("--entries-per-member 须与 --members 一起使用。")
    if members is not None:
        _demo_load_scale(members, 20 if entries_per_member is None else entries_per_member, seed)
        return
    try:
        logins = load_demo(seed=seed)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    click.echo("演示数据已载入。演示账号（手机号 / 密码）：")
    for label, phone, password in logins:
        click.echo(f"  {label}: {phone} / {password}")
    current_app.logger.info("demo data loaded")


def _demo_load_scale(members: int, entries_per_member: int, seed: int) -> None:
    """``demo load --members N``: the bulk district, with progress bars and timings."""
    from app.demo_scale import load_scale
    from app.errors import DomainError

    bars: dict[str, list] = {}  # stage -> [bar, rows done, open]

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            label = {"members": "党员", "entries": "积分记录"}.get(stage, stage)
            bar = click.progressbar(length=total, label=f"{label} {total:,}", show_pos=True, show_eta=True,
                                    width=30)
            bars[stage] = [bar.__enter__(), 0, True]
        state = bars[stage]
        state[0].update(done - state[1])
        state[1] = done
        if done >= total and state[2]:
            state[0].__exit__(None, None, None)
            state[2] = False

    try:
        result = load_scale(members, entries_per_member, seed, progress=progress)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    finally:
        for state in bars.values():
            if state[2]:
                state[0].__exit__(None, None, None)
    t = result.timings
    click.echo(
        f"已载入：{result.streets} 个街道、{result.communities} 个社区、{result.branches} 个支部，"
        f"{result.members:,} 名党员、{result.secretaries:,} 名书记，{result.entries:,} 条积分记录。")
    click.echo("用时（秒）：" + "，".join(f"{k} {v:.1f}" for k, v in t.items()))
    click.echo("演示账号（手机号 / 密码）：")
    for label, phone, password in result.logins:
        click.echo(f"  {label}: {phone} / {password}")
    current_app.logger.info("scale demo data loaded: %s members, %s entries", result.members, result.entries)
