"""Named schemas of the draw answers: the draw (DrawOut), the verification
bundle, its frame and result, seed details, failures, announcements,
provenance, fairness, preview.

These answers are built as plain JSON by the ceremony's code (the frame and
the result are exactly the bytes the log committed), so the models describe
them for the OpenAPI document and for generated clients; the routes serve the
JSON they always did (DrawOut keeps those parts as the stored JSON, documented
by name). Each model names every field that is stable and refuses
unknown ones (extra="forbid"), so that tests/test_answer_schemas.py, which
reads real answers through them, fails if an answer drifts from its schema.
Where a field is genuinely open it says so: an enterprise's attributes in a
frame, a log entry's body (fields per kind), a failure's details.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.draws.beacon import Beacon
from app.draws.listing import DrawnUnit
from app.draws.sources import SourceName
from app.draws.status import DrawStatus
from app.ledger.answers import LogEntryBody
from app.schemas import documented


class _Closed(BaseModel):
    """A documented answer: every field named, none unknown."""

    model_config = ConfigDict(extra="forbid")


# -- the frame (draw/1) ----------------------------------------------------------

# What a frame says of one unit; the algorithm reads county, unit and members only.
UnitAttrs = dict[str, str | list[str]]


class FrameUnit(_Closed):
    key: str = Field(description="抽取单元：统一社会信用代码，或配对键")
    attrs: UnitAttrs | None = Field(
        default=None,
        description="单元属性：county 县市区名称、subtype 企业类别、members 配对成员等（开放）",
    )


class FramePerGroup(_Closed):
    by: str = Field(description="分组属性，如 county")
    count: int | None = None
    ratio: str | None = None
    max_groups: int | None = None


class FrameStratum(_Closed):
    id: str
    units: list[FrameUnit]
    count: int | None = None
    ratio: str | None = Field(default=None, description="比例，小数字符串")
    per_group: FramePerGroup | None = None


class FrameInspector(_Closed):
    key: str = Field(description="检查人员编号")
    attrs: UnitAttrs | None = Field(default=None, description="county 县市区、unit 单位等")


class FrameInspectors(_Closed):
    pool: list[FrameInspector]
    team_size: int
    max_per_inspector: int | None = None
    lead_units: list[str] | None = None
    differ_on: list[str] | None = None
    conflicts: list[list[str]] | None = Field(
        default=None, description="回避关系：[检查人员, 单元]"
    )


class FrameCrossTeam(_Closed):
    key: str
    home: str


class FrameCross(_Closed):
    teams: list[FrameCrossTeam]
    targets: list[str]


class DrawFrame(_Closed):
    """The frame as committed (draw/1): its SHA-256 over RFC 8785 JSON is frame_hash."""

    algorithm: str = Field(description="算法标识，如 draw/1")
    strata: list[FrameStratum]
    inspectors: FrameInspectors | None = None
    cross: FrameCross | None = None


# -- the result ------------------------------------------------------------------


class SelectedUnit(_Closed):
    key: str
    ticket: str = Field(description="抽签号（由种子与单元键导出，十六进制）")


class ResultStratum(_Closed):
    id: str
    selected: list[SelectedUnit]
    groups: list[str] | None = Field(default=None, description="per_group 先抽中的组")


class Assignment(_Closed):
    unit: str
    inspectors: list[str]


class CrossPair(_Closed):
    team: str
    target: str


class DrawResult(_Closed):
    """The draw's result: its SHA-256 over RFC 8785 JSON is result_hash."""

    algorithm: str
    frame_hash: str
    seed: str
    strata: list[ResultStratum]
    assignments: list[Assignment] | None = None
    pairs: list[CrossPair] | None = None


# -- what was announced, how the seed came, how a draw failed or was annulled ------


class Announcement(_Closed):
    """What the commitment announced of the seed: a ceremony, a drand round, or both."""

    source: SourceName
    ceremony_at: str | None = Field(default=None, description="现场摇号时间（RFC 3339）")
    digits_until: str | None = Field(default=None, description="录入骰子点数的截止时间")
    witnesses: list[str] | None = None
    chain: str | None = Field(default=None, description="drand 链哈希（quicknet）")
    round: int | None = Field(default=None, description="约定的 drand 轮次")
    round_time: str | None = None
    round_delay_seconds: int | None = None


class SeedDetail(_Closed):
    """How the seed came: the digits and who entered and confirmed them, the beacon."""

    digits: str | None = None
    witnesses: list[str] | None = None
    entered_by: str | None = None
    confirmed_by: str | None = None
    round: int | None = Field(default=None, description="drand：信标轮次")
    randomness: str | None = None
    signature: str | None = None
    beacon: Beacon | None = Field(default=None, description="dice+drand：其后一轮的信标")
    beacon_by: str | None = None


class DrawFailure(_Closed):
    """Why a seeded draw could not complete (recorded in the log as well)."""

    error: str = Field(description="稳定的错误代码，如 quota_infeasible")
    details: dict[str, str | int | bool | None] = Field(description="按错误代码而定的细节（开放）")
    message: str


class Annulment(_Closed):
    reason: str
    decided_by: str
    entered_by: str
    previous_status: DrawStatus


class CoverageRule(StrEnum):
    APPLIED = "applied"
    RELAXED = "relaxed"


class StratumProvenance(_Closed):
    id: str
    label: str
    matched: int = Field(description="符合条件的企业数")
    excluded: dict[str, int] = Field(description="按理由排除的企业数")
    eligible: int
    coverage: CoverageRule | None = Field(
        description="本轮未检查优先：applied 已适用 / relaxed 已放宽"
    )


class ExclusionsApplied(_Closed):
    inspected_in_month: bool
    key_enforcement: bool
    cycle_start: str | None


class InspectorProvenance(_Closed):
    inspection_day: str = Field(description="核对执法证有效期所用的检查日期")
    pool: int
    conflicts_recorded: int
    conflicts_last_inspectors: int


class Provenance(_Closed):
    """How the frame was arrived at from the directories, with counts."""

    planned_month: str
    exclusions: ExclusionsApplied
    strata: list[StratumProvenance]
    inspectors: InspectorProvenance | None = None


# The fields of DrawOut, the same JSON as before, documented by name.
AnnouncementJson = Annotated[dict[str, Any], documented(Announcement)]
ProvenanceJson = Annotated[dict[str, Any], documented(Provenance)]
SeedDetailJson = Annotated[dict[str, Any], documented(SeedDetail)]
ResultJson = Annotated[dict[str, Any], documented(DrawResult)]
FailureJson = Annotated[dict[str, Any], documented(DrawFailure)]
AnnulmentJson = Annotated[dict[str, Any], documented(Annulment)]


# -- a draw as the API gives it -------------------------------------------------------


class DrawOut(BaseModel):
    public_id: str
    plan_id: int
    title: str
    status: DrawStatus = Field(
        description="frozen 已冻结 / done 已出结果 / failed 失败 / annulled 已撤销"
    )
    frame_hash: str
    seed_source: SourceName = Field(description="种子来源：dice / drand / dice+drand")
    announcement: AnnouncementJson
    provenance: ProvenanceJson
    seed: str | None
    seed_detail: SeedDetailJson | None
    awaiting_witness: bool = Field(
        description="骰子点数已由经办人员录入，待见证人再次录入确认后产生种子"
    )
    awaiting_beacon: bool = Field(
        description="dice+drand：骰子点数已确认并记入日志，待约定的 drand 轮次发布后产生种子"
    )
    replaced_by: str | None = Field(description="替代本抽查的抽查编号")
    result: ResultJson | None
    result_hash: str | None
    failure: FailureJson | None
    annulment: AnnulmentJson | None
    replaces: str | None
    frozen_by: str
    frozen_at: datetime
    seeded_at: datetime | None
    annulled_at: datetime | None
    log_entries: list[int] = Field(description="该抽查在公开日志中的条目序号")
    units: list[DrawnUnit] = Field(
        default_factory=list, description="抽中的企业：名称、县市区、类别（按结果顺序）"
    )


# -- the verification bundle -------------------------------------------------------


class BundleEntry(_Closed):
    index: int = Field(description="条目序号")
    entry: LogEntryBody
    entry_b64: str = Field(description="条目原文（RFC 8785 JSON）的 base64，叶哈希据此计算")
    inclusion_proof: list[str] = Field(description="对 tree_size 的包含证明（base64 哈希）")


class BundleCosignature(_Closed):
    """One witness's cosignature of the bundle's checkpoint; the line itself is in the checkpoint."""

    witness: str = Field(description="见证人的密钥名")
    key_id: str = Field(description="见证人密钥编号（4 字节，十六进制）")
    timestamp: int = Field(description="见证人联署的时间（Unix 秒）")


class BundleLog(_Closed):
    origin: str
    verifier_key: str
    checkpoint: str = Field(description="签名检查点（C2SP signed note）")
    tree_size: int
    root_hash: str
    entries: list[BundleEntry]
    cosignatures: list[BundleCosignature] = Field(
        description="检查点所带的见证人联署（C2SP cosignature/v1），按见证人名排序"
    )


class DrawBundle(_Closed):
    """Everything anyone needs to re-run and check one draw."""

    format: Literal["shuangsui-bundle/1"]
    draw: str
    frame: DrawFrame
    frame_hash: str
    seed: str | None
    result: DrawResult | None
    result_hash: str | None
    failure: DrawFailure | None
    status: DrawStatus
    annulment: Annulment | None
    replaces: str | None
    replaced_by: str | None
    seed_detail: SeedDetail | None
    announcement: Announcement
    log: BundleLog


# -- fairness and preview -----------------------------------------------------------


class UnitProbability(_Closed):
    model_config = ConfigDict(extra="forbid", validate_by_name=True, serialize_by_alias=True)

    key: str
    county_name: str | None = Field(alias="county")
    probability: str = Field(description="被抽中的确切概率，分数，如 3/17")
    percent: str = Field(description="百分比（仅供阅读，四舍五入到两位小数）")


class StratumFairness(_Closed):
    id: str
    units: list[UnitProbability]


class DrawFairness(_Closed):
    draw: str
    frame_hash: str
    strata: list[StratumFairness]


class PlanPreview(_Closed):
    feasible: bool
    problem: str | None = Field(description="不可行时的原因")
    provenance: Provenance
    units: dict[str, int] = Field(description="各分层的单元数")
