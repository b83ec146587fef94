"""Forms of the claim, review, award, reversal and rule pages.

The forms carry CSRF and the submitted text; the services do the validation that matters, so
the page and the API refuse the same things with the same messages.
"""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.points.models import CATEGORIES, CATEGORY_LABELS

NOTE_MAX = 500


class ClaimForm(FlaskForm):
    rule_code = StringField(_l("申报事项"), validators=[DataRequired(message=_l("请选择申报事项。"))])
    occurred_on = StringField(_l("发生日期"))
    note = TextAreaField(_l("情况说明"), validators=[Length(max=NOTE_MAX, message=_l("说明不超过500字。"))])
    evidence = FileField(_l("照片凭证"))
    submission = HiddenField()  # one-time key per form shown: a second tap files nothing (services.submit_claim)


class ReasonForm(FlaskForm):
    """Reject a claim or reverse an entry: one reason."""

    reason = StringField(_l("理由"), validators=[Length(max=NOTE_MAX, message=_l("理由不超过500字。"))])


class AwardForm(FlaskForm):
    member_id = HiddenField()
    org_id = HiddenField()
    rule_code = StringField(_l("加扣分事项"), validators=[DataRequired(message=_l("请选择加扣分事项。"))])
    points = StringField(_l("分值（不填按细则）"), validators=[Optional()])
    occurred_on = StringField(_l("发生日期（不填为今天）"), validators=[Optional()])
    note = TextAreaField(_l("说明"), validators=[Length(max=NOTE_MAX, message=_l("说明不超过500字。"))])
    submission = HiddenField()  # one-time key per form shown: a second tap records nothing (services.award)


class RuleForm(FlaskForm):
    code = StringField(_l("编码"), validators=[Length(max=40)])
    category = SelectField(_l("类别"), choices=[(c, CATEGORY_LABELS[c]) for c in CATEGORIES if c != "rating"],
                           validate_choice=False)  # rating points come from QR ratings only
    title = StringField(_l("名称"), validators=[Length(max=100, message=_l("名称不超过100个字。"))])
    points = StringField(_l("分值（扣分填负数）"))
    daily_cap = StringField(_l("每日上限"))
    monthly_cap = StringField(_l("每月上限"))
    yearly_cap = StringField(_l("每年上限"))
    needs_approval = BooleanField(_l("需书记审核"), default=True)
    evidence_required = BooleanField(_l("须附照片凭证"))
