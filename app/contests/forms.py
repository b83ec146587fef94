"""Forms of the contest pages. Rules live in the services; these only parse."""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, DecimalField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from app.contests.services import PARTICIPANT_LABELS, SCORING_LABELS
from app.orgs.forms import ChoiceRequired, IdSelectField
from app.points.models import CATEGORIES, CATEGORY_LABELS
from app.timeutil import local_today


def parsed(form, field) -> None:
    """Stop at a value that is not a number: its own message says so (“2.5” is not 0 to 50)."""
    if field.process_errors:
        raise StopValidation()


class CheckboxesField(SelectMultipleField):
    """A list of checkboxes (works without JavaScript, big touch targets)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ContestForm(FlaskForm):
    title = StringField(_l("竞赛名称"), validators=[
        DataRequired(_l("请填写竞赛名称。")), Length(max=100, message=_l("竞赛名称不超过100个字。"))])
    participant_type = SelectField(_l("参赛对象"), choices=[(k, v) for k, v in PARTICIPANT_LABELS.items()],
                                   validate_choice=False, default="branch")
    scope_org_id = IdSelectField(_l("竞赛范围"), validators=[ChoiceRequired(_l("请选择竞赛范围。"))])
    starts_on = DateField(_l("开始日期"), validators=[InputRequired(_l("请填写开始日期。"))],
                          default=lambda: date(local_today().year, 1, 1))
    ends_on = DateField(_l("结束日期"), validators=[InputRequired(_l("请填写结束日期。"))],
                        default=lambda: date(local_today().year, 12, 31))
    categories = CheckboxesField(_l("计入的积分类别"), choices=[(c, _l(CATEGORY_LABELS[c])) for c in CATEGORIES],
                                 validate_choice=False, default=list(CATEGORIES))
    scoring = SelectField(_l("计分方式"), choices=[(k, v) for k, v in SCORING_LABELS.items()],
                          validate_choice=False, default="total")
    top_places = IntegerField(_l("前几名加分"), default=2, validators=[
        InputRequired(_l("请填写加分名次（不加分填 0）。")), parsed,
        NumberRange(min=0, max=50, message=_l("加分名次须在 0 到 50 之间。"))])
    top_points = DecimalField(_l("每名加分（分）"), default=2, places=1, validators=[
        Optional(), parsed, NumberRange(min=0, max=100, message=_l("加分须在 0 到 100 之间。"))])
    exclude_last = BooleanField(_l("末位不得参加当年评优评先（仅支部、社区竞赛）"))
