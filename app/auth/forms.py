from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    phone = StringField(_l("手机号"), validators=[DataRequired(_l("请输入手机号")), Length(max=20)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请输入密码")), Length(max=200)])
    remember = BooleanField(_l("记住我"))


class TokenForm(FlaskForm):
    label = StringField(_l("令牌用途"), validators=[Length(max=100, message=_l("令牌用途不超过100个字。"))])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("当前密码"), validators=[DataRequired(_l("请输入当前密码"))])
    new = PasswordField(_l("新密码"), validators=[DataRequired(_l("请输入新密码")), Length(min=8, message=_l("新密码至少8位。")),
                                                Length(max=200, message=_l("新密码不超过200位。"))])
