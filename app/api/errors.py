"""One error shape for the API, readable Chinese pages for everything else."""
from __future__ import annotations

import logging

from flask import flash, jsonify, redirect, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from app.errors import DomainError
from app.extensions import db

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}

HTTP_MESSAGES = {
    400: "请求格式有误。",
    401: "请先登录。",
    403: "您无权进行此操作。",
    404: "您要找的内容不存在。",
    405: "不支持该请求方法。",
    409: "操作与当前状态冲突。",
    413: "上传的内容太大。",
    415: "不支持的内容类型。",
    422: "提交的内容有误。",
    429: "操作太频繁，请稍后再试。",
    500: "服务器出了点问题，请稍后再试。",
    503: "数据库连接中断，请稍后重试。",
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, code: str, message: str, fields: dict | None = None, headers=None):
    body = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    response = jsonify(body)
    response.status_code = status
    if headers:
        response.headers.extend(headers)
    return response


def error_page(status: int, message: str):
    return render_template("error.html", status=status, message=message), status


def _webargs_fields(data: dict) -> dict:
    """Flatten webargs' {location: {field: [..]}} to {field: [..]}."""
    messages = data.get("messages") or {}
    fields: dict = {}
    for location_errors in messages.values():
        if isinstance(location_errors, dict):
            fields.update(location_errors)
        else:
            fields.setdefault("_schema", []).extend(location_errors)
    return fields


def handle_domain_error(exc: DomainError):
    if wants_json():
        return error_response(exc.status, exc.code, exc.message, exc.fields)
    return error_page(exc.status, exc.message)


def handle_http_exception(exc: HTTPException):
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    headers = data.get("headers") or (exc.get_headers() if status in (405, 429) else None)
    if wants_json():
        code = HTTP_CODES.get(status, "error")
        message = HTTP_MESSAGES.get(status, exc.description or "error")
        fields = _webargs_fields(data) if data else None
        if status == 400 and fields and any("Invalid JSON" in str(m) for m in fields.get("_schema", [])):
            return error_response(400, "malformed_json", "请求体不是有效的 JSON。")
        if status == 400 and fields and "json" in (data.get("messages") or {}) and not isinstance(
            data["messages"]["json"], dict
        ):
            return error_response(400, "malformed_json", "请求体不是有效的 JSON。")
        if status == 405 and headers is None:
            headers = exc.get_headers()
        return error_response(status, code, message, fields or None,
                              headers=[h for h in (headers or []) if h[0].lower() != "content-type"])
    if isinstance(exc, CSRFError):
        if (back := _same_site_referrer()) is not None:
            # the form's page again, fresh, with a word why (a session lost in the WeChat browser,
            # a form left open overnight): not a dead end; nothing of the refused post was done
            flash("页面已过期，请重新填写后再提交。", "error")
            return redirect(back, 303)
        return error_page(400, "页面已过期或表单无效，请返回刷新后重试。")
    return error_page(status, HTTP_MESSAGES.get(status, exc.description or "出错了。"))


def _same_site_referrer() -> str | None:
    """The path (and query) of the page a form was posted from, when it is a page of this site."""
    from urllib.parse import urlsplit

    referrer = request.headers.get("Referer") or ""
    parts = urlsplit(referrer)
    if request.method != "POST" or not parts.path.startswith("/") or parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        # The database dropped the connection (a restart); the pool has been invalidated, so
        # the client's retry gets a fresh connection.
        log.warning("database connection lost on %s %s: %s", request.method, request.path, exc.orig)
        db.session.rollback()
        if wants_json():
            return error_response(503, HTTP_CODES[503], HTTP_MESSAGES[503], headers=[("Retry-After", "1")])
        return error_page(503, HTTP_MESSAGES[503])
    log.exception("unhandled error on %s %s", request.method, request.path)
    if wants_json():
        return error_response(500, "internal_error", HTTP_MESSAGES[500])
    return error_page(500, HTTP_MESSAGES[500])


def init_app(app) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
