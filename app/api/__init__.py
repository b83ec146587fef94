"""API v1 glue: the OpenAPI-generating Api object, the error shape and bearer-token auth."""
from __future__ import annotations

from functools import wraps

import marshmallow as ma
from flask import current_app, g, request
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from webargs.flaskparser import FlaskParser, is_json_request

from app.errors import DomainError, Forbidden, Unauthorized, UnsupportedMediaType
from app.ids import MAX_ID as MAX_INT  # the largest whole number any id or count column stores
from app.timeutil import iso_day, iso_local
from app.xlsx import CONTROL_CHARACTERS


def _chinese_field_messages() -> None:
    """Field errors in the words users read everywhere else: marshmallow's defaults, in Chinese.

    Set once on the field and validator classes (marshmallow merges these defaults along the
    class hierarchy when a field is made), so every schema of the API answers alike; a schema
    may still give a field its own, more specific message.
    """
    f, v = ma.fields, ma.validate
    f.Field.default_error_messages.update(
        {"required": "必填。", "null": "不能为空。", "validator_failed": "取值无效。"})
    f.String.default_error_messages.update({"invalid": "须为文本。", "invalid_utf8": "须为有效的 UTF-8 文本。"})
    f.Number.default_error_messages.update({"invalid": "须为数字。", "too_large": "数值太大。"})
    f.Integer.default_error_messages.update({"invalid": "须为整数。"})
    for cls in (f.Decimal, f.Float):
        cls.default_error_messages.update({"special": "须为有限的数值。"})
    f.Boolean.default_error_messages.update({"invalid": "须为 true 或 false。"})
    f.Date.default_error_messages.update(
        {"invalid": "日期格式须为 YYYY-MM-DD。", "format": "“{input}”无法表示为日期。"})
    f.DateTime.default_error_messages.update(
        {"invalid": "时间格式须为 ISO 8601。", "invalid_awareness": "时间须带时区。",
         "format": "“{input}”无法表示为时间。"})
    f.List.default_error_messages.update({"invalid": "须为列表。"})
    f.Tuple.default_error_messages.update({"invalid": "须为列表。"})
    f.Mapping.default_error_messages.update({"invalid": "须为对象。"})
    f.Nested.default_error_messages.update({"type": "须为对象。"})
    f.Email.default_error_messages.update({"invalid": "不是有效的邮箱地址。"})
    f.Url.default_error_messages.update({"invalid": "不是有效的网址。"})
    v.Range.message_min = "须{min_op} {{min}}。"
    v.Range.message_max = "须{max_op} {{max}}。"
    v.Range.message_all = "须{min_op} {{min}}，且{max_op} {{max}}。"
    v.Range.message_gt, v.Range.message_gte = "大于", "不小于"
    v.Range.message_lt, v.Range.message_lte = "小于", "不大于"
    v.Length.message_min = "长度不能少于 {min}。"
    v.Length.message_max = "长度不能超过 {max}。"
    v.Length.message_all = "长度须在 {min} 到 {max} 之间。"
    v.Length.message_equal = "长度须为 {equal}。"
    v.OneOf.default_message = "须为以下之一：{choices}。"
    v.Regexp.default_message = "格式不正确。"
    v.Equal.default_message = "须等于 {other}。"


_chinese_field_messages()
# a date in a JSON body or a query string is YYYY-MM-DD, as the contract writes it (marshmallow's
# ISO reader also takes "20261206" and "2026-W49-6")
ma.fields.Date.DESERIALIZATION_FUNCS = {**ma.fields.Date.DESERIALIZATION_FUNCS, "iso": iso_day, "iso8601": iso_day}


class JsonBoolean(ma.fields.Boolean):
    """A boolean in a JSON body: ``true`` or ``false`` only. marshmallow's Boolean also takes
    ``1``, ``"yes"`` or ``"on"`` (and ``0 == False`` even with ``truthy={True}``), so ``0`` could
    switch a setting off where another field of the same API refused it."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class LocalTime(ma.fields.DateTime):
    """A stored instant as ISO 8601 with the local (Asia/Shanghai) offset; SQLite hands back naive UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        return iso_local(value)


class ErrorBody(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "machine-readable code"})
    message = ma.fields.String(required=True, metadata={"description": "human-readable message"})
    fields = ma.fields.Dict(metadata={"description": "field errors, field name -> messages"})


class ErrorSchema(ma.Schema):
    """The error shape of every API error."""

    error = ma.fields.Nested(ErrorBody, required=True)


class Api(_Api):
    """flask-smorest's Api with the app's own error handling (see app.api.errors)."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = "DEFAULT_ERROR"

    def _register_error_handlers(self):  # errors are handled app-wide in app.api.errors
        return None



def _unstorable(value) -> str | None:
    """Why no column can store ``value`` (a NUL character, a whole number beyond 32 bits), if so."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not -MAX_INT - 1 <= value <= MAX_INT:
        return "数值超出范围。"
    if isinstance(value, str) and "\x00" in value:
        return "不能包含空字符。"
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple)):
        return next((p for p in map(_unstorable, value) if p), None)
    return None


class Schema(ma.Schema):
    """Base schema: unknown fields are ignored, so clients can send more than we read."""

    class Meta:
        unknown = ma.EXCLUDE
        ordered = True

    error_messages = {"type": "请求体须为 JSON 对象。", "unknown": "未知字段。"}

    @ma.validates_schema
    def _storable(self, data, **_kwargs):
        """A 422 field error, not a database error, for values that SQLite or PostgreSQL refuse."""
        errors = {name: [problem] for name, value in data.items() if (problem := _unstorable(value))}
        if errors:
            raise ma.ValidationError(errors)


_LOAD_HOOKS = ("pre_load", "post_load")


def _static_defaults(schema: ma.Schema) -> bool:
    """Whether loading ``{}`` gives the same result every time (no callable defaults, no load hooks)."""
    hooks = schema._hooks  # noqa: SLF001 - {tag or (tag, many): [...]}, by marshmallow version
    if any((key[0] if isinstance(key, tuple) else key) in _LOAD_HOOKS and hooks[key] for key in hooks):
        return False
    return not any(callable(f.load_default) for f in schema.fields.values())


def _first_unencodable(data) -> str | None:
    """The first string in a decoded JSON body (keys included) that is not valid Unicode text
    (a lone surrogate escape such as ``"\\ud800"``) or holds a control character no column or
    workbook takes (but tab and line breaks), shown escaped; None when all are fine."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if CONTROL_CHARACTERS.search(item.replace("\x00", "")):  # NUL: each field says why
                return item[:40].encode("unicode_escape").decode("ascii")
            if item.isascii():
                continue
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item[:40].encode("utf-8", "backslashreplace").decode("ascii", "replace")
    return None


class JsonParser(FlaskParser):
    """webargs' parser, with JSON nested too deeply to decode answered as malformed (400).

    A request without a query string loads a query schema's defaults: the same dict every time,
    so it is loaded once per schema and copied (the most-read routes are mostly called bare).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # id(argmap) -> (argmap, its defaults, or None when loading {} may vary and is done each time)
        self._bare_query: dict[int, tuple[object, dict | None]] = {}

    def parse(self, argmap, req=None, *, location=None, **kwargs):
        bare = (location == "query" and not kwargs.get("validate") and not (req or request).args
                and (isinstance(argmap, ma.Schema) or isinstance(argmap, type) and issubclass(argmap, ma.Schema)))
        if bare:
            cached = self._bare_query.get(id(argmap))
            if cached is None or cached[0] is not argmap:
                data = super().parse(argmap, req, location=location, **kwargs)
                schema = argmap() if isinstance(argmap, type) else argmap
                static = _static_defaults(schema) and all(isinstance(v, (int, str, type(None))) for v in data.values())
                self._bare_query[id(argmap)] = (argmap, data if static else None)
                return dict(data) if static else data
            if cached[1] is not None:
                return dict(cached[1])
        return super().parse(argmap, req, location=location, **kwargs)

    def _raw_load_json(self, req):
        if not is_json_request(req) and (req.content_length or req.get_data(cache=True)):
            # a body the API would not read: answering as if none came would "succeed" at nothing
            raise UnsupportedMediaType("请求体须为 JSON（Content-Type: application/json）。")
        try:
            data = super()._raw_load_json(req)
        except (RecursionError, ValueError) as exc:  # ValueError: an integer past Python's digit limit
            self._handle_invalid_json_error(exc, req)
        if not_text := _first_unencodable(data):
            # "\ud800" is valid JSON but not text: nothing could store or hash it
            raise DomainError(f"请求体含有无效的字符（{not_text}），请删除后重试。", code="malformed_json")
        return data


class Blueprint(_Blueprint):
    ARGUMENTS_PARSER = JsonParser()


ERROR_DESCRIPTIONS = {
    400: "malformed JSON",
    401: "no, bad or revoked token (bad credentials for /auth/token)",
    403: "outside your role or scope",
    404: "unknown",
    409: "conflict with the current state",
    429: "rate limited",
}


def error_responses(blp: Blueprint, *statuses: int):
    """Document a route's error answers, each in the error shape, in the OpenAPI document."""

    def decorator(view):
        for status in statuses:
            view = blp.alt_response(status, schema=ErrorSchema, description=ERROR_DESCRIPTIONS[status])(view)
        return view

    return decorator


def make_blueprint(name: str, import_name: str, description: str = "") -> Blueprint:
    return Blueprint(name, import_name, url_prefix="/api/v1", description=description)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def token_required(*roles: str):
    """Require a live bearer token (and one of ``roles`` when given); sets ``g.api_user``."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            from app.auth.services import user_and_marks_for_token, user_for_token
            from app.marks import prefetch_marks
            from app.readonly import is_read_only_request, wants_own_path_marks

            if is_read_only_request():
                # nothing in the request moves the marks: read them along with the token
                user, marks = user_and_marks_for_token(bearer_token() or "", own_path=wants_own_path_marks())
                prefetch_marks(marks)
            else:
                user = user_for_token(bearer_token() or "")
            if user is None:
                raise Unauthorized("缺少或无效的访问令牌。", code="invalid_token")
            if roles and user.role not in roles:
                raise Forbidden("您的角色无权进行此操作。", code="forbidden_role")
            g.api_user = user
            return view(*args, **kwargs)

        wrapped._token_roles = roles  # noqa: SLF001 - read by the OpenAPI security hook
        return wrapped

    return decorator


def current_api_user():
    return g.api_user


def json_response(body, status: int = 200):
    """Send a body that is already JSON-ready (numbers as numbers, dates as text) as is.

    flask-smorest passes a Response through untouched, so the route's ``@blp.response`` schema
    still documents it while the hot read paths skip a second, field-by-field serialization.
    """
    response = current_app.json.response(body)
    response.status_code = status
    return response


def page_args(default_limit: int = 50, max_limit: int = 200):
    """The ?limit=&offset= pair of every list, validated."""

    class PageArgs(Schema):
        limit = ma.fields.Integer(load_default=default_limit, validate=ma.validate.Range(1, max_limit))
        offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(0, 10_000_000))

    return PageArgs


def init_app(app) -> Api:
    """Bind a new Api (and so a new OpenAPI document) to ``app``."""
    from app.api import errors

    api = Api(spec_kwargs={"info": {"description": "先锋指数 phone-client API. Every error answers "
                                                   "{\"error\": {\"code\", \"message\", \"fields\"?}}."}})
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearerAuth": []}]
    errors.init_app(app)
    return api
