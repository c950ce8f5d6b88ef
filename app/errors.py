"""One error family, rendered as application/problem+json (RFC 9457).

Every error has a stable English `code` for machines and a Chinese `title` and
`detail` for the bureau clerk; `errors` lists each problem with where it is
(a field path, or a file's row and column).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

PROBLEM_JSON = "application/problem+json"


class ProblemItem(BaseModel):
    """One thing that was wrong, and where."""

    loc: list[str | int] = Field(default_factory=list, description="Field path, e.g. body.uscc")
    message: str = Field(description="中文说明")
    code: str | None = Field(default=None, description="Stable English code of this problem")
    row: int | None = Field(default=None, description="Row number in an imported file")
    column: str | None = Field(default=None, description="Column letter and header")
    value: str | None = Field(default=None, description="The offending value, as received")


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is answered."""

    type: str = "about:blank"
    status: int
    code: str = Field(description="Stable English error code")
    title: str = Field(description="中文标题")
    detail: str = Field(description="中文说明")
    errors: list[ProblemItem] = Field(default_factory=list)
    errors_total: int | None = Field(
        default=None,
        description="How many problems there are in all, when errors lists only the first",
    )


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    """A problem as the HTTP answer: its status, application/problem+json."""
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


class DomainError(Exception):
    """Base of every error the service reports to a client."""

    status = 400
    code = "bad_request"
    title = "请求有误"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[ProblemItem] | None = None,
        code: str | None = None,
        errors_total: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.errors_total = errors_total
        if code is not None:
            # A more precise stable code than the family's, e.g. "duplicate_uscc".
            self.code = code

    def problem(self) -> Problem:
        """This error as a problem document."""
        return Problem(
            type=f"urn:shuangsui:error:{self.code}",
            status=self.status,
            code=self.code,
            title=self.title,
            detail=self.detail,
            errors=self.errors,
            errors_total=self.errors_total,
        )


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "未找到"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "与现有数据冲突"


class InvalidInput(DomainError):
    status = 422
    code = "invalid_input"
    title = "输入数据不合规"


class ImportRejected(DomainError):
    status = 422
    code = "import_rejected"
    title = "导入文件有误，未写入任何数据"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    title = "未认证"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "无权操作"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"
    title = "文件过大"


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": text}
    for status, text in (
        (400, "请求有误"),
        (401, "未认证：缺少、无效、过期或已吊销的 API 密钥"),
        (403, "无权操作：该角色不能访问此地址"),
        (404, "未找到"),
        (409, "与现有数据冲突"),
        (413, "文件过大"),
        (422, "输入数据不合规"),
    )
}


# Chinese wording of Pydantic's error types, for request bodies and imported rows.
_MESSAGES: dict[str, str] = {
    "missing": "必填项缺失",
    "extra_forbidden": "不认识的字段",
    "string_type": "应为文字",
    "string_too_short": "过短，至少 {min_length} 个字符",
    "string_too_long": "过长，最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不符",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "bool_type": "应为是或否",
    "bool_parsing": "应为是或否（是/否、true/false）",
    "date_type": "应为日期，格式 YYYY-MM-DD",
    "date_parsing": "应为日期，格式 YYYY-MM-DD",
    "date_from_datetime_parsing": "应为日期，格式 YYYY-MM-DD",
    "date_from_datetime_inexact": "应为日期，不含时刻",
    "datetime_parsing": "应为时间，格式 YYYY-MM-DDTHH:MM:SS+08:00",
    "timezone_aware": "时间须带时区，如 2026-03-02T09:30:00+08:00",
    "greater_than_equal": "应不小于 {ge}",
    "less_than_equal": "应不大于 {le}",
    "greater_than": "应大于 {gt}",
    "less_than": "应小于 {lt}",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "json_invalid": "请求体不是合法的 JSON",
    "literal_error": "应为以下之一：{expected}",
    "enum": "应为以下之一：{expected}",
}


def chinese_message(error: Mapping[str, Any]) -> str:
    """A Pydantic error as a sentence a clerk understands."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    template = _MESSAGES.get(kind)
    if template is None:
        return f"输入不合规：{error.get('msg', '')}"
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template.split("，")[0]
