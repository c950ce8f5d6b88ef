"""Schemas shared across features: pages of results, dice digits, the
reference data, fields documented by a named schema."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Path
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from app import reference as ref

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    total: int = Field(description="Matching records in all pages")
    page: int
    page_size: int


MAX_PAGE_SIZE = 500

# Bounds that every database accepts: a number past them names nothing.
MAX_RECORD_ID = 2**31 - 1
RecordId = Annotated[int, Path(ge=1, le=MAX_RECORD_ID, description="记录编号")]


MIN_DICE_DIGITS = 20
MAX_DICE_DIGITS = 200
# What may stand between groups of digits: spaces, tabs, line breaks, commas, dashes.
_SEPARATORS = " \t\r\n\u3000,，、-"
_DIGIT_GROUPING = re.compile(f"[{re.escape(_SEPARATORS)}]+")
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def _compact_digits(value: Any) -> Any:
    # Digits are read out and typed in groups: "3827 4619 2837", or full-width.
    if isinstance(value, str):
        return _DIGIT_GROUPING.sub("", value.translate(_FULL_WIDTH_DIGITS))
    return value


def _dice_rule(value: str) -> str:
    if not value.isascii() or not value.isdigit():
        wrong = next(c for c in value if not ("0" <= c <= "9"))
        raise ValueError(f"骰子点数只能是数字 0-9，其中有“{wrong}”")
    if len(value) < MIN_DICE_DIGITS:
        raise ValueError(f"骰子点数至少 {MIN_DICE_DIGITS} 位数字，实为 {len(value)} 位")
    if len(value) > MAX_DICE_DIGITS:
        raise ValueError(f"骰子点数最多 {MAX_DICE_DIGITS} 位数字，实为 {len(value)} 位")
    return value


# The dice digits of a ceremony, as read out: spaces, commas and dashes
# between groups are dropped, full-width digits read as digits.
DiceDigits = Annotated[
    str,
    BeforeValidator(_compact_digits),
    AfterValidator(_dice_rule),
    WithJsonSchema(
        {
            "type": "string",
            # Exactly what is accepted: 20 to 200 digits, with separators anywhere.
            "pattern": f"^[{_SEPARATORS}]*(?:[0-9０-９][{_SEPARATORS}]*)"
            f"{{{MIN_DICE_DIGITS},{MAX_DICE_DIGITS}}}$",
            "description": f"按顺序连接的骰子点数，{MIN_DICE_DIGITS} 至 {MAX_DICE_DIGITS} 位数字；"
            "可用空格分组",
            "examples": ["3827 4619 2837 4652 9183"],
        }
    ),
]


def _one_of(terms: tuple[ref.Term, ...], what: str) -> AfterValidator:
    """Refuses a value that is not a code of `terms`, listing the allowed ones."""
    allowed = frozenset(t.code for t in terms)
    listed = "、".join(f"{t.code}（{t.label}）" for t in terms)

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"未知的{what}代码“{value}”，应为：{listed}")
        return value

    return AfterValidator(check)


def _enum(terms: tuple[ref.Term, ...], what: str) -> WithJsonSchema:
    """Documents the codes of `terms` as an enum, for generated clients."""
    labels = "；".join(f"{t.code}：{t.label}" for t in terms)
    return WithJsonSchema(
        {
            "type": "string",
            "enum": [t.code for t in terms],
            "description": f"{what}代码（{labels}）",
        }
    )


# The codes of each vocabulary, as filters take them and answers give them.
SectorCode = Annotated[str, _one_of(ref.SECTORS, "行业领域"), _enum(ref.SECTORS, "行业领域")]
SubtypeCode = Annotated[
    str, _one_of(ref.ALL_SUBTYPES, "企业类别"), _enum(ref.ALL_SUBTYPES, "企业类别")
]
StatusCode = Annotated[str, _one_of(ref.STATUSES, "经营状态"), _enum(ref.STATUSES, "经营状态")]
RiskGradeCode = Annotated[
    str, _one_of(ref.RISK_GRADES, "风险等级"), _enum(ref.RISK_GRADES, "风险等级")
]
TagCode = Annotated[str, _one_of(ref.TAGS, "标签"), _enum(ref.TAGS, "标签")]
InspectionKindCode = Annotated[
    str, _one_of(ref.INSPECTION_KINDS, "检查类型"), _enum(ref.INSPECTION_KINDS, "检查类型")
]
OutcomeCode = Annotated[str, _one_of(ref.OUTCOMES, "检查结果"), _enum(ref.OUTCOMES, "检查结果")]


# -- fields served as stored JSON, documented by a named schema ------------------

# The key app.openapi replaces by a $ref to the named schema.
NAMED_SCHEMA = "x-named-schema"
# The models so documented, for app.openapi to put in the document's components.
DOCUMENTED: dict[str, type[BaseModel]] = {}


def documented(model: type[BaseModel]) -> WithJsonSchema:
    """Documents a field kept as the JSON stored (a dict) as the named schema
    `model`, for generated clients; what the field holds is not changed."""
    DOCUMENTED[model.__name__] = model
    return WithJsonSchema({"type": "object", NAMED_SCHEMA: model.__name__})


class RecordSnapshot(BaseModel):
    """A record's fields as the history stored them, before or after a change.
    Open: the fields are those of the record's kind (enterprise, inspector,
    plan, draw step...)."""

    model_config = ConfigDict(extra="allow")


RecordSnapshotJson = Annotated[dict[str, Any], documented(RecordSnapshot)]

# A field's value as an import or a history shows it: codes, dates as text, tag lists.
FIELD_VALUE_SCHEMA = WithJsonSchema(
    {
        "anyOf": [
            {"type": "string"},
            {"type": "integer"},
            {"type": "boolean"},
            {"type": "array", "items": {"type": "string"}},
            {"type": "null"},
        ]
    }
)


# -- the reference data -------------------------------------------------------------


class _Reference(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CountyRef(_Reference):
    code: str = Field(description="县市区代码")
    name: str
    full_name: str = Field(description="全称，如 衡阳市珠晖区")
    kind: Literal["district", "county", "city", "park"]


class TermRef(_Reference):
    code: str
    label: str


class SubtypeRef(TermRef):
    sector: str = Field(description="所属行业领域代码")


class UnitRef(_Reference):
    model_config = ConfigDict(extra="forbid", validate_by_name=True, serialize_by_alias=True)

    name: str
    kind: Literal["section", "detachment", "brigade", "county_bureau"]
    county_code: str | None = Field(alias="county", description="所在县市区代码；市局科室为空")


class ReferenceData(_Reference):
    """The code tables: counties, sectors, subtypes, statuses, tags, units."""

    counties: list[CountyRef]
    sectors: list[TermRef]
    subtypes: list[SubtypeRef]
    statuses: list[TermRef]
    risk_grades: list[TermRef]
    tags: list[TermRef]
    inspection_kinds: list[TermRef]
    units: list[UnitRef]


class PageQuery(BaseModel):
    """Which page of a list to answer."""

    model_config = ConfigDict(extra="forbid")

    page: int = Field(default=1, ge=1, le=1_000_000, description="页码，从 1 开始")
    page_size: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE, description="每页条数")

    def of(self, items: Sequence[T]) -> Page[T]:
        """This page of a list held whole (a record's history, the few API keys)."""
        start = (self.page - 1) * self.page_size
        return Page(
            items=list(items[start : start + self.page_size]),
            total=len(items),
            page=self.page,
            page_size=self.page_size,
        )


class ChangeOut(BaseModel):
    """One entry of a record's history."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    actor: str = Field(description="经办人（API 密钥名称），如“王某（省执法系统）”")
    actor_key_id: int | None = Field(
        default=None, description="做出变更的 API 密钥的编号；命令行操作为空"
    )
    at: datetime
    import_id: int | None
    before: RecordSnapshotJson | None
    after: RecordSnapshotJson | None
