"""The columns of the import files and templates, and what each cell may hold."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app import reference as ref
from app.pools.uscc import check_digit

# Columns that bureaus' sheets often carry and that mean nothing to the directory.
IGNORED_HEADERS = frozenset({"序号", "编号", "备注说明"})


@dataclass(frozen=True, slots=True)
class Column:
    """One column of an import file and its template."""

    header: str
    field: str
    required: bool = False
    text: bool = False  # a code: must stay text in Excel
    kind: str = "str"  # "str" | "bool" | "date"
    example: str = ""
    help: str = ""
    choices: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = ()
    # How clerks' spellings are brought to the stored form: "code" (full-width
    # to ASCII), "term" (a vocabulary label's brackets), "county" (衡阳市 prefix).
    form: str = ""
    # Whether the clear marker（清空）may empty the stored value, and what it is then.
    clearable: bool = False
    empty: str | None = None


_YES_NO = ("是", "否")
# The template's example code: a valid one (its check character computed), so
# that the template imports as downloaded.
_EXAMPLE_USCC = "91430422MA4L12345" + check_digit("91430422MA4L12345")

ENTERPRISE_COLUMNS: tuple[Column, ...] = (
    Column(
        "统一社会信用代码",
        "uscc",
        True,
        True,
        example=_EXAMPLE_USCC,
        help="18位，含校验位；请保持文本格式",
        aliases=("信用代码", "社会信用代码"),
        form="code",
    ),
    Column("企业名称", "name", True, example="衡南县示例加油站有限公司", aliases=("单位名称",)),
    Column(
        "县市区",
        "county_code",
        True,
        example="衡南县",
        help="县市区或园区名称（可带“衡阳市”），亦可填代码",
        choices=tuple(c.name for c in ref.COUNTIES),
        aliases=("所属县市区", "区县"),
        form="county",
    ),
    Column(
        "行业领域",
        "sector",
        example="危险化学品",
        help="可不填，由企业类别推出",
        choices=tuple(t.label for t in ref.SECTORS),
        form="term",
    ),
    Column(
        "企业类别",
        "subtype",
        True,
        example="加油站",
        choices=tuple(t.label for t in ref.ALL_SUBTYPES),
        aliases=("类别", "企业类型"),
        form="term",
    ),
    Column(
        "经营状态",
        "status",
        example="正常生产经营",
        help="不填为正常生产经营",
        choices=tuple(t.label for t in ref.STATUSES),
        form="term",
    ),
    Column(
        "风险等级",
        "risk_grade",
        example="B",
        help="A（低）至 D（重大）；填“（清空）”可清除",
        choices=tuple(t.code for t in ref.RISK_GRADES),
        form="term",
        clearable=True,
    ),
    Column("重点监管", "key_supervision", kind="bool", example="否", choices=_YES_NO),
    Column(
        "标签",
        "tags",
        example="重大危险源、危险化工工艺",
        help="多个用顿号分隔：" + "、".join(t.label for t in ref.TAGS) + "；填“（清空）”可清除",
        form="term",
        clearable=True,
        empty="",
    ),
    Column(
        "配对键",
        "pair_key",
        text=True,
        example="",
        help="高速公路服务区两侧加油站填写相同的配对键，如 pair-G4-hengshan",
        form="code",
        clearable=True,
    ),
    Column("地址", "address", example="衡南县云集街道示例路1号", clearable=True, empty=""),
)

INSPECTOR_COLUMNS: tuple[Column, ...] = (
    Column("姓名", "name", True, example="张三"),
    Column(
        "执法证号",
        "cert_no",
        True,
        True,
        example="HN-0431-0021",
        help="唯一；请保持文本格式",
        form="code",
    ),
    Column("执法证有效期起", "cert_valid_from", True, kind="date", example="2024-01-01"),
    Column("执法证有效期止", "cert_valid_to", True, kind="date", example="2028-12-31"),
    Column(
        "所属单位",
        "organisation",
        True,
        example="执法支队",
        choices=tuple(o.name for o in ref.ORGANISATIONS),
        form="term",
    ),
    Column(
        "县市区",
        "county_code",
        example="石鼓区",
        choices=tuple(c.name for c in ref.COUNTIES),
        form="county",
        clearable=True,
    ),
    Column(
        "专业领域",
        "specialties",
        example="危险化学品、烟花爆竹",
        help="多个用顿号分隔：" + "、".join(t.label for t in ref.SECTORS),
        form="term",
        clearable=True,
        empty="",
    ),
    Column("在岗", "active", kind="bool", example="是", choices=_YES_NO),
    Column(
        "联系电话",
        "phone",
        text=True,
        example="13800000000",
        help="不公开",
        form="code",
        clearable=True,
    ),
)

INSPECTION_COLUMNS: tuple[Column, ...] = (
    Column(
        "统一社会信用代码",
        "uscc",
        True,
        True,
        example=_EXAMPLE_USCC,
        aliases=("信用代码", "社会信用代码"),
        form="code",
    ),
    Column("检查日期", "inspected_on", True, kind="date", example="2025-06-18"),
    Column(
        "检查类型",
        "kind",
        True,
        example="县级检查",
        choices=tuple(t.label for t in ref.INSPECTION_KINDS),
        form="term",
    ),
    Column("检查单位", "source", True, example="衡南县应急管理局", aliases=("来源",)),
    Column("备注", "note", example="", clearable=True, empty=""),
)


def header_test(columns: Sequence[Column]) -> Callable[[Sequence[str]], bool]:
    """Whether a row of a file is the header: it names every required column
    (by its header or an alias), so a title or a note above it is not."""
    required = [frozenset((c.header, *c.aliases)) for c in columns if c.required]

    def is_header(cells: Sequence[str]) -> bool:
        names = set(cells)
        return all(names & choices for choices in required)

    return is_header
