"""Templates translate with the request's locale, looked up once per locale per request
(app.templating.request_translations), and follow a locale switched inside the request."""
from flask import render_template_string
from flask_babel import force_locale


def test_templates_follow_the_request_locale_and_a_switch_inside_it(app):
    page = "{{ _('登录') }}|{{ ngettext('%(num)d 条', '%(num)d 条', 2) }}"
    with app.test_request_context("/"):
        assert render_template_string(page).startswith("登录|")
        with force_locale("en"):
            assert render_template_string(page).startswith("Log in|")
        assert render_template_string(page).startswith("登录|")


def test_the_login_page_in_english(client):
    with client.session_transaction() as s:
        s["lang"] = "en"
    assert "Log in" in client.get("/login").get_data(as_text=True)
    with client.session_transaction() as s:
        s["lang"] = "zh"
    assert "登录" in client.get("/login").get_data(as_text=True)


def test_catalogues_missing_their_compiled_files_are_compiled(tmp_path):
    """An install by `pip install .` alone has the .po files only: they are compiled on start."""
    import shutil
    from pathlib import Path

    from babel.support import Translations

    import app as app_package
    from app.templating import compile_translations

    source = Path(app_package.__file__).parent / "translations"
    shutil.copytree(source, tmp_path / "translations", ignore=shutil.ignore_patterns("*.mo"))
    folder = tmp_path / "translations"
    assert not list(folder.glob("*/LC_MESSAGES/*.mo"))
    assert compile_translations(str(folder)) == [str(folder / "en" / "LC_MESSAGES" / "messages.mo")]
    english = Translations.load(str(folder), ["en"])
    assert english.gettext("我的账号") != "我的账号"
    assert compile_translations(str(folder)) == []  # up to date: nothing again
