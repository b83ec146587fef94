"""Forms of the secretaries' QR pages (the public rating form is parsed in the view: it has its
own device-bound token instead of the session CSRF token). Rules live in the services."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.orgs.forms import ChoiceRequired, IdSelectField


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class NewTargetForm(FlaskForm):
    subject = SelectField(_l("评价对象"), validate_choice=False,
                          validators=[ChoiceRequired(_l("请选择评价对象。"))])
    label = StringField(_l("显示名称（可不填）"), validators=[Optional(), Length(max=100, message=_l("最多 100 个字。"))])


class PostForm(FlaskForm):
    name = StringField(_l("服务岗名称"), validators=[DataRequired(_l("请填写服务岗名称。")),
                                                    Length(max=100, message=_l("最多 100 个字。"))])
    org_id = IdSelectField(_l("所属组织"), validators=[ChoiceRequired(_l("请选择所属组织。"))])
    address = StringField(_l("地点"), validators=[Optional(), Length(max=200, message=_l("最多 200 个字。"))])
    description = TextAreaField(_l("说明"), validators=[Optional(), Length(max=1000, message=_l("最多 1000 个字。"))])


class SheetForm(FlaskForm):
    org_id = IdSelectField(_l("组织"), validators=[ChoiceRequired(_l("请选择组织。"))])
    create_missing = BooleanField(_l("为还没有二维码的党员生成二维码"), default=True)


class CloseFollowUpForm(FlaskForm):
    action = TextAreaField(_l("整改情况"), validators=[DataRequired(_l("请写明整改情况。")),
                                                   Length(min=2, max=1000, message=_l("请用 2 到 1000 个字写明整改情况。"))])
