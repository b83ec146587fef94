"""The target book form: three optional per-capita targets and why they were set.

The form carries CSRF and the text typed; :func:`app.targets.services.set_targets` validates, so
the page and the API refuse the same things with the same messages.
"""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

from app.targets.services import NOTE_MAX


class TargetForm(FlaskForm):
    study = StringField(_l("理论学习（人均积分）"))
    service = StringField(_l("志愿服务（人均积分）"))
    innovation = StringField(_l("创新贡献（人均积分）"))
    note = TextAreaField(_l("说明（为何设定或调整）"), render_kw={"maxlength": NOTE_MAX})
