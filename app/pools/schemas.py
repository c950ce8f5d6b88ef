"""Request and response bodies of the directories.

The same input models validate API bodies and imported rows, so a file and a
form are held to one rule and give one message.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from app import reference as ref
from app.pools.cells import term_form
from app.pools.uscc import InvalidUSCC, validate_uscc
from app.schemas import (
    InspectionKindCode,
    RiskGradeCode,
    SectorCode,
    StatusCode,
    SubtypeCode,
    TagCode,
)
from app.text import CleanInput

# Stripped by pydantic-core itself: a Python validator would be called for
# every field of every row of a million-row import.
Stripped = StringConstraints(strip_whitespace=True)


def _uscc(value: str) -> str:
    try:
        return validate_uscc(value)
    except InvalidUSCC as exc:
        raise ValueError(exc.message) from exc


def _county_code(value: str) -> str:
    county = ref.county_of(value)
    if county is None:
        names = "、".join(c.name for c in ref.COUNTIES)
        raise ValueError(f"未知的县市区“{value}”，应为：{names}")
    return county.code


def _term(terms: tuple[ref.Term, ...], what: str) -> AfterValidator:
    codes = ref.term_index(terms)

    def check(value: str) -> str:
        code = codes.get(value) or codes.get(term_form(value))
        if code is None:
            choices = "、".join(t.label for t in terms)
            raise ValueError(f"未知的{what}“{value}”，应为：{choices}")
        return code

    return AfterValidator(check)


def _terms(terms: tuple[ref.Term, ...], what: str) -> AfterValidator:
    index = ref.term_index(terms)

    def check(values: list[str]) -> list[str]:
        codes: list[str] = []
        for value in values:
            code = index.get(value) or index.get(term_form(value))
            if code is None:
                choices = "、".join(t.label for t in terms)
                raise ValueError(f"未知的{what}“{value}”，应为：{choices}")
            codes.append(code)
        return sorted(set(codes))

    return AfterValidator(check)


def _split_list(value: Any) -> Any:
    # Files carry lists as "重大危险源、危险化工工艺" (or with ; , ，；).
    if isinstance(value, str):
        for sep in "、，；;,|":
            value = value.replace(sep, " ")
        return value.split()
    return value


Text = Annotated[str, Stripped]
USCC = Annotated[str, Stripped, AfterValidator(_uscc)]
CountyCode = Annotated[str, Stripped, AfterValidator(_county_code)]
Sector = Annotated[str, Stripped, _term(ref.SECTORS, "行业领域")]
Subtype = Annotated[str, Stripped, _term(ref.ALL_SUBTYPES, "企业类别")]
Status = Annotated[str, Stripped, _term(ref.STATUSES, "经营状态")]
RiskGrade = Annotated[str, Stripped, _term(ref.RISK_GRADES, "风险等级")]
Tags = Annotated[list[str], BeforeValidator(_split_list), _terms(ref.TAGS, "标签")]
Sectors = Annotated[list[str], BeforeValidator(_split_list), _terms(ref.SECTORS, "专业领域")]
InspectionKind = Annotated[str, Stripped, _term(ref.INSPECTION_KINDS, "检查类型")]
KeyText = Annotated[str, Stripped, Field(pattern=r"^[^\s:]+$", max_length=64)]


def _organisation(value: str) -> str:
    if value not in ref.ORGANISATION_NAMES:
        names = "、".join(sorted(ref.ORGANISATION_NAMES))
        raise ValueError(f"未知的单位“{value}”，应为：{names}")
    return value


OrganisationName = Annotated[str, Stripped, AfterValidator(_organisation)]


class EnterpriseFields(CleanInput):
    """What a clerk may set on an enterprise; all optional for partial updates."""

    model_config = ConfigDict(extra="forbid", str_max_length=300)

    name: Text | None = Field(default=None, min_length=2, max_length=200, description="企业名称")
    county_code: CountyCode | None = Field(
        default=None, alias="county", description="县市区代码或名称，如 430422 或 衡南县"
    )
    sector: Sector | None = Field(default=None, description="行业领域代码，缺省时由企业类别推出")
    subtype: Subtype | None = Field(default=None, description="企业类别代码，如 gas_station")
    status: Status | None = Field(default=None, description="经营状态代码")
    risk_grade: RiskGrade | None = Field(default=None, description="风险等级 A/B/C/D")
    key_supervision: bool | None = Field(default=None, description="是否重点监管")
    tags: Tags | None = Field(default=None, description="标签代码列表")
    pair_key: KeyText | None = Field(
        default=None, description="高速公路服务区加油站的配对键，同一对两站相同"
    )
    address: Text | None = Field(default=None, max_length=300, description="地址")

    @model_validator(mode="after")
    def _consistent(self) -> EnterpriseFields:
        if self.subtype and self.sector is None:
            self.sector = ref.SECTOR_OF_SUBTYPE[self.subtype]
        if self.subtype and self.sector != ref.SECTOR_OF_SUBTYPE[self.subtype]:
            raise ValueError(f"企业类别“{self.subtype}”不属于行业领域“{self.sector}”")
        return self


class EnterpriseCreate(EnterpriseFields):
    """A new enterprise: code, name, county and subtype are required."""

    uscc: USCC = Field(description="统一社会信用代码（18位，含校验位）")
    name: Text = Field(min_length=2, max_length=200, description="企业名称")
    county_code: CountyCode = Field(alias="county", description="县市区代码或名称")
    subtype: Subtype = Field(description="企业类别代码")
    status: Status = Field(default="operating", description="经营状态代码")
    key_supervision: bool = False
    tags: Tags = Field(default_factory=list)
    address: Text = Field(default="", max_length=300)

    @model_validator(mode="after")
    def _pair(self) -> EnterpriseCreate:
        if "highway_station" in self.tags and not self.pair_key:
            raise ValueError("高速公路服务区加油站须填写配对键（同一服务区两侧加油站相同）")
        return self


class EnterpriseUpdate(EnterpriseFields):
    """A partial update; `version` guards against overwriting someone else's change."""

    version: int | None = Field(default=None, description="读取时的版本号；不一致时拒绝更新")


class Retire(CleanInput):
    """Why a record leaves the active directory."""

    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=2, max_length=200, description="注销或移出原因")


class EnterpriseOut(BaseModel):
    """An enterprise as the directory holds it."""

    # Built in code by field names (county_code), always written by the public
    # names (county), whatever serialises it.
    model_config = ConfigDict(from_attributes=True, validate_by_name=True, serialize_by_alias=True)

    id: int
    uscc: str
    name: str
    county_code: str = Field(alias="county", description="县市区代码")
    county_name: str
    sector: SectorCode
    subtype: SubtypeCode
    status: StatusCode
    risk_grade: RiskGradeCode | None
    key_supervision: bool
    tags: list[TagCode]
    pair_key: str | None
    address: str
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None
    retired_reason: str | None
    version: int


class InspectorFields(CleanInput):
    """What may be set on an inspector; all optional for partial updates."""

    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(default=None, min_length=2, max_length=64, description="姓名")
    cert_valid_from: date | None = Field(default=None, description="执法证有效期起")
    cert_valid_to: date | None = Field(default=None, description="执法证有效期止")
    organisation: OrganisationName | None = Field(
        default=None, alias="unit", description="所属单位"
    )
    county_code: CountyCode | None = Field(default=None, alias="county", description="所在县市区")
    specialties: Sectors | None = Field(default=None, description="专业领域（行业领域代码）")
    active: bool | None = Field(default=None, description="是否在岗")
    phone: Annotated[str, Stripped, Field(pattern=r"^[0-9+\- ]{5,20}$")] | None = Field(
        default=None, description="联系电话（不公开）"
    )

    @model_validator(mode="after")
    def _dates(self) -> InspectorFields:
        if (
            self.cert_valid_from
            and self.cert_valid_to
            and self.cert_valid_to < self.cert_valid_from
        ):
            raise ValueError("执法证有效期止早于有效期起")
        return self


class InspectorCreate(InspectorFields):
    """A new inspector."""

    name: Text = Field(min_length=2, max_length=64, description="姓名")
    cert_no: Annotated[str, Stripped, Field(pattern=r"^[0-9A-Za-z\-]{4,32}$")] = Field(
        description="执法证号（唯一）"
    )
    cert_valid_from: date
    cert_valid_to: date
    organisation: OrganisationName = Field(alias="unit")
    specialties: Sectors = Field(default_factory=list)
    active: bool = True


class InspectorUpdate(InspectorFields):
    version: int | None = Field(default=None, description="读取时的版本号；不一致时拒绝更新")


class InspectorOut(BaseModel):
    # Built in code by field names (county_code), always written by the public
    # names (county), whatever serialises it.
    model_config = ConfigDict(from_attributes=True, validate_by_name=True, serialize_by_alias=True)

    id: int
    name: str
    cert_no: str
    cert_valid_from: date
    cert_valid_to: date
    organisation: str = Field(alias="unit")
    county_code: str | None = Field(alias="county")
    specialties: list[SectorCode]
    active: bool
    phone: str | None = Field(description="联系电话（仅内部可见）")
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None
    version: int


class ConflictCreate(CleanInput):
    """A recusal pair. Name the parties by id, or by certificate number and USCC."""

    model_config = ConfigDict(extra="forbid")

    inspector_id: int | None = None
    cert_no: str | None = Field(default=None, description="执法证号（可代替 inspector_id）")
    enterprise_id: int | None = None
    uscc: USCC | None = Field(default=None, description="统一社会信用代码（可代替 enterprise_id）")
    reason: Text = Field(min_length=2, max_length=200, description="回避原因")
    valid_from: date
    valid_to: date | None = None

    @model_validator(mode="after")
    def _parties(self) -> ConflictCreate:
        if (self.inspector_id is None) == (self.cert_no is None):
            raise ValueError("须且只能提供 inspector_id 或 cert_no 之一")
        if (self.enterprise_id is None) == (self.uscc is None):
            raise ValueError("须且只能提供 enterprise_id 或 uscc 之一")
        if self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("回避结束日期早于开始日期")
        return self


class ConflictUpdate(CleanInput):
    model_config = ConfigDict(extra="forbid")

    reason: Text | None = Field(default=None, min_length=2, max_length=200)
    valid_to: date | None = None
    version: int | None = None


class ConflictOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    inspector_id: int
    cert_no: str
    inspector_name: str
    enterprise_id: int
    uscc: str
    enterprise_name: str
    reason: str
    valid_from: date
    valid_to: date | None
    version: int


class InspectionCreate(CleanInput):
    """An inspection done or scheduled, by the city, a county or anyone."""

    model_config = ConfigDict(extra="forbid")

    uscc: USCC = Field(description="被检查企业的统一社会信用代码")
    inspected_on: date = Field(description="检查日期（计划日期亦可）")
    kind: InspectionKind = Field(description="检查类型代码")
    source: Text = Field(min_length=2, max_length=100, description="检查单位或来源系统")
    note: Text = Field(default="", max_length=500)


class InspectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    enterprise_id: int
    uscc: str
    enterprise_name: str
    inspected_on: date
    kind: InspectionKindCode
    source: str
    note: str
    created_at: datetime
