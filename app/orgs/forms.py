"""Forms of the org and member pages. Business rules live in the services; these only parse."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, StopValidation
from wtforms.widgets import PasswordInput

from app.auth.models import ROLE_LABELS
from app.orgs.models import ORG_KIND_LABELS
from app.orgs.services import MIN_PASSWORD

try:  # WTForms 3.3 wants option objects; older versions take (value, label) pairs
    from wtforms import SelectChoice
except ImportError:  # pragma: no cover
    SelectChoice = None


def as_choices(pairs):
    """(value, label) pairs as the installed WTForms likes its select options."""
    if SelectChoice is None:
        return list(pairs)
    return [SelectChoice(value, str(label)) for value, label in pairs]


def int_or_none(value):
    """Coerce a posted select value to int; anything else becomes None (the service reports it)."""
    if value is None or isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() and len(text) < 12 else None


class IdSelectField(SelectField):
    """A select of ids that never fails with an English coercion message."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("coerce", int_or_none)
        kwargs.setdefault("validate_choice", False)
        super().__init__(*args, **kwargs)


class ChoiceRequired:
    """The select must name something: a Chinese message instead of a blank."""

    def __init__(self, message):
        self.message = message

    def __call__(self, form, field):
        if field.data in (None, ""):
            raise StopValidation(str(self.message))


def org_options(orgs, *, root_label: str | None = None) -> list[tuple[str, str]]:
    """(value, label) options for an org select, indented by depth with full-width spaces."""
    base = min((o.depth for o in orgs), default=0)
    options = [("", root_label)] if root_label else []
    options += [(str(o.id), "\u3000" * (o.depth - base) + o.name) for o in orgs]
    return options


def org_choices(orgs, *, root_label: str | None = None):
    return as_choices(org_options(orgs, root_label=root_label))


def role_choices(actor, orgs=None):
    """Secretaries may give the roles member and secretary; admins also admin. Given the orgs the
    new account may join, a secretary whose only org is their own is not offered secretary: a
    fellow secretary of one's own org is appointed by the level above."""
    if actor.role == "admin":
        roles = ("member", "secretary", "admin")
    elif orgs is not None and all(o.id == actor.org_id for o in orgs):
        roles = ("member",)
    else:
        roles = ("member", "secretary")
    return as_choices((r, ROLE_LABELS[r]) for r in roles)


def kind_choices():
    return as_choices(ORG_KIND_LABELS.items())


class OrgForm(FlaskForm):
    name = StringField(_l("组织名称"), validators=[
        DataRequired(_l("请填写组织名称。")), Length(max=100, message=_l("组织名称不超过100个字。"))])
    kind = SelectField(_l("类型"), choices=kind_choices(), validate_choice=False)
    parent_id = IdSelectField(_l("上级组织"))


class MemberForm(FlaskForm):
    name = StringField(_l("姓名"), validators=[
        DataRequired(_l("请填写姓名。")), Length(max=50, message=_l("姓名不超过50个字。"))])
    phone = StringField(_l("手机号"), validators=[DataRequired(_l("请填写手机号。")), Length(max=20, message=_l("手机号须为11位大陆手机号码。"))])
    # the initial password is the secretary's to hand over, not the member's secret: it stays in
    # the field when something else on the form needs fixing
    password = PasswordField(_l("初始密码"), widget=PasswordInput(hide_value=False), validators=[
        DataRequired(_l("请设置初始密码。")),
        Length(min=MIN_PASSWORD, message=_l("密码至少8位。")),
        Length(max=200, message=_l("密码不超过200位。"))])
    org_id = IdSelectField(_l("所属组织"), validators=[ChoiceRequired(_l("请选择所属组织。"))])
    role = SelectField(_l("角色"), validate_choice=False, default="member")


class MemberEditForm(FlaskForm):
    name = StringField(_l("姓名"), validators=[
        DataRequired(_l("请填写姓名。")), Length(max=50, message=_l("姓名不超过50个字。"))])
    org_id = IdSelectField(_l("所属组织"), validators=[ChoiceRequired(_l("请选择所属组织。"))])
    role = SelectField(_l("角色"), validate_choice=False)
    active = BooleanField(_l("账号可用（取消勾选即停用，停用后不能登录）"))
    password = PasswordField(_l("重置密码（不改请留空）"), validators=[
        Optional(), Length(min=MIN_PASSWORD, message=_l("密码至少8位。")),
        Length(max=200, message=_l("密码不超过200位。"))])


class RosterForm(FlaskForm):
    file = FileField(_l("名单文件（.xlsx）"), validators=[FileRequired(_l("请选择要导入的 Excel 文件。"))])
    password = PasswordField(_l("初始密码（所有导入的党员相同，首次登录后请各自修改）"), validators=[
        DataRequired(_l("请设置初始密码。")),
        Length(min=MIN_PASSWORD, message=_l("初始密码至少8位。")),
        Length(max=200, message=_l("初始密码不超过200位。"))])
