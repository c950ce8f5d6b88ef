"""One error family, rendered as application/problem+json (RFC 9457).

Every error has a stable English `code` for machines and a Chinese `title` and
`detail` for the bureau clerk; `errors` lists each problem with where it is
(a field path, or a file's row and column).
"""

from __future__ import annotations

import re
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
    # Seconds after which asking again may succeed (a Retry-After header), if so.
    retry_after: int | None = None

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
    "timezone_aware": "时间须带时区（北京时间写作 +08:00，如 2024-06-03T10:00:00+08:00）",
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
    "union_tag_invalid": "“{tag}”不是可选的类型：{discriminator} 应为以下之一：{expected_tags}",
    "union_tag_not_found": "缺少区分类型的字段 {discriminator}",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "decimal_parsing": "应为数字",
    "int_from_float": "应为整数",
    "int_parsing_size": "整数超出范围",
    "finite_number": "应为有限的数",
    "multiple_of": "应为 {multiple_of} 的倍数",
    "datetime_type": "应为时间，格式 YYYY-MM-DDTHH:MM:SS+08:00",
    "datetime_from_date_parsing": "应为时间，格式 YYYY-MM-DDTHH:MM:SS+08:00",
    "time_parsing": "应为时刻，格式 HH:MM:SS",
    "string_unicode": "应为 UTF-8 文字",
    "string_sub_type": "应为文字",
    "bytes_type": "应为文字或文件内容",
    "json_type": "应为 JSON 文字",
    "url_parsing": "应为网址",
    "url_type": "应为网址",
    "uuid_parsing": "应为 UUID",
    "set_type": "应为列表",
    "tuple_type": "应为列表",
    "iterable_type": "应为列表",
    "model_attributes_type": "应为对象",
    "dict_attributes_type": "应为对象",
    "is_instance_of": "类型不符",
    "none_required": "应为空",
    "frozen_field": "不可修改",
    "missing_argument": "必填项缺失",
}

# Character classes of the API's patterns, in words.
_CHARSETS = {
    "0-9": "数字",
    "0-9a-f": "小写十六进制字符（0-9、a-f）",
    "0-9A-Za-z\\-": "字母、数字或连字符",
}
_SIMPLE_PATTERN = re.compile(r"^\^\[([^\]]+)\]\{(\d+)(?:,(\d+))?\}\$$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Messages of the framework's own checks, for which no Chinese exists upstream.
_FRAMEWORK_VALUE_ERRORS = {
    "Expected UploadFile": "应为上传的文件（multipart/form-data 中的 file 字段）",
}


def _pattern_rule(pattern: str) -> str:
    """A pattern as a rule a person reads: "^[0-9]{64}$" -> "应为 64 位数字"."""
    match = _SIMPLE_PATTERN.match(pattern)
    if match is None or match.group(1) not in _CHARSETS:
        return f"格式不符（应符合 {pattern}）"
    what, low, high = _CHARSETS[match.group(1)], match.group(2), match.group(3)
    if high is None:
        return f"应为 {low} 位{what}"
    return f"应为 {low} 至 {high} 位{what}"


# Pydantic's error types whose stable code here says more plainly what to fix.
_CODES = {"timezone_aware": "timezone_required"}


def error_code(error: Mapping[str, Any]) -> str:
    """A Pydantic error's stable code."""
    kind = str(error.get("type", "invalid"))
    return _CODES.get(kind, kind)


def _listed(choices: Any) -> Any:
    """Pydantic's English enumeration ("'a', 'b' or 'c'") as a Chinese one (a、b、c)."""
    quoted = re.findall(r"'([^']*)'", str(choices))
    return "、".join(quoted) if quoted else choices


def chinese_message(error: Mapping[str, Any]) -> str:
    """A Pydantic error as a sentence a clerk understands."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        text = str(ctx["error"])
        if _CJK.search(text):
            return text
        return next((c for e, c in _FRAMEWORK_VALUE_ERRORS.items() if e in text), "输入不合规")
    if kind == "string_pattern_mismatch" and "pattern" in ctx:
        return _pattern_rule(str(ctx["pattern"]))
    template = _MESSAGES.get(kind)
    if template is None:
        return "输入不合规"
    ctx = {k: _listed(v) if k in ("expected", "expected_tags") else v for k, v in ctx.items()}
    if kind in ("literal_error", "enum") and isinstance(error.get("input"), str):
        return f"“{error['input']}”不是可选值，" + template.format(**ctx)
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template.split("，")[0]
