"""Plan specifications and draw views.

A plan's `spec` says, in the directory's own terms, what a draw's frame will
hold: strata (filters and a quota each), exclusions, inspector rules and an
optional cross-enforcement pairing. Freezing turns it into a draw/1 frame.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from app import reference as ref
from app.draws.beacon import Beacon
from app.draws.sources.ceremony_time import CeremonyAt, Witnesses
from app.draws.sources.dice import DiceAnnouncement
from app.draws.sources.dice_drand import DiceDrandAnnouncement
from app.draws.sources.drand import DrandAnnouncement
from app.pools.schemas import CountyCode, Sectors, Text
from app.schemas import DiceDigits, OutcomeCode, documented
from app.text import CleanInput

_STRATUM_ID = r"^[a-z0-9_-]{1,64}$"
_DECIMAL = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]+)?$")


def _ratio(value: str) -> str:
    if not _DECIMAL.match(value):
        raise ValueError(f"比例“{value}”应写成小数，如 0.2（表示 20%）")
    from fractions import Fraction

    if not 0 < Fraction(value) <= 1:
        raise ValueError(f"比例“{value}”应大于 0 且不大于 1")
    return value


Ratio = Annotated[str, AfterValidator(_ratio)]


def _codes(terms: tuple[ref.Term, ...], what: str) -> AfterValidator:
    index = ref.term_index(terms)

    def check(values: list[str]) -> list[str]:
        out = []
        for value in values:
            code = index.get(value)
            if code is None:
                raise ValueError(f"未知的{what}“{value}”")
            out.append(code)
        return out

    return AfterValidator(check)


Subtypes = Annotated[list[str], _codes(ref.ALL_SUBTYPES, "企业类别")]
Statuses = Annotated[list[str], _codes(ref.STATUSES, "经营状态")]
RiskGrades = Annotated[list[str], _codes(ref.RISK_GRADES, "风险等级")]
TagCodes = Annotated[list[str], _codes(ref.TAGS, "标签")]


class StratumFilter(CleanInput):
    """Which enterprises of the directory a stratum draws from (all conditions hold)."""

    model_config = ConfigDict(extra="forbid")

    sector: Sectors = Field(default_factory=list, description="行业领域（任一）")
    subtype: Subtypes = Field(default_factory=list, description="企业类别（任一）")
    county_in: list[CountyCode] = Field(default_factory=list, description="限于这些县市区")
    county_not_in: list[CountyCode] = Field(default_factory=list, description="排除这些县市区")
    status: Statuses = Field(default_factory=list, description="经营状态（任一）；空为不限")
    risk_grade: RiskGrades = Field(default_factory=list, description="风险等级（任一）")
    tags_all: TagCodes = Field(default_factory=list, description="须同时具备的标签")
    tags_any: TagCodes = Field(default_factory=list, description="至少具备其一的标签")
    tags_none: TagCodes = Field(default_factory=list, description="不得具备的标签")
    key_supervision: bool | None = Field(default=None, description="是否重点监管；空为不限")


class PerGroup(CleanInput):
    """Take k (or a ratio) in every group, optionally from m groups only."""

    model_config = ConfigDict(extra="forbid")

    by: Literal["county"] = Field(default="county", description="分组属性：县市区")
    count: int | None = Field(default=None, ge=1, le=100_000)
    ratio: Ratio | None = None
    max_groups: int | None = Field(default=None, ge=1, le=1000, description="先随机抽取的组数")

    @model_validator(mode="after")
    def _one_rule(self) -> PerGroup:
        if (self.count is None) == (self.ratio is None):
            raise ValueError("每组须且只能规定 count（家数）或 ratio（比例）之一")
        return self


class StratumSpec(CleanInput):
    """One stratum: a filter, exactly one quota rule, optionally clustered units."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=_STRATUM_ID, description="分层编号，如 hazchem-songmu")
    label: Text = Field(min_length=1, max_length=100, description="分层名称（中文）")
    filter: StratumFilter
    count: int | None = Field(default=None, ge=1, le=1_000_000, description="抽取家数")
    ratio: Ratio | None = Field(default=None, description="抽取比例，向上取整")
    per_group: PerGroup | None = Field(default=None, description="每县抽取")
    cluster_by: Literal["pair_key"] | None = Field(
        default=None, description="按配对键成对抽取（如高速服务区两侧加油站）"
    )
    exclude_key_enforcement_counties_of: Subtypes = Field(
        default_factory=list,
        description="本分层不从这些类别的重点执法企业所在县市区抽取（如 2024 年烟花爆竹批发）",
    )

    @model_validator(mode="after")
    def _one_rule(self) -> StratumSpec:
        rules = [r for r in (self.count, self.ratio, self.per_group) if r is not None]
        if len(rules) != 1:
            raise ValueError(f"分层 {self.id} 须且只能规定 count、ratio、per_group 之一")
        return self


class Exclusions(CleanInput):
    """Who is kept out of the frame before it is frozen (each recorded with counts)."""

    model_config = ConfigDict(extra="forbid")

    inspected_in_month: bool = Field(
        default=True, description="排除计划月份内已有检查（市、县或其他抽查）的企业"
    )
    key_enforcement: bool = Field(default=True, description="排除重点执法名单内的企业")
    cycle_start: date | None = Field(
        default=None,
        description="优先抽取本轮（自该日起）尚未检查的企业；若因此不足则放宽并注明",
    )


class InspectorRules(CleanInput):
    """Who may inspect, and how teams are formed."""

    model_config = ConfigDict(extra="forbid")

    team_size: int = Field(default=2, ge=2, le=10, description="每组人数，法定不少于 2 人")
    units: list[str] = Field(default_factory=list, description="可选派的单位；空为不限")
    lead_units: list[str] = Field(default_factory=list, description="组长须来自的单位")
    differ_on: list[Literal["county"]] = Field(
        default_factory=list, description="须与企业不同的属性（如 county：不查本县）"
    )
    max_per_inspector: int | None = Field(default=None, ge=1, le=100, description="每人最多")
    specialty: str | None = Field(default=None, description="须具备的专业领域（行业代码）")
    exclude_last_inspectors: bool = Field(
        default=True, description="排除该企业上一次抽查时的检查人员"
    )

    @model_validator(mode="after")
    def _units(self) -> InspectorRules:
        for unit in [*self.units, *self.lead_units]:
            if unit not in ref.ORGANISATION_NAMES:
                raise ValueError(f"未知的单位“{unit}”")
        if self.specialty is not None and self.specialty not in ref.term_codes(ref.SECTORS):
            raise ValueError(f"未知的专业领域“{self.specialty}”")
        return self


class CrossTeam(CleanInput):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[^\s:]{1,64}$", description="执法组编号，如 team-衡南县")
    home: CountyCode = Field(description="执法组所在县市区")


class CrossSpec(CleanInput):
    """Cross-enforcement: county teams paired with other counties, never their own."""

    model_config = ConfigDict(extra="forbid")

    teams: list[CrossTeam] = Field(min_length=2)
    targets: list[CountyCode] = Field(min_length=2)

    @model_validator(mode="after")
    def _sizes(self) -> CrossSpec:
        if len(self.teams) != len(self.targets):
            raise ValueError("交叉执法的执法组数须与被检查县市区数相同")
        return self


class PlanSpec(CleanInput):
    model_config = ConfigDict(extra="forbid")

    strata: list[StratumSpec] = Field(default_factory=list, max_length=100)
    exclusions: Exclusions = Field(default_factory=Exclusions)
    inspectors: InspectorRules | None = None
    cross: CrossSpec | None = None

    @model_validator(mode="after")
    def _unique_ids(self) -> PlanSpec:
        ids = [s.id for s in self.strata]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"分层编号重复：{'、'.join(duplicates)}")
        if not self.strata and self.cross is None:
            raise ValueError("计划至少须有一个分层，或为交叉执法计划")
        return self


_MONTH = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"


class PlanFields(CleanInput):
    model_config = ConfigDict(extra="forbid")

    title: Text | None = Field(default=None, min_length=2, max_length=200)
    year: int | None = Field(default=None, ge=2000, le=2100)
    quarter: int | None = Field(default=None, ge=1, le=4)
    sector: str | None = None
    lead_unit: str | None = None
    planned_month: str | None = Field(
        default=None, pattern=_MONTH, description="计划检查月份 YYYY-MM"
    )
    inspection_date: date | None = Field(
        default=None, description="计划检查日期（核对执法证有效期）"
    )
    spec: PlanSpec | None = None


# A plan's spec as stored (a PlanSpec as JSON), served as it is.
PlanSpecJson = Annotated[dict[str, Any], documented(PlanSpec)]


class PlanCreate(PlanFields):
    title: Text = Field(min_length=2, max_length=200, description="计划名称")
    year: int = Field(ge=2000, le=2100)
    planned_month: str = Field(pattern=_MONTH, description="计划检查月份 YYYY-MM")
    spec: PlanSpec


class PlanUpdate(PlanFields):
    version: int | None = None


class PlanOut(BaseModel):
    id: int
    title: str
    year: int
    quarter: int | None
    sector: str | None
    lead_unit: str | None
    planned_month: str
    inspection_date: date | None
    template_key: str | None
    spec: PlanSpecJson
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int
    draws: list[str] = Field(description="该计划的抽查编号")


class FreezeRequest(CleanInput):
    model_config = ConfigDict(extra="forbid")

    seed: DiceAnnouncement | DrandAnnouncement | DiceDrandAnnouncement = Field(
        discriminator="source",
        description=(
            "随机种子来源：dice 现场摇号；drand 公共随机信标；"
            "dice+drand 现场摇号再加其后一轮 drand 信标（推荐：任何一方乃至在场各方合谋都无法左右结果）"
        ),
    )
    replaces: str | None = Field(
        default=None,
        description="被替代的抽查编号：计划已有抽查时必填，须为该计划最近一次、已撤销或失败的抽查",
    )


class DiceReveal(CleanInput):
    """The digits read out at the ceremony, and which announced witnesses are present."""

    model_config = ConfigDict(extra="forbid")

    digits: DiceDigits = Field(description="按顺序连接的骰子点数，至少 20 位，可用空格分组")
    witnesses: Witnesses


class SeedConfirmation(CleanInput):
    """The digits again, entered by a witness without seeing the operator's entry."""

    model_config = ConfigDict(extra="forbid")

    digits: DiceDigits = Field(description="见证人按现场记录再次录入的骰子点数")


class Withdrawal(CleanInput):
    """The operator takes back an entry of digits not yet confirmed."""

    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=4, max_length=500, description="撤回理由（记入经办历史）")


class Reschedule(CleanInput):
    """A public postponement of the announced ceremony, made before its time."""

    model_config = ConfigDict(extra="forbid")

    ceremony_at: CeremonyAt
    reason: Text = Field(min_length=4, max_length=500, description="改期理由（公开）")


DrandReveal = Beacon


class Annul(CleanInput):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=4, max_length=500, description="撤销理由（公开）")
    decided_by: Text = Field(min_length=2, max_length=100, description="决定人或决定机关")


_OUTCOME_CODES = ref.term_index(ref.OUTCOMES)


def _outcome(value: str) -> str:
    code = _OUTCOME_CODES.get(value)
    if code is None:
        raise ValueError(
            f"未知的检查结果“{value}”，应为：{'、'.join(t.label for t in ref.OUTCOMES)}"
        )
    return code


class OutcomeCreate(CleanInput):
    """The outcome of inspecting one drawn enterprise."""

    model_config = ConfigDict(extra="forbid")

    uscc: Annotated[
        str, Field(min_length=18, max_length=18, description="被抽中企业的统一社会信用代码")
    ]
    outcome: Annotated[
        str,
        AfterValidator(_outcome),
        # Codes, or their Chinese labels as a clerk writes them.
        WithJsonSchema(
            {
                "type": "string",
                "enum": [t.code for t in ref.OUTCOMES] + [t.label for t in ref.OUTCOMES],
            }
        ),
    ] = Field(description="no_problem 未发现问题 / rectify 责令限期整改 / case_filed 立案查处")
    inspected_on: date = Field(description="检查日期")
    note: Text = Field(default="", max_length=500, description="说明（公开）")
    publish: bool = Field(default=False, description="同时公开（记入公开日志）")


class OutcomeOut(BaseModel):
    draw: str
    unit: str
    uscc: str
    outcome: OutcomeCode
    outcome_label: str
    inspected_on: date
    note: str
    recorded_by: str
    recorded_at: datetime
    published_at: datetime | None
    log_index: int | None
